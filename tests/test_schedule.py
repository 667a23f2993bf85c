"""Scheduled crawls keep their promises (issue 20), end to end on the sample forum served at 4
threads a list page (sample_forum.listing_pages): forum 2's list has 4 pages, forum 3's 3,
forum 4's 2; 30 threads, 344 posts (sample_forum/v1/TRUTH.json).

- a run a limit (max_threads, since) stops leaves its walks open: repeated, or followed by a
  run without it, the archive is complete;
- each refresh policy costs what it names, and the README's table of costs is what the crawls
  measure;
- a bad argument is refused before anything is fetched or opened.
"""

import math
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlite_utils import Database

from sample_forum import serve
from tests.test_readme import table_after
from tests.test_recrawl import V1, stored, visible

ROOT = Path(__file__).parent.parent
TPP = 4  # threads a list page
THREADS = len(V1["threads"])
LIST_PAGES = {2: 4, 3: 3, 4: 2}  # forum -> list pages at TPP
SUMMARY = re.compile(
    r"Run (\w+): (\d+) requests; threads read: (\d+) new, (\d+) changed, (\d+) re-read by the refresh;"
    r" (?:no forum walk left open|(\d+) forum walks? left open \(([\w, ]+): the next runs go on\));"
    r" (?:no failed page|(\d+) failed pages? \(the next run asks again\))"
)


@pytest.fixture(scope="module")
def forum():
    with serve("v1", threads_per_page=TPP) as running:
        yield running


def crawl(forum, scrapy_crawl, db_path, *arguments, check=True, settings=None):
    """One run from the index: (the server's request paths, the crawl's result)."""
    forum.clear_requests()
    result = scrapy_crawl(db_path, f"url={forum.base_url}forum.php", *arguments, check=check, settings=settings)
    return forum.requests, result


def summary(result) -> tuple:
    """The figures of the run's last log line (``result``: the crawl's, or a log's text)."""
    log = result if isinstance(result, str) else result.stderr
    found = SUMMARY.findall(log)
    assert len(found) == 1, log[-2000:]
    outcome, requests, new, changed, refreshed, walks, because, failed = found[0]
    return outcome, int(requests), int(new), int(changed), int(refreshed), int(walks or 0), because or None, int(failed or 0)


def last_crawl(db_path) -> tuple:
    row = list(Database(db_path).query("SELECT * FROM crawls ORDER BY id DESC LIMIT 1"))[0]
    return tuple(row[key] for key in ("outcome", "requests", "new_threads", "changed_threads", "refreshed_threads",
                                      "open_walks", "open_because", "failed_pages"))


def thread_pages(requests) -> list[str]:
    return [path for path in requests if path.startswith("/thread-")]


def list_pages(requests) -> list[str]:
    return [path for path in requests if path.startswith("/forum-")]


def test_max_threads_repeated_completes_the_archive(forum, scrapy_crawl, tmp_path):
    """k threads a run: ⌈T/k⌉ runs read every thread once, one more finds nothing left and
    closes the walks; the summary line and the crawls row say so, run by run."""
    k, db_path = 8, tmp_path / "archive.db"
    runs = [crawl(forum, scrapy_crawl, db_path, f"max_threads={k}") for _ in range(math.ceil(THREADS / k) + 1)]
    assert stored(Database(db_path)) == visible(V1)
    read = [thread_pages(requests) for requests, _ in runs]
    assert sum(len(pages) for pages in read) == len({page for pages in read for page in pages}) == 51  # each page once
    figures = [summary(result) for _, result in runs]
    assert [new for _, _, new, *_ in figures] == [8, 8, 8, 6, 0]
    assert [(walks > 0, because) for *_, walks, because, _ in figures[:3]] == [(True, "max_threads")] * 3
    assert figures[-1][5:] == (0, None, 0)
    assert last_crawl(db_path) == figures[-1]
    assert figures[-1][1] == len(runs[-1][0]) == 2 + len(LIST_PAGES)  # walks closed: a plain run again
    # the README's row: 2 requests (the first run 3), list pages, and the threads' pages, no more
    db = Database(db_path)
    for number, (requests, _) in enumerate(runs[:-1]):
        tids = ", ".join(sorted({path.split("-")[1] for path in thread_pages(requests)}))
        pages = db.execute(f"SELECT sum(page_count) FROM articles WHERE tid IN ({tids})").fetchone()[0]
        assert len(thread_pages(requests)) == pages and len(list_pages(requests)) <= sum(LIST_PAGES.values())
        assert len(requests) == (3 if number == 0 else 2) + len(list_pages(requests)) + pages, requests
    rows = Database(db_path).execute("SELECT count(*) FROM forums WHERE walk_open_because IS NOT NULL").fetchone()
    assert rows == (0,)


