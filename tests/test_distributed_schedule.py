"""Scheduled crawls keep their promises in a distributed crawl too (issue 20): a seeding worker,
a second worker and the writer, on scrapy-redis with a real Redis (tests/test_distributed.py
starts one on a free port), run after run on one archive. The writer publishes what the
workers' decisions need, so the fleet follows the rules one process does
(tests/test_schedule.py): limits that leave walks open, refresh policies at their cost, failed
点评 lists asked again, members-only profiles not asked again."""

import json
import math
import signal
import threading
import time
from datetime import datetime, timezone

import pytest
from sqlite_utils import Database

from pipelines.shared import Keys, RedisState, connect
from pipelines.state import StoredThread
from sample_forum import serve
from spiders.distributed import FleetWorker, RedisThreadTracker, _give_the_spider_the_fleets
from spiders.tracking import ThreadTask
from tests.features_truth import OWNER, SAVED_AT, V1
from tests.test_distributed import redis_url, worker, writer  # noqa: F401 (a fixture)
from tests.test_recrawl import V1 as SAMPLE, stored, visible
from tests.test_schedule import LIST_PAGES, TPP, last_crawl, list_pages, summary, thread_pages

THREADS = len(SAMPLE["threads"])


def fleet_run(redis_url, forum, db_path, *arguments, settings=None) -> list[str]:
    """One scheduled run of the fleet from the index: the request paths the forum got. The
    writer ends with the run's summary line, whose figures are its row of crawls."""
    forum.clear_requests()
    write = writer(redis_url, db_path)
    time.sleep(1.0)  # the writer publishes what the archive holds before workers decide
    workers = [worker(redis_url, forum.base_url + "forum.php", arguments=arguments, settings=settings),
               worker(redis_url, settings=settings)]
    for process in [*workers, write]:
        _, stderr = process.communicate(timeout=300)
        assert process.returncode in (0, -signal.SIGKILL), stderr[-3000:]
        assert "Traceback" not in stderr and "[py.warnings]" not in stderr, stderr[-3000:]
    requests = forum.requests
    figures = summary(stderr)  # the writer's
    assert "Wrote" not in stderr  # a batch is a DEBUG line: at INFO, a line a minute says how far it is
    assert figures == last_crawl(db_path) and figures[1] == len(requests)
    return requests


def test_a_fleet_completes_the_archive_under_max_threads_and_its_refresh_costs_what_it_names(redis_url, tmp_path):
    """max_threads bounds the fleet's threads, not each worker's; repeated, it completes the
    archive. On it, oldest:N costs a plain run and its threads' pages, and recent:DAYS with
    nothing recent what a plain run costs."""
    k, db_path = 15, tmp_path / "archive.db"
    with serve("v1", threads_per_page=TPP) as forum:
        runs = [fleet_run(redis_url, forum, db_path, f"max_threads={k}") for _ in range(math.ceil(THREADS / k) + 1)]
        assert stored(Database(db_path)) == visible(SAMPLE)
        started = [len({path.split("-")[1] for path in thread_pages(requests)}) for requests in runs]
        assert started[0] == k and sum(started) == THREADS  # the fleet's count, taken before a thread starts
        crawls = list(Database(db_path).query("SELECT new_threads, open_walks, open_because FROM crawls ORDER BY id"))
        assert [row["new_threads"] for row in crawls] == started
        assert crawls[0]["open_because"] == "max_threads" and crawls[-1]["open_walks"] == 0
        plain = runs[-1]  # nothing left, every walk closed: a plain run
        oldest = fleet_run(redis_url, forum, db_path, "refresh=oldest:3")
        recent = fleet_run(redis_url, forum, db_path, "refresh=recent:7")
    # (each worker asks for robots.txt once it has a request of the site: not the fleet's cost)
    plain, oldest, recent = ([path for path in run if path != "/robots.txt"] for run in (plain, oldest, recent))
    assert len(plain) == 1 + len(LIST_PAGES)  # no portal probe: the first run found none
    tids = {int(path.split("-")[1]) for path in thread_pages(oldest)}
    pages = Database(db_path).execute(
        f"SELECT sum(page_count) FROM articles WHERE tid IN ({', '.join(map(str, tids))})").fetchone()[0]
    assert len(tids) == 3 and sorted(list_pages(oldest)) == sorted(list_pages(plain))
    assert len(oldest) == len(plain) + pages
    assert sorted(recent) == sorted(plain)


def test_a_fleet_run_without_since_completes_one_with_it(redis_url, tmp_path):
    db_path = tmp_path / "archive.db"
    with serve("v1", threads_per_page=TPP) as forum:
        first = fleet_run(redis_url, forum, db_path, "since=2024-01-01")
        recent = {thread["tid"] for thread in SAMPLE["threads"] if thread["lastpost_iso"] >= "2024-01-01"}
        assert {int(path.split("-")[1]) for path in thread_pages(first)} == recent
        fleet_run(redis_url, forum, db_path)
    assert stored(Database(db_path)) == visible(SAMPLE)


