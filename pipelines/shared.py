"""The archive's side of a distributed crawl (scrapy-redis): items wait in Redis until the
one writer commits them, and what the archive holds is published to Redis for the workers.

SQLite has one writer. Workers on any machine push their items to a Redis list
(``RedisItems``); ``python -m pipelines.writer`` moves them into the archive with the same
writes as a single-process crawl (pipelines.store), and after each committed batch publishes
the state the workers' decisions need (which threads are archived up to which floor, posts
per page, forum walks; which failed pages to ask again, which members' profiles are known,
which portal articles are read whole, where a site has no portal), which ``RedisState``
reads with ArchiveState's methods, so that the fleet follows the same incremental rules as one
process. Keys share one prefix (the setting ``DISTRIBUTED_KEY``).
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import redis
from sqlite_utils import Database

from pipelines.state import ArchiveState, StoredThread, refresh_policy
from pipelines.store import ITEMS
from scraper.kinds import PageKind
from scraper.models import FetchedPage
from scraper.settings import DISTRIBUTED_KEY as DEFAULT_KEY  # the writer runs without Scrapy's settings
from scraper.user_pages import profile_uid


def connect(url: str) -> redis.Redis:
    return redis.Redis.from_url(url)


class Keys:
    """Every Redis key of one distributed crawl."""

    def __init__(self, prefix: str = DEFAULT_KEY):
        self.prefix = prefix
        self.items = f"{prefix}:items"  # list: pickled items waiting for the writer
        self.writing = f"{prefix}:items:writing"  # list: the batch the writer is committing
        self.sites = f"{prefix}:sites"  # set: the sites this crawl may fetch from
        self.arguments = f"{prefix}:arguments"  # JSON: the seeding worker's crawl arguments
        self.run = f"{prefix}:run"  # hash: the workers' counters of this crawl (fleet_counters)
        self.run_seeds = f"{prefix}:run:seeds"  # JSON: its seeds, arguments and start
        self.run_joined = f"{prefix}:run:joined"  # list: the seeds of seeders that joined it
        self.posts_per_page = f"{prefix}:posts_per_page"  # hash: site -> posts per page
        self.requests = f"{prefix}:requests"  # sorted set: scrapy-redis' request queue
        self.workers_alive = f"{prefix}:requests:alive:*"  # one key per live worker (a heartbeat)
        self.in_flight = f"{prefix}:requests:inflight:*"  # one hash per worker: requests it works on
        self.starting = f"{prefix}:starting"  # a seeding worker starting a new crawl, until it queues

    @classmethod
    def from_settings(cls, settings: Any) -> Keys:
        """The keys of the crawl the Scrapy settings name (``DISTRIBUTED_KEY``)."""
        return cls(settings.get("DISTRIBUTED_KEY", DEFAULT_KEY))

    def fleet_done(self, server: redis.Redis) -> bool:
        """No request queued, no worker alive, no item waiting: the crawl is over."""
        return not (
            server.zcard(self.requests) or server.llen(self.items) or any(server.scan_iter(self.workers_alive))
        )

    def crawl_running(self, server: redis.Redis) -> bool:
        """Requests queued, or in the hands of a live worker (a dead worker's are queued again
        by the next worker that starts, in whatever crawl that is)."""
        if server.zcard(self.requests):
            return True
        for key in server.scan_iter(self.in_flight):
            worker = key.decode().rsplit(":inflight:", 1)[1]
            if server.hlen(key) and server.exists(self.workers_alive.replace("*", worker)):
                return True
        return False

    def threads(self, site: str) -> str:
        return f"{self.prefix}:threads:{site}"  # hash: tid -> StoredThread as JSON

    def walks(self, site: str) -> str:
        return f"{self.prefix}:walks:{site}"  # hash: fid -> 1 when the last walk was cut short

    def retries(self, site: str) -> str:
        return f"{self.prefix}:retries:{site}"  # hash: url -> what it was asked as, failed last time

    def profiles(self, site: str) -> str:
        return f"{self.prefix}:profiles:{site}"  # hash: uid -> 1 profile read or closed, 0 not yet

    def portal_read(self, site: str) -> str:
        return f"{self.prefix}:portal_read:{site}"  # set: aids archived with all their pages

    def no_portal(self, site: str) -> str:
        return f"{self.prefix}:no_portal:{site}"  # set: portal.php URLs that answered: no portal

    def refresh_choice(self, site: str, policy: str) -> str:
        # JSON: the tids this crawl's refresh policy re-reads, chosen once for the whole fleet;
        # under the tracker's prefix, so that a new crawl (RedisThreadTracker.reset) chooses again
        return f"{self.prefix}:tracking:refresh:{site}:{policy}"


# The counters a distributed crawl's workers add up for its record (each worker has its own):
# what pipelines.runs reads of Scrapy's stats besides the writer's own counts.
FLEET_COUNTERS = ("archive/threads/", "archive/open_walks", "archive/problems/", "archive/failed_pages",
                  "archive/requests_saved", "archive/skipped_seeds", "downloader/request_count")


def fleet_counters(stats: dict[str, Any]) -> dict[str, int]:
    return {key: value for key, value in stats.items() if key.startswith(FLEET_COUNTERS) and isinstance(value, int)}


# The pages of the other kinds a failed fetch of which the next run asks again (spiders.extras).
RETRIED = (PageKind.COMMENTMORE, PageKind.VIEWRATINGS, PageKind.PORTAL_COMMENTS, PageKind.PROFILE)
PORTAL = (PageKind.PORTAL_LIST, PageKind.PORTAL_ARTICLE)


class RedisItems:
    """A distributed worker's items, on their way to the writer: pushed to Redis before the
    worker lets go of the request that gave them."""

    def __init__(self, server: redis.Redis, keys: Keys):
        self.server = server
        self.keys = keys

    def process_item(self, item: Any) -> Any:
        if isinstance(item, ITEMS):
            self.server.rpush(self.keys.items, pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL))
        return item


def publish_state(db: Database, server: redis.Redis, keys: Keys, touched: Iterable[tuple[str, int]] | None = None) -> None:
    """Publish what the archive holds: every thread (``touched`` None: what was published
    before, perhaps of another archive, goes first), or just those threads."""
    state = ArchiveState.over(db)
    pipe = server.pipeline()
    if touched is None:
        for pattern in ("threads", "walks", "retries", "profiles", "portal_read", "no_portal"):
            for key in server.scan_iter(f"{keys.prefix}:{pattern}:*"):
                pipe.delete(key)
        pipe.delete(keys.posts_per_page)
    for row in db["sites"].rows:
        if row["posts_per_page"]:
            pipe.hset(keys.posts_per_page, row["site"], row["posts_per_page"])
        for fid in {r["fid"] for r in db["forums"].rows_where("site = ?", [row["site"]])}:
            pipe.hset(keys.walks(row["site"]), fid, int(state.forum_walk_was_cut_short(row["site"], fid)))
    if touched is None:
        threads = state.all_threads()
    else:
        threads = [(site, thread) for site, tid in set(touched) if (thread := state.thread(site, tid))]
    for site, thread in threads:
        pipe.hset(keys.threads(site), thread.tid, json.dumps(thread.__dict__))
    pipe.execute()


def publish_extras(db: Database, server: redis.Redis, keys: Keys, items: list | None = None) -> None:
    """Publish the rest of what the workers ask: failed pages to ask again, members whose
    profile is known, portal articles read whole, sites without a portal. For every site
    (``items`` None), or as far as these items (one committed batch) changed it."""
    state = ArchiveState.over(db)
    pages = [item for item in items or () if isinstance(item, FetchedPage)]
    sites = [row["site"] for row in db["sites"].rows] if items is None else sorted({page.site for page in pages})
    pipe = server.pipeline()
    for site in sites:
        mine = [page for page in pages if page.site == site]
        urls = None if items is None else [page.url for page in mine if page.asked_as in RETRIED]
        if urls is None:
            pipe.delete(keys.retries(site))
        elif urls:
            pipe.hdel(keys.retries(site), *urls)
        if urls is None or urls:
            for url, asked_as in state.retries(site, RETRIED, urls):
                pipe.hset(keys.retries(site), url, asked_as)
        uids = None if items is None else sorted(_members_shown(mine))
        if uids is None or uids:
            for uid, known in state.profile_known(site, uids).items():
                pipe.hset(keys.profiles(site), uid, int(known))
        if items is None or any(page.asked_as in PORTAL for page in mine):
            _replace_set(pipe, keys.portal_read(site), state.portal_articles_read(site))
            _replace_set(pipe, keys.no_portal(site), state.no_portal_urls(site))
    pipe.execute()


def _members_shown(pages: list[FetchedPage]) -> set[int]:
    """The members these pages add to users or tell about: posts' and listed threads' authors,
    profile pages' members."""
    uids = set()
    for page in pages:
        if page.thread:
            uids |= {post.author_uid for post in page.thread.posts if post.author_uid is not None}
        if page.forum:
            uids |= {row.author_uid for row in page.forum.threads if row.author_uid is not None}
        if page.asked_as == PageKind.PROFILE and (uid := profile_uid(page.url)) is not None:
            uids.add(uid)
    return uids