def test_since_then_without_it_completes_the_archive_and_since_is_the_forums_time(forum, scrapy_crawl, tmp_path):
    """since=2023-11-11T11:11 is the forum's 11:11 (+08:00): the thread last active then is in;
    read as UTC (19:11 there) it would not be. With max_threads too, then since alone, then
    neither: the limits in any mix, and the archive is complete. since again on the complete
    archive (a daily cron line) costs a plain run and leaves no walk open: the older threads
    its lists show are all archived (forum 4's first list page shows one, and the run said
    "1 forum walk left open (since: …)" every time)."""
    db_path = tmp_path / "archive.db"
    assert "2023-11-11T11:11:00+08:00" in {thread["lastpost_iso"] for thread in V1["threads"]}
    recent = {thread["tid"] for thread in V1["threads"] if thread["lastpost_iso"] >= "2023-11-11T11:11"}
    read = []
    for arguments in (("since=2023-11-11T11:11", "max_threads=5"), ("since=2023-11-11T11:11",), ()):
        requests, result = crawl(forum, scrapy_crawl, db_path, *arguments)
        read.append(({int(path.split("-")[1]) for path in thread_pages(requests)}, summary(result)))
    (first, limited), (second, since), (last, plain) = read
    assert len(first) == limited[2] == 5 and first | second == recent and not first & second
    assert limited[6] == "max_threads, since" and since[6] == "since"
    assert last == {thread["tid"] for thread in V1["threads"]} - recent
    assert stored(Database(db_path)) == visible(V1)
    assert plain[5:] == (0, None, 0)
    requests, result = crawl(forum, scrapy_crawl, db_path, "since=2023-11-11T11:11")
    assert summary(result)[1:] == (2 + len(LIST_PAGES), 0, 0, 0, 0, None, 0) == (len(requests), *last_crawl(db_path)[2:])


def test_what_a_scheduled_run_costs_is_the_readmes_table(forum, scrapy_crawl, tmp_path):
    """Each row of the README's table with a figure for the sample forum, measured; oldest:N and
    recent:DAYS walk as a plain run does, only refresh=all walks every list page; recent:DAYS
    re-reads, whole, the threads active in those days and no other (the table's recent:7 finds
    none: it only shows the walk's cost)."""
    db_path = tmp_path / "archive.db"
    table = {row[0]: row[2] for row in table_after("## Scheduled crawls")}
    measured = {}
    # recent:7 after oldest:30: threads re-read by a refresh are archived as they were listed
    for name, arguments in (("the first", ()), ("again, nothing changed", ()), ("`refresh=oldest:30`", ("refresh=oldest:30",)),
                            ("`refresh=recent:7`", ("refresh=recent:7",)), ("`refresh=all`", ("refresh=all",))):
        requests, result = crawl(forum, scrapy_crawl, db_path, *arguments)
        measured[name] = (len(requests), requests, summary(result))
    assert {name: str(count) for name, (count, _, _) in measured.items()} == {name: table[name] for name in measured}
    plain = measured["again, nothing changed"][1]
    assert len(list_pages(plain)) == len(LIST_PAGES)
    oldest = measured["`refresh=oldest:30`"]
    assert sorted(list_pages(oldest[1])) == sorted(list_pages(plain)) and oldest[2][4] == 30  # the walk a plain run's, 30 threads re-read
    assert len(list_pages(measured["`refresh=all`"][1])) == sum(LIST_PAGES.values())
    assert stored(Database(db_path)) == visible(V1)
    # recent:DAYS with threads active in those days (the sample forum's last week of activity
    # began on 2026-11-25, the one before it in 2025): a plain run, and those threads read whole
    days = (datetime.now(timezone.utc) - datetime.fromisoformat("2026-11-25T00:00:00+08:00")).days + 1
    active = {thread["tid"] for thread in V1["threads"]
              if datetime.fromisoformat(thread["lastpost_iso"]) >= datetime.now(timezone.utc) - timedelta(days=days)}
    requests, result = crawl(forum, scrapy_crawl, db_path, f"refresh=recent:{days}")
    assert len(active) == 8 and {int(path.split("-")[1]) for path in thread_pages(requests)} == active
    pages = Database(db_path).execute(
        f"SELECT sum(page_count) FROM articles WHERE tid IN ({', '.join(map(str, active))})").fetchone()[0]
    assert sorted(list_pages(requests)) == sorted(list_pages(plain)) and len(thread_pages(requests)) == pages
    assert summary(result)[1:6] == (len(plain) + pages, 0, 0, len(active), 0)
    # since on a new archive: each list down to the first thread before that day (forum 2's and
    # 3's second pages, forum 4's first), and the threads active since then
    since = "2024-01-01"
    requests, _ = crawl(forum, scrapy_crawl, tmp_path / "since.db", f"since={since}")
    active = {thread["tid"] for thread in V1["threads"] if thread["lastpost_iso"] >= since}
    pages = Database(db_path).execute(
        f"SELECT sum(page_count) FROM articles WHERE tid IN ({', '.join(map(str, active))})").fetchone()[0]
    assert {int(path.split("-")[1]) for path in thread_pages(requests)} == active and len(thread_pages(requests)) == pages
    assert sorted(list_pages(requests)) == ["/forum-2-1.html", "/forum-2-2.html", "/forum-3-1.html", "/forum-3-2.html", "/forum-4-1.html"]
    assert str(len(requests)) == str(3 + 5 + pages) == table[f"`since={since}`, the first"]


