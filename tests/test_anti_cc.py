"""Discuz's own anti-CC defences and 防采集, served by sample_forum.defences in front of the sample
forum: the crawl gets past what a browser passes by itself, stops politely where a person is
needed, and the forum's cookies go nowhere but back to the forum.

Wall time: bit 1 makes the crawl wait a second a request once the site rate-limits it, and a
whole crawl of the sample forum is about 60 requests. The whole-crawl runs of bits 1 and 1|4
therefore run the server's clock ten times as fast, with DISCUZ_SLOW_DELAY a tenth of its
default: Discuz's rule holds in the server's seconds. Those crawls and the polite stops' run at
the same time, each against its own server (the ``crawls`` fixture). One short crawl checks
the gaps in real time with the default delay (a thread of five pages).
"""

import contextlib
import io
import json
import os
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass
from http.cookiejar import CookieJar
from pathlib import Path

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse
from sqlite_utils import Database

from export.warc import write_warc
from pipelines.rawpages import raw_body
from sample_forum.defences import PROXY, RATE_LIMIT, RELOAD, Clock, DefendedForum, antitheft_page, security_message, system_error
from scraper.challenges import Challenge, challenge_of
from spiders.guest_cookies import GuestCookies

ROOT = Path(__file__).parent.parent
# Every post the sample forum (v1) shows a guest, by the forum's own database: 344 of them.
TRUTH = json.loads((ROOT / "sample_forum/v1/TRUTH.json").read_text(encoding="utf-8"))
VISIBLE = {post["pid"] for thread in TRUTH["threads"] for post in thread["posts"] if post["floor_displayed"] is not None}
CHALLENGE_WORDS = ("频繁刷新限制", "页面重载开启", "代理服务器访问限制", "= ?", "_dsign", "System Error")
DEBUG = {"LOG_LEVEL": "DEBUG", "ARCHIVE_RAW_PAGES": 1}


# -- the pages -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "status, body, cookies, challenge",
    [
        (503, system_error("bbs.example.com", 1700000000)[2], ["xxxx_2132_saltkey", "xxxx_2132_lastrequest"], Challenge.FIRST_VISIT),
        (200, security_message(*RATE_LIMIT)[2], [], Challenge.RATE_LIMIT),
        (200, security_message(*RATE_LIMIT, ajax=True)[2], [], Challenge.RATE_LIMIT),
        (200, security_message(*PROXY, reload=False)[2], [], Challenge.PROXY),
        (200, security_message(*RELOAD)[2].decode().encode("gbk"), [], Challenge.RELOAD),
        # a Traditional Chinese forum's (lang_security.php in Big5): its bytes decode as GB18030 too
        (200, security_message("頻繁刷新限制", "您訪問本站速度過快或者刷新間隔時間小於兩秒！")[2].decode().encode("big5"), [], Challenge.RATE_LIMIT),
        (200, security_message("16 + 17 + 18 + 9 + 5 = ?", '<input type="text" name="answer" />', reload=False, form="/forum.php")[2], [], Challenge.QUESTION),
        (200, antitheft_page("/thread-3-1-1.html", "5c1a9e3f")[2], [], Challenge.ANTITHEFT),
        # a database outage's 503 sets no lastrequest: an outage, left to the retries
        (503, system_error("bbs.example.com", 1700000000)[2], ["xxxx_2132_saltkey"], None),
        (200, (ROOT / "sample_forum/v1/thread-1-1-1.html").read_bytes(), [], None),
        # showmessage's forward script is a page of its own (the parser records it), not 防采集
        (200, b"<html><body><script type=\"text/javascript\">window.location.href='/x';</script></body></html>", [], None),
    ],
    ids=["first_visit", "rate_limit", "rate_limit_ajax", "proxy", "reload_gbk", "rate_limit_big5", "question", "antitheft", "outage", "thread", "forward"],
)
def test_each_defence_is_told_by_its_answer(status, body, cookies, challenge):
    assert challenge_of(status, body, cookies) == challenge