def _replace_set(pipe, key: str, members: set) -> None:
    pipe.delete(key)
    if members:
        pipe.sadd(key, *members)


class RedisState:
    """ArchiveState's questions, answered from what the writer published."""

    def __init__(self, server: redis.Redis, keys: Keys):
        self.server = server
        self.keys = keys

    def thread(self, site: str, tid: int) -> StoredThread | None:
        value = self.server.hget(self.keys.threads(site), tid)
        return StoredThread(**json.loads(value)) if value else None

    def unsynced_threads(self, site: str, fids: set[int] | None = None) -> list[StoredThread]:
        return [
            t
            for t in self._threads(site)
            if not t.gone
            and (t.synced_at is None or (t.replies, t.last_post_at) != (t.synced_replies, t.synced_last_post_at))
            and (fids is None or t.fid in fids)
        ]

    def refresh_candidates(self, site: str, policy: str, now: datetime) -> list[StoredThread]:
        """The first worker to ask chooses for the fleet: the writer moves a re-read thread's
        synced_at while the crawl runs, so a worker asking later would find other "oldest"."""
        kind, value = refresh_policy(policy)
        threads = [t for t in self._threads(site) if not t.gone]
        if kind == "all":
            return threads
        if kind == "recent":
            since = now - timedelta(days=float(value))  # an instant: last_post_at is in the forum's offset
            chosen = [t for t in threads if t.last_post_at and datetime.fromisoformat(t.last_post_at) >= since]
        else:
            chosen = sorted(threads, key=lambda t: (t.synced_at is not None, t.synced_at or "", t.tid))[: int(value)]
        key = self.keys.refresh_choice(site, policy)
        self.server.set(key, json.dumps([t.tid for t in chosen]), nx=True)
        tids = set(json.loads(self.server.get(key)))
        return [t for t in threads if t.tid in tids]

    def forum_walk_was_cut_short(self, site: str, fid: int) -> bool:
        return self.server.hget(self.keys.walks(site), fid) != b"0"

    def posts_per_page(self, site: str) -> int | None:
        value = self.server.hget(self.keys.posts_per_page, site)
        return int(value) if value else None

    def pages_to_retry(self, site: str, asked_as: tuple[str, ...]) -> list[str]:
        found = self.server.hgetall(self.keys.retries(site))
        return sorted(url.decode() for url, kind in found.items() if kind.decode() in asked_as)

    def users_without_profile(self, site: str) -> list[int]:
        return sorted(uid for uid, known in self._profiles(site).items() if not known)

    def users_with_profile(self, site: str) -> set[int]:
        return {uid for uid, known in self._profiles(site).items() if known}

    def portal_articles_read(self, site: str) -> set[int]:
        return {int(aid) for aid in self.server.smembers(self.keys.portal_read(site))}

    def has_no_portal(self, site: str, url: str) -> bool:
        return bool(self.server.sismember(self.keys.no_portal(site), url))

    def _profiles(self, site: str) -> dict[int, bool]:
        return {int(uid): known == b"1" for uid, known in self.server.hgetall(self.keys.profiles(site)).items()}

    def _threads(self, site: str) -> list[StoredThread]:
        return [StoredThread(**json.loads(v)) for v in self.server.hvals(self.keys.threads(site))]

    def close(self) -> None:
        self.server.close()
