"""The spider's decisions, one callback at a time: responses built from the sample forum's saved
pages (sample_forum/v1 and v2), a spider made with Scrapy's get_crawler over a temporary archive,
and the requests it gives back. The end-to-end tests (test_recrawl, test_crawl) run the same
decisions through Scrapy and a server."""

import asyncio
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from scrapy.http import HtmlResponse, Request
from scrapy.utils.test import get_crawler
from sqlite_utils import Database

from pipelines.store import open_archive, save_in_one_transaction
from sample_forum.server import NOT_FOUND, SNAPSHOT_BASE, Snapshot, snapshot_dir
from scraper.models import FetchedPage, ForumWalked
from spiders.discuz import DiscuzSpider

SITE = "127.0.0.1:8080"
INDEX = SNAPSHOT_BASE + "forum.php"
SNAPSHOTS = {version: Snapshot(snapshot_dir(version)) for version in ("v1", "v2")}


def spider(db_path: Path, **arguments) -> DiscuzSpider:
    crawler = get_crawler(DiscuzSpider, {"ARCHIVE_DB": str(db_path)})
    return DiscuzSpider.from_crawler(crawler, **arguments)


def answer(version: str, request: Request) -> HtmlResponse:
    """The saved page of ``version`` the forum answered ``request`` with."""
    page = SNAPSHOTS[version].find(request.url.removeprefix(SNAPSHOT_BASE.rstrip("/")))
    if page is None:  # as the server answers what the snapshot lacks (this forum's portal)
        return HtmlResponse(request.url, status=404, body=NOT_FOUND, request=request)
    headers = {"Content-Type": page.content_type}
    return HtmlResponse(request.url, status=page.status, headers=headers, body=page.file.read_bytes(), request=request)


def run(coroutine):
    return asyncio.run(coroutine)


async def _list(outputs) -> list:
    return [output async for output in outputs]


def callback(version: str, request: Request) -> list:
    """What the request's callback gives for the page of ``version``."""
    return run(_list(request.callback(answer(version, request), **request.cb_kwargs)))


def forum_page(the_spider: DiscuzSpider, fid: int, page: int = 1) -> Request:
    url = f"{SNAPSHOT_BASE}forum.php?mod=forumdisplay&fid={fid}&page={page}"
    return Request(url, callback=the_spider.parse_forum, cb_kwargs={"fid": fid, "page": page})


def threads(outputs) -> dict[int, int]:
    """tid -> the page its reading starts at, of the thread requests among ``outputs``."""
    return {r.cb_kwargs["tid"]: r.cb_kwargs["page"] for r in outputs if isinstance(r, Request) and "tid" in r.cb_kwargs}


def forums(outputs) -> list[tuple[int, int]]:
    return [(r.cb_kwargs["fid"], r.cb_kwargs["page"]) for r in outputs if isinstance(r, Request) and "fid" in r.cb_kwargs]


def crawl(the_spider: DiscuzSpider, version: str) -> list:
    """Every item of a whole crawl, each request answered from the snapshot."""
    items, queue = [], run(_list(the_spider.start()))
    while queue:
        for output in callback(version, queue.pop(0)):
            (queue if isinstance(output, Request) else items).append(output)
    return items


@pytest.fixture(scope="module")
def v1_archive(tmp_path_factory) -> Path:
    """The sample forum's v1, archived whole from its index."""
    db_path = tmp_path_factory.mktemp("v1") / "archive.db"
    items = crawl(spider(db_path, url=INDEX), "v1")
    save_in_one_transaction(open_archive(db_path), items)
    return db_path


def test_a_crawl_from_the_index_asks_for_every_page_once(tmp_path):
    items = crawl(spider(tmp_path / "empty.db", url=INDEX), "v1")
    pages = [item.url for item in items if isinstance(item, FetchedPage)]
    assert len(pages) == len(set(pages)) == 57  # and the portal probe: this forum has none (404)
    assert {item.fid for item in items if isinstance(item, ForumWalked)} == {2, 3, 4}
    assert len({item.tid for item in items if isinstance(item, FetchedPage) and item.kind == "thread"}) == 30