def test_a_fleet_asks_a_failed_comment_list_again_and_a_members_only_profile_not(redis_url, tmp_path):
    """The features forum with user_profiles=1: the first run's 点评 list of tid 6 pid 57
    fails (HTTP 500); the next run asks it again, and not uid 3's profile (members only), nor
    the portal articles the first read whole."""
    db_path = tmp_path / "archive.db"
    failing = "action=commentmore&tid=6&pid=57&page=2"
    settings = OWNER | {"RETRY_TIMES": 0}
    with serve(V1["version"], 0, saved_at=SAVED_AT, fallback=V1["fallback"]) as forum:
        respond = forum.respond
        forum.respond = lambda target: (500, {"Content-Type": "text/html"}, b"busy") if failing in target else respond(target)
        first = fleet_run(redis_url, forum, db_path, "user_profiles=1", settings=settings)
        forum.respond = respond
        second = fleet_run(redis_url, forum, db_path, "user_profiles=1", settings=settings)
    profile = "/home.php?mod=space&uid=3&do=profile"
    assert any(failing in path for path in first) and profile in first
    asked_again = [path for path in second if "commentmore" in path]
    assert asked_again[0] == next(path for path in first if failing in path)  # then page 3, which it leads to
    assert all("pid=57&" in path for path in asked_again)  # the lists read whole are not read again
    assert not any("do=profile" in path for path in second)
    # the portal's articles, read whole by the first run, are not asked again
    articles = [path for path in first if path.startswith("/article-") or "mod=view&" in path]
    assert articles and not [path for path in second if path in articles]
    db = Database(db_path)
    assert db.execute("SELECT error FROM pages WHERE url LIKE ?", [f"%{failing}%"]).fetchone() == (None,)
    # the summary counts the failed list, not the profile closed to guests, which no run asks again
    assert [row["failed_pages"] for row in db.query("SELECT failed_pages FROM crawls ORDER BY id")] == [1, 0]
    assert db.execute("SELECT profile_status FROM users WHERE uid = 3").fetchone() == ("members_only",)


def test_the_fleet_refreshes_the_threads_its_first_worker_chose(redis_url):
    """oldest:N is chosen once a crawl: the writer moves a re-read thread's synced_at while
    the crawl runs, and a worker asking after that must not find another "oldest" (a CI run
    re-read four threads under oldest:3). A new crawl chooses again."""
    server, keys, site = connect(redis_url), Keys("choice"), "http://forum/"

    def publish(tid, synced_at):
        thread = StoredThread(tid, 2, f"{site}thread-{tid}-1-1.html", 1, None, 1, None, synced_at, 2, 1, False)
        server.hset(keys.threads(site), tid, json.dumps(thread.__dict__))

    for tid, synced_at in [(1, "2026-01-01"), (2, "2026-01-02"), (3, "2026-01-03"), (4, "2026-01-04")]:
        publish(tid, synced_at)
    state, now = RedisState(server, keys), datetime.now(timezone.utc)
    first = [t.tid for t in state.refresh_candidates(site, "oldest:2", now)]
    publish(1, "2026-12-07")  # the writer committed the re-read of thread 1
    later = [t.tid for t in state.refresh_candidates(site, "oldest:2", now)]
    assert sorted(first) == sorted(later) == [1, 2]
    RedisThreadTracker(server, keys).reset()
    assert sorted(t.tid for t in state.refresh_candidates(site, "oldest:2", now)) == [2, 3]


def seeder(tmp_path, url="http://x.cn/forum.php", **arguments):
    """A seeding worker's spider, before the fleet is given to it."""
    from scrapy.utils.test import get_crawler

    from spiders.discuz import DiscuzSpider

    crawler = get_crawler(DiscuzSpider, {"ARCHIVE_DB": str(tmp_path / "archive.db")})
    return DiscuzSpider.from_crawler(crawler, url=url, **arguments)


def test_a_seeding_worker_joining_a_running_crawl_follows_its_arguments(redis_url, tmp_path, caplog):
    """Its seeds are added, but the fleet keeps one set of rules: it used to put its own
    arguments in place of the crawl's for every worker joining after it."""
    server, keys = connect(redis_url), Keys("joining")
    server.zadd(keys.requests, {b"a request of the running crawl": 0})
    server.set(keys.arguments, json.dumps({"max_threads": "5"}))
    spider = seeder(tmp_path, max_threads="2", refresh="all")
    _give_the_spider_the_fleets(spider, server, keys)
    assert json.loads(server.get(keys.arguments)) == {"max_threads": "5"}
    assert spider.max_threads == 5 and spider.refresh is None
    assert "the crawl's arguments hold (max_threads=5), not its own (max_threads=2 refresh=all)" in caplog.text
    assert server.smembers(keys.sites) == {b"x.cn"}  # its seeds are the crawl's too


