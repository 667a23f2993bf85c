"""The discuz-x-features forum run with other settings than it was saved with gives the same
archive: fewer posts per page (postperpage), fewer raters shown (ratelogrecord), another date
and time format (dateformat, timeformat: 12-hour clock), alone and with GBK and dynamic URLs,
from v1's index and as v2 refreshed. The sample forum serves the snapshot as Discuz renders it
with those settings (sample_forum.pagination, .ratelog, .dateformat say what each changes and
what it relies on); the archive is checked against TRUTH.json and CHANGES.json as the forum
saved as it was is (tests/features_truth.py).
"""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from sample_forum.server import serve
from scraper.dates import parse_discuz_time
from scraper.thread import parse_thread_page
from scraper.thread_extras import parse_thread_extras
from tests.features_truth import (
    SAVED_AT,
    V1,
    check_everything,
    check_posts,
    check_refresh,
    crawl_stages,
    rows,
    truth,
    visible_tids,
)

TWELVE_HOUR = ("Y/n/j", "h:i A")  # 全局 » 时间设置: yyyy/mm/dd, 12 小时制
COMBINED = "gbk-dynamic-all"
SETTINGS = {
    "posts-per-page": dict(posts_per_page=4),
    "raters-shown": dict(raters_shown=1),
    "date-format": dict(date_format=TWELVE_HOUR),
    "year-last": dict(date_format=("n/j/Y", "h:i A")),  # yyyy last: mm/dd/yyyy, as admins write it
    # 13 pages for tid 1 (its pager's "1 ..." and "... 13" links), 年月日 dates
    COMBINED: dict(charset="gbk", dynamic=True, posts_per_page=2, raters_shown=2, date_format=("Y年n月j日", "h:i A")),
}


@pytest.fixture(scope="module")
def combined(tmp_path_factory, scrapy_crawl):
    """The combined setting: v1 from its index, then v2 as its lists show it, then with
    refresh=all: each stage's archive, requests and result."""
    stages = [("v1", "v1", ()), ("v2", "v2", ()), ("v2-refresh", "v2", ("refresh=all",))]
    return crawl_stages(tmp_path_factory.mktemp("combined"), scrapy_crawl, stages, **SETTINGS[COMBINED])


@pytest.fixture(scope="module", params=list(SETTINGS), ids=list(SETTINGS))
def run(request, tmp_path_factory, scrapy_crawl):
    """v1 crawled from its index under one setting: (the setting, its stages as crawl_stages gives them)."""
    options = SETTINGS[request.param]
    if request.param == COMBINED:
        return options, request.getfixturevalue("combined")
    return options, crawl_stages(tmp_path_factory.mktemp(request.param), scrapy_crawl, [("v1", "v1", ())], **options)


def test_the_archive_holds_everything_the_truth_lists_once(run):
    _, stages = run
    db, requests, _ = stages["v1"]
    check_everything(db)
    assert len(requests) == len(set(requests))
    assert rows(db, "SELECT count(*) FROM pages WHERE error IS NOT NULL") == [(0,)]


def test_refresh_all_on_v2_adds_exactly_what_changed(combined):
    db, _, _ = combined["v2-refresh"]
    check_refresh(db, combined["v1"][0])
    check_everything(db, "v2")
    assert rows(db, "SELECT DISTINCT charset FROM pages WHERE status = 200") == [("gb18030",)]
    assert rows(db, "SELECT count(*) FROM pages WHERE url LIKE '%thread-%' OR url LIKE '%forum-%'") == [(0,)]


def test_v2_as_its_lists_show_it(combined):
    """Without refresh=, v2 is read where its lists changed: every post v2 has, on its floor."""
    db, _, _ = combined["v2"]
    check_posts(db, "v2")
    assert rows(db, "SELECT count(*) FROM pages WHERE error IS NOT NULL") == [(0,)]