BAD = {  # argument: bad values (the first is also tried through the command)
    "refresh": ["bogus", "recent:", "oldest:x", "recent:-1", "oldest:0", "all:3", "recent:nan", "oldest:²", "recent:²"],
    "since": ["yesterday", "2024-13-45", "", "2024-01-01T99", "2024-1-1 10:00 tomorrow"],
    "max_threads": ["0", "ten", "-3", "", "²"],
    "forums": ["2,x", "", "0", "2,²"],
    "source": ["rss"],
    "media": ["videos"],
    "url": ["http://127.0.0.1:9/about.html", "ftp://example.com/forum.php", "", "forum.php"],
    "max_thread": ["5"],  # a typo: not an argument
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_a_bad_argument_is_refused_before_anything_is_fetched(forum, scrapy_crawl, tmp_path, name):
    """One line naming the argument, exit status 2, no request, and the archive untouched
    (not even created); every bad value of it is refused by the same check."""
    from spiders.arguments import ArgumentError
    from spiders.discuz import DiscuzSpider

    for value in BAD[name]:
        with pytest.raises(ArgumentError, match=f"^{name}="):
            DiscuzSpider.check_arguments({name: value})
    db_path = tmp_path / "archive.db"
    forum.clear_requests()
    arguments = [f"{name}={BAD[name][0]}"] if name == "url" else [f"url={forum.base_url}forum.php", f"{name}={BAD[name][0]}"]
    result = scrapy_crawl(db_path, *arguments, check=False)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and f"{name}=" in lines[0] and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert forum.requests == [] and not db_path.exists()


def test_a_cookies_file_not_in_utf8_is_refused_by_name(tmp_path):
    from spiders.arguments import ArgumentError
    from spiders.discuz import DiscuzSpider

    exported = tmp_path / "cookies.txt"
    # as an old exporter wrote it, in the system's code page
    exported.write_bytes("# Netscape HTTP Cookie File\n.x.cn\tTRUE\t/\tFALSE\t0\tauth\tcafé\n".encode("latin-1"))
    with pytest.raises(ArgumentError, match="^cookies="):
        DiscuzSpider.check_arguments({"cookies": str(exported)})


def test_a_bad_line_of_the_cookies_file_is_refused_without_its_value(tmp_path, capsys):
    """The file holds the user's session: the message names the argument, not the line."""
    import warnings

    from spiders.arguments import ArgumentError
    from spiders.discuz import DiscuzSpider

    exported = tmp_path / "cookies.txt"
    exported.write_text("# Netscape HTTP Cookie File\n.x.cn\tTRUE\t/\tFALSE\tsoon\tcdb_auth\tS3CRET\n")
    with warnings.catch_warnings(record=True) as warned, pytest.raises(ArgumentError, match="^cookies=") as refused:
        warnings.simplefilter("always")
        DiscuzSpider.check_arguments({"cookies": str(exported)})
    said = [str(refused.value), *(str(warning.message) for warning in warned), *capsys.readouterr()]
    assert not [text for text in said if "S3CRET" in text or "cookiejar" in text]


def test_good_arguments_pass_the_check():
    from spiders.discuz import DiscuzSpider

    check = DiscuzSpider.check_arguments
    check({"refresh": "recent:0.5", "since": "2024-1-1 08:00", "max_threads": "200", "forums": "2, 5", "source": "api",
           "media": "all", "url": "https://bbs.example.com/forum.php https://bbs.example.com/thread-1-1-1.html"})
    check({"refresh": "none", "since": "2024-01-01T00:00+00:00"})
    check({"since": "2024/1/1"})
    # every form Discuz prints a date in, as before since= was read whole (a crontab line with
    # one of them was refused after an upgrade)
    from spiders.arguments import since_date

    for form in ("2024年1月1日 8:00", "2024.1.1 8:00", "1/1/2024 8:00", "2024-1-1 8:00:00"):
        assert since_date(form) == since_date("2024-01-01T08:00"), form


def test_since_is_a_wall_clock_time_in_the_forums_offset_unless_it_names_one():
    from spiders.arguments import before, since_date

    shown = "2023-11-11T11:11:00+08:00"  # as a list row of a forum at +08:00 shows it
    assert not before(shown, since_date("2023-11-11T11:11")) and before(shown, since_date("2023-11-11 11:12"))
    assert not before("2023-11-11T11:11:00-05:00", since_date("2023-11-11T11:11"))  # a forum at -05:00: its own 11:11
    assert before(shown, since_date("2023-11-11T03:12+00:00")) and not before(shown, since_date("2023-11-11T03:11Z"))
    # a time another program wrote into the archive in its own form stops nothing: its thread is read
    assert not before("2023年11月11日", since_date("2024-01-01"))


def test_a_guide_list_keeps_the_limits(tmp_path):
    """A guide list's rows obey max_threads and since as a forum's list does (its check of
    max_threads read a counter the spider no longer kept: AttributeError on the first row)."""
    import asyncio

    from scrapy.http import HtmlResponse
    from scrapy.utils.test import get_crawler

    from scraper.models import FetchedPage, ForumPage, ThreadRow
    from spiders.discuz import DiscuzSpider

    site, url = "x.cn", "http://x.cn/forum.php?mod=guide&view=new"
    rows = [ThreadRow(tid=tid, title="t", url=f"http://x.cn/thread-{tid}-1-1.html", replies=1, fid=2,
                      last_post_at=f"2024-03-{day:02d}T08:00:00+08:00") for tid, day in ((1, 9), (2, 1), (3, 8), (4, 7))]
    guide = ForumPage(url=url, site=site, fid=None, page=1, page_count=1, threads=rows)
    crawler = get_crawler(DiscuzSpider, {"ARCHIVE_DB": str(tmp_path / "archive.db")})
    spider = DiscuzSpider.from_crawler(crawler, url=url, max_threads="2", since="2024-03-05")

    async def read(response, kind, **kwargs):
        return FetchedPage(url=url, site=site, kind=kind, status=200, fetched_at="2024-03-10T00:00:00+00:00",
                           size=0, sha256=""), guide

    spider._read = read

    async def parse():
        [request] = [r async for r in spider.start()]
        response = HtmlResponse(url, body=b"<html></html>", request=request)
        return [output async for output in request.callback(response, **request.cb_kwargs)]

    asked = asyncio.run(parse())[1:]
    assert [output.cb_kwargs["tid"] for output in asked] == [1, 3]  # 2 is before since; 4 is over max_threads
    assert [output.meta["read_as"] for output in asked] == ["new", "new"]  # counted once read


def test_the_summary_counts_the_threads_read_not_those_asked_for(tmp_path, scrapy_crawl):
    """Two threads' first pages fail (HTTP 500; 防采集's script page and a dropped connection end
    the same way): the run read 28 new threads and says so, with 2 failed pages, which the
    next run asks again and counts as read then. It said 30 new threads."""
    db_path = tmp_path / "archive.db"
    with serve("v1", threads_per_page=TPP) as forum:
        respond = forum.respond
        failing = ("/thread-30-1-1.html", "/thread-31-1-1.html")
        forum.respond = lambda target: (500, {"Content-Type": "text/html"}, b"busy") if target in failing else respond(target)
        first = summary(crawl(forum, scrapy_crawl, db_path, settings={"RETRY_TIMES": 0})[1])
        forum.respond = respond
        second = summary(crawl(forum, scrapy_crawl, db_path)[1])
    rows = [row[2:] for row in Database(db_path).execute(
        "SELECT outcome, requests, new_threads, changed_threads, refreshed_threads, open_walks, open_because, failed_pages"
        " FROM crawls ORDER BY id")]
    assert rows == [first[2:], second[2:]] == [(THREADS - 2, 0, 0, 0, None, 2), (2, 0, 0, 0, None, 0)]
    assert stored(Database(db_path)) == visible(V1)


def test_the_summary_counts_thread_seeds_the_archive_lacked(forum, scrapy_crawl, tmp_path):
    """Threads given as seeds: new the first time (it said 0 new), re-read by refresh=all."""
    db_path = tmp_path / "archive.db"
    seeds = f"url={forum.base_url}thread-1-1-1.html {forum.base_url}thread-16-3-1.html"
    for arguments, figures in (((), (2, 0, 0)), (("refresh=all",), (0, 0, 2)), ((), (0, 0, 0))):
        result = scrapy_crawl(db_path, seeds, *arguments)
        assert summary(result)[2:5] == figures == last_crawl(db_path)[2:5]
