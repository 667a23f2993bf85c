"""The archive's side of a distributed crawl (scrapy-redis): items wait in Redis until the
one writer commits them, and what the archive holds is published to Redis for the workers.

SQLite has one writer. Workers on any machine push their items to a Redis list
(``RedisItems``); ``python -m pipelines.writer`` moves them into the archive with the same
writes as a single-process crawl (pipelines.store), and after each committed batch publishes
the state the workers' decisions need (which threads are archived up to which floor, posts
per page, forum walks), which ``RedisState`` reads with ArchiveState's methods. Keys share
one prefix (the setting ``DISTRIBUTED_KEY``).
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
from scraper.settings import DISTRIBUTED_KEY as DEFAULT_KEY  # the writer runs without Scrapy's settings


def connect(url: str) -> redis.Redis:
    return redis.Redis.from_url(url)


class Keys:
    """Every Redis key of one distributed crawl."""

    def __init__(self, prefix: str = DEFAULT_KEY):
        self.prefix = prefix
        self.items = f"{prefix}:items"  # list: pickled items waiting for the writer
        self.writing = f"{prefix}:items:writing"  # list: the batch the writer is committing
        self.sites = f"{prefix}:sites"  # set: the sites this crawl may fetch from
        self.posts_per_page = f"{prefix}:posts_per_page"  # hash: site -> posts per page
        self.requests = f"{prefix}:requests"  # sorted set: scrapy-redis' request queue
        self.workers_alive = f"{prefix}:requests:alive:*"  # one key per live worker (a heartbeat)

    @classmethod
    def from_settings(cls, settings: Any) -> Keys:
        """The keys of the crawl the Scrapy settings name (``DISTRIBUTED_KEY``)."""
        return cls(settings.get("DISTRIBUTED_KEY", DEFAULT_KEY))

    def fleet_done(self, server: redis.Redis) -> bool:
        """No request queued, no worker alive, no item waiting: the crawl is over."""
        return not (
            server.zcard(self.requests) or server.llen(self.items) or any(server.scan_iter(self.workers_alive))
        )

    def threads(self, site: str) -> str:
        return f"{self.prefix}:threads:{site}"  # hash: tid -> StoredThread as JSON

    def walks(self, site: str) -> str:
        return f"{self.prefix}:walks:{site}"  # hash: fid -> 1 when the last walk was cut short


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
    """Publish what the archive holds: every thread (``touched`` None), or just those threads."""
    state = ArchiveState.over(db)
    pipe = server.pipeline()
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
        kind, value = refresh_policy(policy)
        threads = [t for t in self._threads(site) if not t.gone]
        if kind == "all":
            return threads
        if kind == "recent":
            since = now - timedelta(days=float(value))  # an instant: last_post_at is in the forum's offset
            return [t for t in threads if t.last_post_at and datetime.fromisoformat(t.last_post_at) >= since]
        return sorted(threads, key=lambda t: (t.synced_at is not None, t.synced_at or ""))[: int(value)]

    def forum_walk_was_cut_short(self, site: str, fid: int) -> bool:
        return self.server.hget(self.keys.walks(site), fid) != b"0"

    def posts_per_page(self, site: str) -> int | None:
        value = self.server.hget(self.keys.posts_per_page, site)
        return int(value) if value else None

    # What the writer does not publish (yet): a distributed crawl asks no failed commentmore,
    # viewratings or profile page again, reads every profile and portal article it meets, and
    # asks portal.php on every run.
    def pages_to_retry(self, site: str, asked_as: tuple[str, ...]) -> list[str]:
        return []

    def users_without_profile(self, site: str) -> list[int]:
        return []

    def users_with_profile(self, site: str) -> set[int]:
        return set()

    def portal_articles_read(self, site: str) -> set[int]:
        return set()

    def has_no_portal(self, site: str, url: str) -> bool:
        return False

    def _threads(self, site: str) -> list[StoredThread]:
        return [StoredThread(**json.loads(v)) for v in self.server.hvals(self.keys.threads(site))]

    def close(self) -> None:
        self.server.close()