def test_a_changed_thread_is_read_from_its_first_new_post_and_an_unchanged_one_not_at_all(v1_archive):
    """v2's lists against the v1 archive: new posts in 1, 10, 16 and 26 are read from the page
    where they begin; 25 lost a post (its floors moved), so it is read whole; new threads from
    page 1; nothing else is asked for."""
    the_spider = spider(v1_archive, url=INDEX)
    asked = {}
    for fid in (2, 3, 4):
        asked |= threads(callback("v2", forum_page(the_spider, fid)))
    assert asked == {1: 5, 10: 2, 16: 7, 26: 4, 25: 1, 32: 1, 33: 1, 34: 1}


def test_a_forum_walk_stops_at_the_first_thread_archived_as_it_is(v1_archive, tmp_path):
    outputs = callback("v1", forum_page(spider(v1_archive, url=INDEX), 2))
    assert threads(outputs) == {} and forums(outputs) == []  # page 2 is not asked for
    assert isinstance(outputs[-1], ForumWalked) and outputs[-1].fid == 2
    # with nothing archived it walks on to page 2
    outputs = callback("v1", forum_page(spider(tmp_path / "empty.db", url=INDEX), 2))
    assert forums(outputs) == [(2, 2)]
    assert not any(isinstance(output, ForumWalked) for output in outputs)


def test_refresh_all_reads_every_thread_whole_and_walks_the_whole_list(v1_archive):
    the_spider = spider(v1_archive, url=INDEX, refresh="all")
    started = run(_list(the_spider.start()))
    assert started[0].url == INDEX
    assert threads(started) == {tid: 1 for tid in TIDS_V1}
    outputs = callback("v1", forum_page(spider(v1_archive, url=INDEX, refresh="all"), 2))
    assert forums(outputs) == [(2, 2)]


TIDS_V1 = [1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31]


def test_refresh_recent_reads_the_threads_active_in_the_last_days(v1_archive):
    # between thread 25's last post (2025-07-19) and thread 6's (2026-11-25), the oldest of 2026
    cutoff = datetime(2026, 1, 1, tzinfo=timezone.utc)
    days = (datetime.now(timezone.utc) - cutoff) / timedelta(days=1)
    started = run(_list(spider(v1_archive, url=INDEX, refresh=f"recent:{days}").start()))
    assert threads(started) == {tid: 1 for tid in (1, 6, 10, 15, 16, 22, 26, 31)}


def test_refresh_oldest_reads_the_threads_read_longest_ago(v1_archive, tmp_path):
    db_path = tmp_path / "archive.db"
    shutil.copy(v1_archive, db_path)
    Database(db_path).execute("UPDATE articles SET synced_at = '2025-01-01T00:00:00+00:00' WHERE tid IN (4, 17, 29)")
    Database(db_path).conn.commit()
    started = run(_list(spider(db_path, url=INDEX, refresh="oldest:3").start()))
    assert threads(started) == {4: 1, 17: 1, 29: 1}


def test_max_threads_asks_for_that_many_threads_and_stops_the_walk(tmp_path):
    the_spider = spider(tmp_path / "empty.db", url=INDEX, max_threads="2")
    outputs = callback("v1", forum_page(the_spider, 2))
    assert len(threads(outputs)) == 2
    assert forums(outputs) == []
    assert threads(callback("v1", forum_page(the_spider, 3))) == {}  # the limit is the crawl's


def test_since_skips_threads_without_activity_since_and_stops_the_walk(tmp_path):
    outputs = callback("v1", forum_page(spider(tmp_path / "empty.db", url=INDEX, since="2026-01-01"), 2))
    assert set(threads(outputs)) == {1, 6, 10, 15}  # forum 2's threads active in 2026
    assert forums(outputs) == []


def test_forums_limits_the_walk_and_the_refresh_to_those_forums(v1_archive, tmp_path):
    index = run(_list(spider(tmp_path / "empty.db", url=INDEX, forums="3").start()))
    assert forums(callback("v1", index[0])) == [(3, 1)]
    refreshed = run(_list(spider(v1_archive, url=INDEX, forums="3", refresh="all").start()))
    assert threads(refreshed) == {tid: 1 for tid in range(16, 26)}  # forum 3's threads