def test_every_page_of_every_thread_is_read_once(run):
    options, stages = run
    per_page = options.get("posts_per_page", 10)
    db, requests, _ = stages["v1"]
    for thread in (t for t in truth("v1")["threads"] if t["tid"] in visible_tids("v1")):
        pages = -(-len(thread["posts"]) // per_page)
        assert rows(db, "SELECT page_count FROM articles WHERE tid = ?", thread["tid"]) == [(pages,)], thread["tid"]
        assert len([path for path in requests if thread_page_of(path) == thread["tid"]]) == pages, thread["tid"]


def thread_page_of(path: str) -> int | None:
    """The tid of a thread page's path, rewritten or dynamic."""
    if match := re.fullmatch(r"/thread-(\d+)-\d+-\d+\.html", path):
        return int(match[1])
    query = parse_qs(urlsplit(path).query)
    return int(query["tid"][0]) if query.get("mod") == ["viewthread"] else None


def test_the_full_ratings_list_is_read_where_the_page_shows_part_of_it_and_only_there(run):
    options, stages = run
    shown = options.get("raters_shown", 5)
    db, requests, _ = stages["v1"]
    asked = {int(path.rsplit("pid=", 1)[1]) for path in requests if "action=viewratings" in path}
    assert asked == shows_part(truth("v1")["ratings"], shown)
    assert {pid for (pid,) in rows(db, "SELECT DISTINCT pid FROM ratings WHERE rated_at IS NOT NULL")} == asked


def shows_part(ratings: list[dict], shown: int) -> set[int]:
    """The posts whose rating table shows less than they got: more raters than ``shown``, or
    a last rater shown who gave several credits (Discuz adds ratings to the table while it
    holds fewer than ``shown`` raters: that rater's first one only)."""
    parts = set()
    for pid in {r["pid"] for r in ratings}:
        newest_first = sorted((r for r in ratings if r["pid"] == pid), key=lambda r: -r["dateline"])
        raters = list(dict.fromkeys(r["uid"] for r in newest_first))
        if len(raters) > shown or (len(raters) == shown and sum(r["uid"] == raters[-1] for r in newest_first) > 1):
            parts.add(pid)
    return parts


# --- the transformations, page by page --------------------------------------------------------


def page(forum, target: str) -> str:
    status, headers, body = forum.respond(target)
    assert status == 200, target
    return body.decode(headers["Content-Type"].rsplit("charset=", 1)[-1])


def test_with_the_saved_settings_the_pages_are_the_saved_ones():
    """posts_per_page=10, raters_shown=5 and Y-n-j H:i are the snapshot's: the pages are made
    from their parts as saved, byte for byte (tid 1: three pages)."""
    options = dict(posts_per_page=10, raters_shown=5, date_format=("Y-n-j", "H:i"))
    with serve(V1["version"], 0, saved_at=SAVED_AT, fallback=V1["fallback"], **options) as forum, \
         serve(V1["version"], 0, saved_at=SAVED_AT, fallback=V1["fallback"]) as saved:
        for target in ("/thread-1-1-1.html", "/thread-1-2-1.html", "/thread-1-3-1.html", "/thread-6-1-1.html",
                       "/forum.php?mod=misc&action=viewratings&tid=1&pid=1"):
            assert page(forum, target).replace(forum.base_url, "") == page(saved, target).replace(saved.base_url, "")


def test_a_thread_of_many_pages_has_the_pager_discuz_prints():
    with serve(V1["version"], 0, saved_at=SAVED_AT, fallback=V1["fallback"], posts_per_page=2, dynamic=True) as forum:
        text = page(forum, "/forum.php?mod=viewthread&tid=1&page=7")
        thread = parse_thread_page(text.encode(), forum.base_url + "forum.php?mod=viewthread&tid=1&page=7")
    assert '<a href="forum.php?mod=viewthread&amp;tid=1&amp;page=1" class="first">1 ...</a>' in text
    assert '<a href="forum.php?mod=viewthread&amp;tid=1&amp;page=13" class="last">... 13</a>' in text
    assert '<span title="共 13 页"> / 13 页</span>' in text
    floors = [post["position"] for post in truth("v1")["threads"][0]["posts"]][12:14]
    assert (thread.page, thread.page_count, [post.floor for post in thread.posts]) == (7, 13, floors)


def test_the_last_rater_shown_shows_its_first_credit_and_the_totals_lead_to_the_list():
    """pid 81: one rater, 贡献 +3 and 金钱 +10 at once (so its list says). With one rater shown,
    Discuz's table has its 贡献 only: 参与人数 1 is the rows, the header's 金钱 +10 is not."""
    with serve(V1["version"], 0, saved_at=SAVED_AT, fallback=V1["fallback"], raters_shown=1) as forum:
        url = forum.base_url + "thread-10-1-1.html"
        extras = parse_thread_extras(page(forum, "/thread-10-1-1.html").encode(), url)
        listed = page(forum, "/forum.php?mod=misc&action=viewratings&tid=10&pid=81")
    assert [(r.rater_uid, r.credit, r.score) for r in extras.ratings] == [(4, "贡献", 3)]
    assert extras.ratings_more == {81: forum.base_url + "forum.php?mod=misc&action=viewratings&tid=10&pid=81"}
    assert "金钱 +10" in listed and '<a href="forum-3-1.html">阳台种菜</a>' in listed


@pytest.mark.parametrize("shown, expected", [
    ("2019/3/16 08:15:00", "2019-03-16T08:15:00+08:00"),
    ("2019/3/16 08:15 PM", "2019-03-16T20:15:00+08:00"),
    ("2019年3月16日 12:05 AM", "2019-03-16T00:05:00+08:00"),
    ("2019/3/16 12:40 PM", "2019-03-16T12:40:00+08:00"),
])
def test_times_on_a_12_hour_clock(shown, expected):
    assert parse_discuz_time(shown) == expected


@pytest.mark.parametrize("shown, expected", [
    ("3/16/2019 08:15 PM", "2019-03-16T20:15:00+08:00"),  # mm/dd/yyyy
    ("16/3/2019 20:15", "2019-03-16T20:15:00+08:00"),  # a number over 12 is the day
    ("16.3.2019 20:15", "2019-03-16T20:15:00+08:00"),  # dd.mm.yyyy
    ("3.4.2019 20:15", "2019-04-03T20:15:00+08:00"),  # dots: the day first
    ("3/4/2019 20:15", "2019-03-04T20:15:00+08:00"),  # slashes: the month first
    ("13/13/2019 10:00", None),  # no calendar has it
])
def test_dates_with_the_year_last(shown, expected):
    assert parse_discuz_time(shown) == expected


def test_a_relative_time_on_a_12_hour_clock():
    now = datetime.fromisoformat("2026-12-02T09:26:00+08:00")
    assert parse_discuz_time("昨天\xa008:15 PM", now=now) == "2026-12-01T20:15:00+08:00"


def test_every_time_a_page_shows_is_in_the_forums_format():
    with serve(V1["version"], 0, saved_at=SAVED_AT, fallback=V1["fallback"], date_format=TWELVE_HOUR) as forum:
        thread, listing = page(forum, "/thread-1-1-1.html"), page(forum, "/forum-2-1.html")
    assert '<em id="authorposton1">发表于 2019/3/16 20:15:00</em>' in thread  # dateformat H:i:s, whatever the clock
    assert "发表于 2019/3/21 12:45 PM</span>" in thread  # a 点评
    assert "GMT+8, 2026/12/2 09:29 AM" in thread
    assert "<em><span>2024/9/22</span></em>" in listing  # a thread's date: dateformat alone
    assert not re.search(r"20\d\d-\d{1,2}-\d", thread + listing)