def test_the_rate_limit_page_is_discuz_own_929_bytes():
    assert len(security_message(*RATE_LIMIT)[2]) == 929
    assert b'setTimeout("reload()", 1001)' in security_message(*RATE_LIMIT)[2]


def test_the_forums_cookies_join_the_users_per_site_and_its_newer_value_wins():
    cookies = GuestCookies()
    own = "cdb_auth=SECRET; xxxx_2132_lastrequest=old"
    first = Request("http://127.0.0.1:8/forum.php", headers={"Cookie": own})
    assert cookies.process_request(first) is None and first.headers["Cookie"] == own.encode()
    set_cookies = {"Set-Cookie": ["xxxx_2132_saltkey=Salt1234; path=/; HttpOnly", "xxxx_2132_lastrequest=new; path=/"]}
    cookies.process_response(first, HtmlResponse(first.url, headers=set_cookies, request=first))
    later = Request("http://127.0.0.1:8/thread-1-1-1.html", headers={"Cookie": own})
    cookies.process_request(later)
    sent = dict(pair.split("=") for pair in later.headers["Cookie"].decode().split("; "))
    assert sent == {"cdb_auth": "SECRET", "xxxx_2132_lastrequest": "new", "xxxx_2132_saltkey": "Salt1234"}
    cookies.process_response(later, HtmlResponse(later.url, request=later))
    assert later.headers["Cookie"] == own.encode()  # a copy of the answered request carries only the user's
    elsewhere = Request("http://127.0.0.1:9/forum.php")
    cookies.process_request(elsewhere)
    assert b"Cookie" not in elsewhere.headers


# -- the test server -----------------------------------------------------------------------


def _opener():
    jar = CookieJar()
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar)), jar


def _get(opener, url, data=None):
    try:
        with opener.open(url, data=data) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


def test_the_server_keeps_the_whole_second_rule_and_the_300_second_window():
    clock = Clock(speed=0)  # time stands still but for advance()
    with DefendedForum(attackevasive=1 | 4, clock=clock) as forum:
        opener, jar = _opener()
        url = forum.base_url + "forum.php"
        assert _get(opener, url) == 503  # no lastrequest: PHP 8's TypeError
        assert {cookie.name for cookie in jar} == {"xxxx_2132_saltkey", "xxxx_2132_lastrequest"}
        assert _get(opener, url) == 200 and forum.log[-1].answer == "rate_limit"  # the same second
        clock.advance(1)
        assert _get(opener, url) == 200 and forum.log[-1].answer == "page"
        clock.advance(301)
        assert _get(opener, url) == 200 and forum.log[-1].answer == "reload"  # idle over 300 s: bit 4
        assert _get(opener, url) == 200 and forum.log[-1].answer == "rate_limit"  # an instant reload
        clock.advance(1)
        assert _get(opener, url) == 200 and forum.log[-1].answer == "page"
        for cookie in jar:  # lastrequest is only valid with its saltkey
            if cookie.name.endswith("saltkey"):
                cookie.value = "OtherKey"
        clock.advance(1)
        assert _get(opener, url) == 503


def test_the_challenges_reload_by_script_only():
    """No Location and no meta refresh: only a browser that runs the script reloads."""
    for _, headers, body in (security_message(*RATE_LIMIT), security_message(*RELOAD), system_error("h", 0), antitheft_page("/t", "x")):
        assert "Location" not in dict(headers) and b"http-equiv=\"refresh\"" not in body.lower()


def test_a_question_answered_in_a_browser_opens_the_forum(tmp_path):
    with DefendedForum(attackevasive=8) as forum:
        cookies = _solved_visitcode(forum, tmp_path)
        text = cookies.read_text()
        assert "xxxx_2132_visitcode" in text and "xxxx_2132_saltkey" in text


