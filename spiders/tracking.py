"""Which pages this crawl has asked for, and when the last asked page of a thread is in.

The spider asks for each page once per crawl (its identity is (site, tid, page), not the
URL's spelling), and says a thread is archived (ThreadSynced) only when every page it asked
for of that thread was read. ``ThreadTracker`` keeps this in the process; the distributed
crawl keeps the same record in Redis (spiders.distributed.RedisThreadTracker), so that pages
of one thread read by different workers still add up.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from dataclasses import dataclass, field
from heapq import merge
from scraper.dates import utc_now_iso
from scraper.models import Post, ThreadSynced


@dataclass
class ThreadTask:
    """One thread's pages in this crawl: when none is pending, the thread is archived."""

    site: str
    tid: int
    first_page: int
    expected: tuple[int | None, str | None] | None = None  # (replies, last post) the list showed
    archived: tuple[int | None, int] | None = None  # (replies, last floor) archived before
    pending: set[int] = field(default_factory=set)
    pids: set[int] = field(default_factory=set)
    replies: int | None = None  # from page 1, when no listing row says
    last_floor: int = 0
    failed: bool = False


class ClaimedKeys:
    """The page identities claimed in this crawl, one or more a page, held to the crawl's end.

    Nearly every key is (kind, site, number, ...) with small numbers after the first (a tid and
    a page, a pid): those are packed into one int, exactly (two keys share an int only when they
    are equal), and kept with the others of their (kind, site, length) as ``Numbers``: 8 bytes a
    key, no object of its own. Any other key (a URL, a negative or huge number) is kept as it is.
    """

    PART_BITS = 24  # the numbers after the first: a thread's page, a list's page (Discuz: thousands)

    def __init__(self) -> None:
        self.packed: dict[tuple, Numbers] = {}
        self.others: set[tuple] = set()

    def add(self, key: tuple) -> bool:
        """True when ``key`` was not here yet."""
        packed = self.pack(key)
        if packed is None:
            if key in self.others:
                return False
            self.others.add(key)
            return True
        head, number = packed
        numbers = self.packed.get(head)
        if numbers is None:
            numbers = self.packed[head] = Numbers()
        return numbers.add(number)

    def __len__(self) -> int:
        return len(self.others) + sum(map(len, self.packed.values()))

    @classmethod
    def pack(cls, key: tuple) -> tuple[tuple, int] | None:
        if len(key) < 3 or not all(type(part) is int and part >= 0 for part in key[2:]):
            return None
        number = key[2]
        for part in key[3:]:
            if part >> cls.PART_BITS:
                return None
            number = number << cls.PART_BITS | part
        if number >> 63:  # beyond an array's 8 bytes
            return None
        return (key[0], key[1], len(key)), number


class Numbers:
    """A set of ints in [0, 2**63) that only grows, 8 bytes each: a sorted array, and the few
    added since the last merge in a set (merged when they are an eighth of the array)."""

    def __init__(self) -> None:
        self.merged = array("q")
        self.recent: set[int] = set()

    def add(self, number: int) -> bool:
        """True when ``number`` was not here yet."""
        if number in self.recent:
            return False
        at = bisect_left(self.merged, number)
        if at < len(self.merged) and self.merged[at] == number:
            return False
        self.recent.add(number)
        if len(self.recent) > max(1024, len(self.merged) >> 3):
            self.merged = array("q", merge(self.merged, sorted(self.recent)))
            self.recent = set()
        return True

    def __len__(self) -> int:
        return len(self.merged) + len(self.recent)


class ThreadTracker:
    def __init__(self) -> None:
        self.claimed = ClaimedKeys()
        self.tasks: dict[tuple[str, int], ThreadTask] = {}
        self.started = 0

    def claim(self, key: tuple) -> bool:
        """True the first time ``key`` (a page's identity) is claimed in this crawl."""
        return self.claimed.add(key)

    def start(self, task: ThreadTask, limit: int | None = None) -> bool:
        """Start the thread, unless ``limit`` threads are started already (max_threads)."""
        self.started += 1
        if limit is not None and self.started > limit:
            return False
        self.tasks[(task.site, task.tid)] = task
        return True

    def threads_started(self) -> int:
        """Threads started in this crawl (max_threads bounds them)."""
        return self.started

    def first_page(self, site: str, tid: int) -> int | None:
        """Where reading of the thread started; None for a thread not tracked (a page given alone)."""
        task = self.tasks.get((site, tid))
        return task.first_page if task else None

    def page_asked(self, site: str, tid: int, page: int) -> None:
        if task := self.tasks.get((site, tid)):
            task.pending.add(page)

    def page_done(
        self, site: str, tid: int, page: int, posts: list[Post] = (), replies: int | None = None, failed: bool = False
    ) -> ThreadSynced | None:
        """Record one page of the thread as read (or failed); the ThreadSynced when it was the last."""
        task = self.tasks.get((site, tid))
        if task is None:
            return None
        record_page(task, posts, replies, failed)
        task.pending.discard(page)
        if task.pending:
            return None
        del self.tasks[(site, tid)]
        return synced(task)


def record_page(task: ThreadTask, posts: list[Post], replies: int | None, failed: bool) -> None:
    task.pids.update(post.pid for post in posts)
    task.last_floor = max([task.last_floor] + [post.floor or 0 for post in posts])
    if replies is not None:
        task.replies = replies
    task.failed = task.failed or failed


def synced(task: ThreadTask) -> ThreadSynced | None:
    """What the archive holds of a thread whose pages are all read; None when one failed."""
    if task.failed or not task.pids:
        return None
    if task.expected:
        replies, last_post_at = task.expected
    else:  # a thread URL given directly: page 1 says how many replies, else the growth does
        replies = task.replies
        if replies is None and task.archived and task.archived[0] is not None:
            replies = task.archived[0] + max(0, task.last_floor - task.archived[1])
        if replies is None:
            replies = task.last_floor - 1
        last_post_at = None
    return ThreadSynced(
        site=task.site,
        tid=task.tid,
        replies=replies,
        last_post_at=last_post_at,
        synced_at=utc_now_iso(),
        complete=task.first_page == 1,
        pids=sorted(task.pids),
    )