def test_seeders_started_together_make_one_crawl(redis_url, tmp_path):
    """The first resets the fleet's tracking and gives the arguments; the second waits for its
    first request to be queued, then joins: it used to reset the tracking too, and lose the
    threads the first had started. A seeder finding only a dead worker's requests starts anew."""
    server, keys = connect(redis_url), Keys("together")
    first, second = seeder(tmp_path, max_threads="3"), seeder(tmp_path, max_threads="7")
    _give_the_spider_the_fleets(first, server, keys)
    assert first.tracker.start(ThreadTask("x.cn", 1, first_page=1))
    joining = threading.Thread(target=_give_the_spider_the_fleets, args=(second, server, keys))
    joining.start()
    time.sleep(0.5)
    assert joining.is_alive()  # waiting for the first seeder's crawl to begin
    server.zadd(keys.requests, {b"the first seeder's first request": 0})
    server.delete(keys.starting)  # as its queue does on its first push
    joining.join(timeout=5)
    assert not joining.is_alive() and first.tracker.threads_started() == 1
    assert json.loads(server.get(keys.arguments)) == {"max_threads": "3"} and second.max_threads == 3

    server.delete(keys.requests)
    server.hset(keys.in_flight.replace("*", "a dead worker"), "r", b"its request")
    third = seeder(tmp_path, max_threads="9")
    _give_the_spider_the_fleets(third, server, keys)
    assert third.tracker.threads_started() == 0 and json.loads(server.get(keys.arguments)) == {"max_threads": "9"}


def test_the_crawls_record_names_the_seeds_of_the_seeders_that_joined_it(redis_url, tmp_path):
    """Their seeds are the crawl's (their requests are read in it): its row in crawls named
    only the first seeder's."""
    from collections import Counter

    from pipelines.store import open_archive
    from pipelines.writer import record_run

    server, keys = connect(redis_url), Keys("record")
    _give_the_spider_the_fleets(seeder(tmp_path), server, keys)
    server.zadd(keys.requests, {b"the first seeder's first request": 0})
    _give_the_spider_the_fleets(seeder(tmp_path, url="http://x.cn/thread-7-1-1.html http://x.cn/forum.php"), server, keys)
    db = open_archive(str(tmp_path / "archive.db"))
    record_run(db, server, keys, Counter())
    recorded = db.execute("SELECT seeds FROM crawls").fetchone()[0]
    assert json.loads(recorded) == ["http://x.cn/forum.php", "http://x.cn/thread-7-1-1.html"]
    assert not server.exists(keys.run_joined)


def test_a_seeder_that_queues_nothing_lets_the_next_start_at_once(redis_url, tmp_path):
    """A seeder whose start is over without a request queued (it failed, or its seeds gave
    none) lets go of the start key: the seeders after it waited its 30 seconds for nothing.
    The key is let go only by the worker that holds it."""
    import asyncio

    server, keys = connect(redis_url), Keys("nothing")
    _give_the_spider_the_fleets(seeder(tmp_path, max_threads="3"), server, keys)
    assert server.exists(keys.starting)

    async def failing():
        raise OSError("the start failed")
        yield

    async def start():
        async for _ in FleetWorker(server, keys).process_start(failing()):
            pass

    with pytest.raises(OSError):
        asyncio.run(start())
    began = time.monotonic()
    _give_the_spider_the_fleets(seeder(tmp_path, max_threads="7"), server, keys)
    assert time.monotonic() - began < 5 and json.loads(server.get(keys.arguments)) == {"max_threads": "7"}

    server.set(keys.starting, "another seeder")  # this one's key expired, and another took it
    with pytest.raises(OSError):
        asyncio.run(start())
    assert server.get(keys.starting) == b"another seeder"


def test_a_worker_that_did_not_seed_skips_the_portal_articles_read_whole(tmp_path):
    """A portal list reaches whichever worker takes it from the queue: one that did not seed
    the crawl (its portal_start never ran) knew no article read whole and asked every one
    again, every run."""
    import asyncio

    from scrapy.http import HtmlResponse

    from scraper.extras_models import PortalListPage
    from scraper.models import FetchedPage

    spider = seeder(tmp_path)
    spider.state.portal_articles_read = lambda site: {1}  # as the writer published it
    url = "http://x.cn/portal.php?mod=list&catid=1"
    listing = PortalListPage(url=url, site="x.cn", catid=1, page=1, page_count=1,
                             article_urls={1: "http://x.cn/article-1-1.html", 2: "http://x.cn/article-2-1.html"})

    async def read(response, kind, **kwargs):
        return FetchedPage(url=url, site="x.cn", kind=kind, status=200, fetched_at="2026-12-07T00:00:00+00:00",
                           size=0, sha256=""), listing

    spider._read = read

    async def parse():
        response = HtmlResponse(url, body=b"<html></html>")
        return [output async for output in spider.parse_portal_list(response)][1:]

    assert [request.url for request in asyncio.run(parse())] == ["http://x.cn/article-2-1.html"]