def _solved_visitcode(forum, tmp_path) -> Path:
    """What a person does once: read the sum, post the answer; the browser's cookies.txt."""
    opener, jar = _opener()
    with opener.open(forum.base_url + "forum.php") as answer:
        page = answer.read().decode()
    question = page.split("<title>")[1].split(" = ?")[0]
    answer = sum(int(term) for term in question.split("+"))
    assert _get(opener, forum.base_url + "forum.php", f"answer={answer}&secqsubmit=1".encode()) == 200
    assert forum.log[-1].answer == "page"
    path = tmp_path / "cookies.txt"
    lines = [f"127.0.0.1\tFALSE\t/\tFALSE\t0\t{c.name}\t{c.value}" for c in jar if c.name.endswith(("visitcode", "saltkey"))]
    path.write_text("# Netscape HTTP Cookie File\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


# -- whole crawls --------------------------------------------------------------------------


class _JumpOnce:
    """The server's clock at ten times real time, moved on 301 s once, mid-crawl: bit 4's window
    passes while the crawl runs."""

    def __init__(self, forum_log, after):
        self.clock, self.log, self.after, self.jumped = Clock(speed=10), forum_log, after, False

    def __call__(self):
        if not self.jumped and len(self.log) >= self.after:
            self.jumped = True
            self.clock.advance(301)
        return self.clock()


FAST_CLOCK = {"DISCUZ_SLOW_DELAY": 0.15}  # 1.5 of the server's seconds at ten times real time
# Each setting of attackevasive and what the crawl gets besides (bit 2: proxy headers to take off)
WHOLE_CRAWLS = {
    "1": (1, FAST_CLOCK),
    "2": (2, {"DEFAULT_REQUEST_HEADERS": '{"X-Forwarded-For": "10.1.2.3", "Via": "1.1 squid", "Cache-Info": "x"}'}),
    "4": (4, {}),
    "1|4": (1 | 4, FAST_CLOCK),
    "8": (8, {}),
}


@dataclass
class Crawl:
    forum: DefendedForum
    directory: Path
    process: subprocess.Popen

    def finished(self) -> tuple[int, str, str]:
        """(exit status, stdout, stderr) once the crawl has ended."""
        status = self.process.wait(timeout=300)
        return status, *((self.directory / name).read_text("utf-8") for name in ("stdout.log", "stderr.log"))


# Where only a person or the owner can let the crawler in: the server's options, the check's
# words in each page's record and the end message, the way out the message gives.
PERSON_NEEDED = {
    "question": ({"attackevasive": 8}, "anti-CC question (attackevasive 8)", "-a cookies="),
    "antitheft": ({"antitheft": 3}, "防采集", "only the owner"),
    "proxy": ({"attackevasive": 2, "proxy_on_the_way": True}, "proxy check", "no proxy"),
}


@pytest.fixture(scope="module")
def crawls(tmp_path_factory, scrapy_crawl):
    """The crawls whose checks do not hang on timing, all started at once, each against its
    own server: together they take about the time of the slowest. A whole crawl of the sample
    forum from its index behind each setting of attackevasive; and the index and twelve threads
    behind each check only a person passes (a delay, however small, makes Scrapy keep to its
    two requests at a time per site)."""
    with contextlib.ExitStack() as servers:
        started = {}

        def start(name, forum, directory, arguments, settings):
            with open(directory / "stdout.log", "w") as out, open(directory / "stderr.log", "w") as err:
                process = subprocess.Popen(
                    scrapy_crawl.command(directory / "archive.db", *arguments, settings=settings),
                    cwd=ROOT, stdout=out, stderr=err, text=True, env=os.environ | {"PYTHONPATH": str(ROOT)},
                )
            started[name] = Crawl(forum, directory, process)

        for name, (bits, settings) in WHOLE_CRAWLS.items():
            forum = servers.enter_context(DefendedForum(attackevasive=bits))
            if bits & 1:
                forum.clock = _JumpOnce(forum.log, after=30) if bits & 4 else Clock(speed=10)
            directory = tmp_path_factory.mktemp(f"bits{bits}")
            arguments = [f"url={forum.base_url}"]
            if bits == 8:
                arguments.append(f"cookies={_solved_visitcode(forum, directory)}")
            start(name, forum, directory, arguments, DEBUG | settings)
        for name, (options, *_) in PERSON_NEEDED.items():
            forum = servers.enter_context(DefendedForum(**options))
            threads = ",".join(f"{forum.base_url}thread-{tid}-1-1.html" for tid in range(1, 13))
            start(name, forum, tmp_path_factory.mktemp(name), [f"url={forum.base_url},{threads}"], {"DOWNLOAD_DELAY": 0.05})
        yield started
        for crawl in started.values():
            crawl.process.kill()
            crawl.process.wait()


@pytest.mark.parametrize("name", WHOLE_CRAWLS)
def test_a_whole_crawl_behind_the_defences_archives_every_post(name, crawls):
    crawl = crawls[name]
    status, stdout, stderr = crawl.finished()
    assert status == 0, stderr[-3000:]
    db = Database(crawl.directory / "archive.db")
    assert {row["pid"] for row in db.query("SELECT pid FROM posts")} == VISIBLE and len(VISIBLE) == 344
    assert {row["kind"] for row in db["pages"].rows} == {"index", "forum", "thread", "no_portal"}
    for table in ("articles", "comments"):
        for row in db[table].rows:
            assert not any(word in (row["content_html"] or "") for word in CHALLENGE_WORDS), row
    for row in db["raw_pages"].rows:
        assert not any(word.encode() in raw_body(row["body"]) for word in CHALLENGE_WORDS), row["url"]
    answers = [line.answer for line in crawl.forum.log]
    assert not any(line.proxy_headers for line in crawl.forum.log)
    # (the rate-limit page comes when a request carries a lastrequest of the same second: at
    # ten times real time, a tenth of a second; test_the_server_keeps… makes it sure)
    expected = {"1": {"system_error"}, "2": set(), "4": {"reload"}, "1|4": {"system_error", "reload"}, "8": set()}[name]
    assert expected <= set(answers), answers
    _assert_no_cookie_anywhere(crawl, stdout + stderr)


def _assert_no_cookie_anywhere(crawl, logs):
    """The values the forum set (and the solved ones of the cookies file) are in no archive
    file, no log line and no WARC."""
    values = {value for _, value in crawl.forum.cookies_set}
    for file in crawl.directory.glob("cookies.txt"):
        values |= {line.split("\t")[-1] for line in file.read_text().splitlines()[1:]}
    assert values and all(len(value) >= 6 for value in values)
    warc = io.BytesIO()
    write_warc(crawl.directory / "archive.db", warc, gzip=False)
    places = {"logs": logs.encode(), "warc": warc.getvalue()}
    places |= {file.name: file.read_bytes() for file in crawl.directory.glob("archive.db*")}
    for value in values:
        for place, data in places.items():
            assert value.encode() not in data, (value, place)


def test_after_the_first_rate_limit_page_requests_are_a_second_apart(tmp_path, scrapy_crawl):
    """Real time, the default delay: one request at a time from the start (CONCURRENT_REQUESTS=1),
    so each carries the cookie of the answer just before it and the rate limit comes at once."""
    with DefendedForum(attackevasive=1) as forum:
        result = scrapy_crawl(tmp_path / "archive.db", f"url={forum.base_url}thread-1-1-1.html", settings={"CONCURRENT_REQUESTS": 1})
        answers = [line.answer for line in forum.log]
        assert "rate_limit" in answers, answers
        first = answers.index("rate_limit")
        times = [line.at for line in forum.log[first:]]
        assert len(times) >= 3 and all(later - earlier >= 1 for earlier, later in zip(times, times[1:])), times
        assert "rate_limit" not in answers[first + 1 :]
        assert result.stderr.count("from now on one request at a time") == 1
        db = Database(tmp_path / "archive.db")
        assert {row["kind"] for row in db["pages"].rows} == {"thread"}
        thread = next(thread for thread in TRUTH["threads"] if thread["tid"] == 1)
        assert {row["pid"] for row in db.query("SELECT pid FROM posts")} == {
            post["pid"] for post in thread["posts"] if post["floor_displayed"] is not None
        }


@pytest.mark.parametrize("name", PERSON_NEEDED)
def test_where_a_person_is_needed_the_crawl_stops_asking_and_says_the_way_out(name, crawls):
    _, words, way_out = PERSON_NEEDED[name]
    crawl = crawls[name]
    _, _, stderr = crawl.finished()
    refused = [line for line in crawl.forum.log if line.answer in ("question", "antitheft", "proxy")]
    assert 3 <= len(refused) <= 4, [line.answer for line in crawl.forum.log]  # the third stops it; one more in flight
    recorded = [row for row in Database(crawl.directory / "archive.db")["pages"].rows if row["kind"] == "antiscraping"]
    assert len(recorded) > len(refused) and all(words in row["error"] for row in recorded)
    said = [line for line in stderr.splitlines() if "The way out" in line]
    assert len(said) == 1 and words in said[0] and way_out in said[0] and f"{len(recorded)} pages" in said[0], said


def test_the_jammer_makes_no_revision_and_no_update(tmp_path, scrapy_crawl):
    """Discuz's per-forum jammer puts new junk in every answer for the same post."""
    with DefendedForum(jammer=True) as forum:
        db_path = tmp_path / "archive.db"
        url = f"url={forum.base_url}thread-1-1-1.html"
        first_page = "/thread-1-1-1.html"
        scrapy_crawl(db_path, url)
        before = Database(db_path)["pages"].get(f"{forum.base_url}{first_page[1:]}")["sha256"]
        scrapy_crawl(db_path, url, "refresh=all")
        db = Database(db_path)
        assert [line.path for line in forum.log].count(first_page) == 2
        assert db["pages"].get(f"{forum.base_url}{first_page[1:]}")["sha256"] != before  # other junk, other bytes
        assert db["revisions"].count == 0
        second = list(db["crawls"].rows)[-1]
        assert (second["updated_posts"], second["new_comments"], second["outcome"]) == (0, 0, "finished")


def test_a_compressed_challenge_page_is_told_too(tmp_path):
    """A web server gzips a challenge page as any other (nginx's gzip on covers text/html): it
    reaches AntiCC decompressed, so it is told and refused, never archived as the page (AntiCC
    read the compressed bytes when it sat nearer the network than HttpCompressionMiddleware)."""
    import asyncio
    import gzip

    from scrapy.core.downloader.middleware import DownloaderMiddlewareManager
    from scrapy.utils.project import get_project_settings
    from scrapy.utils.test import get_crawler

    from pipelines.refusals import Refused
    from spiders.discuz import DiscuzSpider

    project = get_project_settings()
    names = ("DOWNLOADER_MIDDLEWARES", "COOKIES_ENABLED", "DISCUZ_ANTI_CC", "DISCUZ_GUEST_COOKIES", "DISCUZ_SLOW_DELAY",
             "DISCUZ_CHALLENGE_TRIES", "DISCUZ_CHALLENGE_STOP")
    settings = {name: project[name] for name in names} | {"ARCHIVE_DB": str(tmp_path / "archive.db")}
    crawler = get_crawler(DiscuzSpider, settings)
    crawler.spider = DiscuzSpider.from_crawler(crawler, url="http://127.0.0.1:8/forum.php")
    manager = DownloaderMiddlewareManager.from_crawler(crawler)
    request = Request("http://127.0.0.1:8/forum.php")
    body = gzip.compress(security_message(*PROXY, reload=False)[2])
    response = HtmlResponse(request.url, body=body, headers={"Content-Encoding": "gzip"}, request=request)
    with pytest.raises(Refused) as refused:
        asyncio.run(manager._process_response(response, request))
    assert refused.value.kind == "antiscraping"
