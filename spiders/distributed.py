"""A distributed crawl on scrapy-redis: ``-s REDIS_URL=redis://host:6379/0`` is the switch.

With REDIS_URL set, the add-on below turns ``scrapy crawl discuz`` into a worker of a fleet:
the request queue lives in Redis (scrapy-redis' scheduler, with a queue that keeps each
worker's in-flight requests until they are done, so a killed worker's work is re-queued),
items go to Redis for the one writer (``python -m pipelines.writer``), the per-thread page
bookkeeping is shared in Redis, and the per-site request rate is shared by the whole fleet.
The spider is not told: FleetWorker gives it Redis' tracker, state and sites in place of its
own, and takes its items. Without REDIS_URL nothing here is loaded and Redis is not needed.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
import uuid
import warnings

from scrapy import Request, signals
from scrapy.exceptions import NotConfigured, ScrapyDeprecationWarning
from scrapy.settings import SETTINGS_PRIORITIES
from scrapy_redis.queue import PriorityQueue
from scrapy_redis.scheduler import Scheduler
from twisted.internet import task
from twisted.python.failure import Failure

from pipelines.shared import Keys, RedisItems, RedisState, connect, fleet_counters
from scraper.dates import utc_now_iso
from scraper.models import Post, ThreadSynced
from scraper.urls import site_of
from spiders.tracking import ThreadTask, record_page, synced

WORKER = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
# scrapy-redis 0.9.1 calls Scrapy's deprecated APIs (Spider.log, stats with a spider argument):
# a worker's log had two or three of these warnings, which its user can do nothing about
warnings.filterwarnings("ignore", category=ScrapyDeprecationWarning, module=r"scrapy_redis\.")
# How long other seeders wait for a starting seeder's first request (one that dies first
# must not hold them for ever)
STARTING_SECONDS = 30


class Distributed:
    """Scrapy add-on (ADDONS): rewires a crawl for the fleet when REDIS_URL is set."""

    def update_settings(self, settings) -> None:
        if not settings.get("REDIS_URL"):
            return
        key = Keys.from_settings(settings).prefix
        downloader = dict(settings.getdict("DOWNLOADER_MIDDLEWARES"))
        downloader["spiders.distributed.SharedRate"] = 590  # after robots.txt, before the download
        spider_side = dict(settings.getdict("SPIDER_MIDDLEWARES"))
        spider_side["spiders.distributed.FleetWorker"] = 1000  # next to the spider: its output first
        for name, value in {
            "SCHEDULER": "spiders.distributed.ReliableScheduler",
            "SCHEDULER_QUEUE_CLASS": "spiders.distributed.ReliableQueue",
            "SCHEDULER_QUEUE_KEY": f"{key}:requests",
            "SCHEDULER_DUPEFILTER_KEY": f"{key}:dupefilter",
            "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
            "SCHEDULER_PERSIST": True,
            "ITEM_PIPELINES": {},  # the writer owns the archive; items reach it through Redis
            "DOWNLOADER_MIDDLEWARES": downloader,
            "SPIDER_MIDDLEWARES": spider_side,
            "SAMPLE_FORUM_ENABLED": False,  # a worker without url takes its work from the queue
            # a worker takes from the shared queue only what it can download now: the rest stays
            # for the other workers (Scrapy would take its default of 16)
            "CONCURRENT_REQUESTS": settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN") or 2,
        }.items():
            # over the project's settings.py too (whose priority is above an add-on's)
            settings.set(name, value, priority=max(settings.getpriority(name) or 0, SETTINGS_PRIORITIES["addon"]))


class ReliableQueue(PriorityQueue):
    """scrapy-redis' priority queue, plus: a popped request is kept under this worker's name
    until the spider is done with it; requests of a worker that stopped beating are re-queued."""

    POP = """
    local found = redis.call('ZRANGE', KEYS[1], 0, 0)
    if #found == 0 then return false end
    redis.call('ZREM', KEYS[1], found[1])
    redis.call('HSET', KEYS[2], ARGV[1], found[1])
    return found[1]
    """

    def __init__(self, server, spider, key, serializer=None):
        super().__init__(server, spider, key, serializer)
        self.inflight = f"{self.key}:inflight:{WORKER}"
        self.alive = f"{self.key}:alive:"
        self._pop = self.server.register_script(self.POP)
        self.pushed = False

    def push(self, request):
        """A request back in the queue (a retry, a redirect) carries the in-flight entry of the
        one it replaces: that entry goes once the request is queued again, or this worker would
        count as busy for as long as it lives, and the fleet would never stop."""
        inflight = request.meta.pop("inflight", None)
        super().push(request)
        if inflight:
            self.server.hdel(*inflight)
        if not self.pushed:  # a crawl this worker started is now running: other seeders join it
            self.pushed = True
            release_start(self.server, Keys.from_settings(self.spider.crawler.settings))

    def pop(self, timeout=0):
        request_id = uuid.uuid4().hex
        data = self._pop(keys=[self.key, self.inflight], args=[request_id])
        if not data:
            return None
        request = self._decode_request(data)
        request.meta["inflight"] = (self.inflight, request_id)
        return request

    def beat(self, seconds: float) -> None:
        self.server.set(self.alive + WORKER, 1, px=int(seconds * 1000))

    def recover(self) -> int:
        """Put back the in-flight requests of workers that stopped beating (killed, lost)."""
        recovered = 0
        for key in self.server.scan_iter(f"{self.key}:inflight:*"):
            worker = key.decode().rsplit(":inflight:", 1)[1]
            if worker == WORKER or self.server.exists(self.alive + worker):
                continue
            for data in self.server.hvals(key):
                self.server.execute_command("ZADD", self.key, 0, data)
                recovered += 1
            self.server.delete(key)
        return recovered

    def fleet_busy(self) -> bool:
        """Requests queued, or being worked on by a live worker (the seeders' test too)."""
        return Keys.from_settings(self.spider.crawler.settings).crawl_running(self.server)


class ReliableScheduler(Scheduler):
    """Keeps a worker alive while the fleet has work (more requests may come from it), beats
    its heart, and re-queues dead workers' requests. Stops after SCHEDULER_IDLE_BEFORE_CLOSE
    seconds (default 10) with nothing queued or in flight anywhere."""

    HEARTBEAT = 2.0

    def open(self, spider):
        super().open(spider)
        self.queue.beat(self.HEARTBEAT * 3)
        self.queue.recover()
        self._beat = task.LoopingCall(self.queue.beat, self.HEARTBEAT * 3)
        self._beat.start(self.HEARTBEAT, now=False)
        self._idle_since = None

    def close(self, reason):
        """This worker's counters go to the crawl's record before it stops counting as alive
        (the writer records the crawl once no worker is)."""
        if self._beat.running:
            self._beat.stop()
        keys = Keys.from_settings(self.spider.crawler.settings)
        release_start(self.server, keys)  # a seeder stopped before it queued anything
        pipe = self.server.pipeline()
        for name, value in fleet_counters(self.stats.get_stats() if self.stats else {}).items():
            pipe.hincrby(keys.run, name, value)
        pipe.delete(self.queue.alive + WORKER)
        pipe.execute()
        return super().close(reason)

    def has_pending_requests(self):
        if len(self.queue):
            self._idle_since = None
            return True
        if self.queue.recover() or self.queue.fleet_busy():
            self._idle_since = None
            return True
        self._idle_since = self._idle_since or time.monotonic()
        return time.monotonic() - self._idle_since < max(self.idle_before_close, 1)


class RedisThreadTracker:
    """spiders.tracking.ThreadTracker's record, kept in Redis so that the pages of one thread
    can be read by different workers and still add up; every step is idempotent, so a page
    read twice (a re-queued request) counts once."""

    def __init__(self, server, keys: Keys):
        self.server = server
        self.prefix = f"{keys.prefix}:tracking"

    def reset(self) -> None:
        """A new crawl: forget what the last one claimed (only when nothing is queued)."""
        for key in self.server.scan_iter(f"{self.prefix}:*"):
            self.server.delete(key)

    def claim(self, key: tuple) -> bool:
        return bool(self.server.sadd(f"{self.prefix}:claimed", json.dumps(key)))

    def start(self, thread: ThreadTask, limit: int | None = None) -> bool:
        """As ThreadTracker.start, for the whole fleet: the count is taken before the thread is
        recorded, so that two workers that both saw room under ``limit`` never both start."""
        started = self.server.incr(f"{self.prefix}:started")
        if limit is not None and started > limit:
            return False
        fields = {"first_page": thread.first_page, "expected": json.dumps(thread.expected), "archived": json.dumps(thread.archived)}
        self.server.hset(self._key(thread.site, thread.tid), mapping=fields)
        return True

    def threads_started(self) -> int:
        """Threads the whole fleet started in this crawl."""
        return int(self.server.get(f"{self.prefix}:started") or 0)

    def first_page(self, site: str, tid: int) -> int | None:
        value = self.server.hget(self._key(site, tid), "first_page")
        return int(value) if value else None

    def page_asked(self, site: str, tid: int, page: int) -> None:
        if self.server.exists(self._key(site, tid)):
            self.server.hincrby(self._key(site, tid), "pending", 1)

    def page_done(
        self, site: str, tid: int, page: int, posts: list[Post] = (), replies: int | None = None, failed: bool = False
    ) -> ThreadSynced | None:
        key = self._key(site, tid)
        if not self.server.exists(key) or not self.server.sadd(f"{key}:done", page):
            return None
        pipe = self.server.pipeline()
        if posts:
            pipe.sadd(f"{key}:pids", *[post.pid for post in posts])
            pipe.zadd(f"{key}:floors", {str(post.floor or 0): post.floor or 0 for post in posts})
        if replies is not None:
            pipe.hset(key, "replies", replies)
        if failed:
            pipe.hset(key, "failed", 1)
        pipe.hincrby(key, "pending", -1)
        if pipe.execute()[-1] > 0:
            return None
        fields = {k.decode(): v.decode() for k, v in self.server.hgetall(key).items()}
        floors = self.server.zrevrange(f"{key}:floors", 0, 0, withscores=True)
        thread = ThreadTask(
            site,
            tid,
            first_page=int(fields["first_page"]),
            expected=_tuple(fields.get("expected")),
            archived=_tuple(fields.get("archived")),
            replies=int(fields["replies"]) if "replies" in fields else None,
        )
        record_page(thread, [], None, failed=fields.get("failed") == "1")
        thread.pids = {int(pid) for pid in self.server.smembers(f"{key}:pids")}
        thread.last_floor = int(floors[0][1]) if floors else 0
        self.server.delete(key, f"{key}:done", f"{key}:pids", f"{key}:floors")
        return synced(thread)

    def _key(self, site: str, tid: int) -> str:
        return f"{self.prefix}:thread:{site}:{tid}"


def _tuple(value: str | None):
    loaded = json.loads(value) if value else None
    return tuple(loaded) if loaded is not None else None


class FleetWorker:
    """Spider middleware: makes the spider a worker of the fleet. It gives the spider Redis'
    tracker, state and sites in place of its own, and takes what the spider yields for a
    request: its items go to Redis (not to Scrapy's item pipelines, which come later), and only
    then does the request leave this worker's in-flight list, so that a worker killed in
    between loses nothing: its request goes back to the queue."""

    def __init__(self, server, keys: Keys):
        self.items = RedisItems(server, keys)
        self.server = server
        self.keys = keys
        self.joined = False

    def process_spider_input(self, response):
        """A worker without seeds takes the crawl's arguments (limits, refresh, forums …) from
        the seeding worker, with its first request: they were published before it was queued."""
        spider = self.crawler.spider
        if not self.joined and not spider.seeds and (found := self.server.get(self.keys.arguments)):
            spider.take_arguments(json.loads(found))
        self.joined = True

    @classmethod
    def from_crawler(cls, crawler):
        server, keys = connect(crawler.settings["REDIS_URL"]), _keys(crawler.settings)
        worker = cls(server, keys)
        worker.crawler = crawler
        if crawler.spider is not None:
            _give_the_spider_the_fleets(crawler.spider, server, keys)
        # Scrapy hands an errback's output to the item pipelines without spider middlewares
        crawler.signals.connect(worker.item_scraped, signal=signals.item_scraped)
        return worker

    async def process_start(self, start):
        """A seeder whose start is over lets go of the start key, whether it queued a request
        or none (seeds that gave none, a start that failed): the seeders waiting for its first
        request would wait STARTING_SECONDS for nothing."""
        try:
            async for output in start:
                yield output
        finally:
            release_start(self.server, self.keys)

    async def process_spider_output(self, response, result):
        async for output in result:
            if isinstance(output, Request):
                yield output
            else:
                self.items.process_item(output)
        self.release(response.request)

    def item_scraped(self, item, response):
        """An errback's item (the spider's give one each): to Redis, then let go of the request."""
        if isinstance(response, Failure):
            self.items.process_item(item)
            self.release(response.request)

    def release(self, request) -> None:
        """The spider is done with this request: it leaves the worker's in-flight list."""
        if inflight := request.meta.get("inflight"):
            self.server.hdel(*inflight)


def _give_the_spider_the_fleets(spider, server, keys: Keys) -> None:
    """Redis' tracker, state and sites, in place of the spider's own (before its crawl starts)."""
    spider.tracker = RedisThreadTracker(server, keys)
    if spider.state is not None:
        spider.state.close()
    spider.state = RedisState(server, keys)
    if spider.seeds:
        given = {name: spider.arguments[name] for name in spider.CRAWL_ARGUMENTS if name in spider.arguments}
        if _starts_a_new_crawl(server, keys):  # not a worker joining one
            spider.tracker.reset()
            server.delete(keys.run, keys.run_joined)
            run = {"seeds": spider.seeds, "arguments": spider.arguments, "started_at": utc_now_iso()}
            server.set(keys.run_seeds, json.dumps(run))
            server.set(keys.arguments, json.dumps(given))  # before its first request is queued
        else:
            server.rpush(keys.run_joined, *spider.seeds)  # the crawl's record names its seeds too
            if (found := server.get(keys.arguments)) and json.loads(found) != given:
                # the workers already running decide by the crawl's arguments: one crawl, one set of rules
                crawls = json.loads(found)
                spider.logger.warning(
                    "This worker joins a running crawl: its seeds are added, but the crawl's arguments hold (%s),"
                    " not its own (%s)", _said(crawls), _said(given),
                )
                spider.take_arguments(crawls)
        server.sadd(keys.sites, *{site_of(seed) for seed in spider.seeds})
    spider.sites = _RedisSet(server, keys.sites)
    spider.allowed_domains = None


def _starts_a_new_crawl(server, keys: Keys) -> bool:
    """No crawl is running, and this seeder is the one that starts the next: seeders started
    together would each reset the fleet's tracking, and each other's first requests with it.
    The others wait until the starter's first request is queued, then join its crawl."""
    while not keys.crawl_running(server):
        if server.set(keys.starting, WORKER, nx=True, ex=STARTING_SECONDS):
            return True
        time.sleep(0.1)
    return False


# Deletes the start key only while this worker holds it: it may have expired and been taken
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


def release_start(server, keys: Keys) -> None:
    """This worker's new crawl is running, or will queue nothing: other seeders go on."""
    server.eval(_RELEASE, 1, keys.starting, WORKER)


def _said(arguments: dict[str, str]) -> str:
    return " ".join(f"{name}={value}" for name, value in sorted(arguments.items())) or "none"


class _RedisSet:
    """Membership in a Redis set (the distributed crawl's sites), remembered once seen."""

    def __init__(self, server, key: str):
        self.server, self.key, self.known = server, key, set()

    def __contains__(self, value: str) -> bool:
        if value not in self.known and self.server.sismember(self.key, value):
            self.known.add(value)
        return value in self.known


def _keys(settings) -> Keys:
    return Keys(settings.get("DISTRIBUTED_KEY", "discuz"))


class SharedRate:
    """Downloader middleware: the fleet as a whole waits DOWNLOAD_DELAY between two requests to
    one site (each worker's own delay only spaces its own requests)."""

    def __init__(self, server, keys: Keys, delay: float):
        self.server, self.prefix, self.delay = server, f"{keys.prefix}:rate", delay

    @classmethod
    def from_crawler(cls, crawler):
        settings = crawler.settings
        delay = settings.getfloat("DOWNLOAD_DELAY")
        if delay <= 0:
            raise NotConfigured
        return cls(connect(settings["REDIS_URL"]), Keys.from_settings(settings), delay)

    async def process_request(self, request):
        host = request.url.split("/", 3)[2]
        while not self.server.set(f"{self.prefix}:{host}", WORKER, nx=True, px=max(int(self.delay * 1000), 1)):
            await asyncio.sleep(self.delay / 4)
        return None
