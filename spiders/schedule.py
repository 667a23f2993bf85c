"""What a run reads besides what its thread lists show changed, and how far it goes: the
archive's frontier (threads an earlier run left unarchived), the refresh policy's threads,
the limits (max_threads, since), where in a thread reading resumes, and which failed pages
the next run asks again (counted for the run's summary). A mixin of
DiscuzSpider (spiders.discuz), which gives it ``state``, ``forums``, ``refresh``,
``max_threads``, ``since`` and ``_thread_request``.

What each costs, in requests, is in the README (*Scheduled crawls*; docs/scheduled-crawls.md):
- a plain run walks each list until its first unchanged thread: one list page a forum when
  little changed; ``refresh=recent:DAYS`` and ``oldest:N`` walk the same way, and read their
  threads from page 1 besides; only ``refresh=all`` walks every list page.
- a walk that a limit stops stays open (forums.walk_open_because): the next run walks the
  whole list (unchanged threads cost nothing there), so no thread listed only on later pages
  is left behind, whatever limits are used in whatever order.
"""

from __future__ import annotations

from datetime import datetime, timezone

from pipelines.state import StoredThread
from scraper.kinds import PageKind
from spiders import arguments

# Problems no run asks again: a thread or forum the site deleted, a request the crawl refused.
NOT_RETRIED = (PageKind.MISSING, PageKind.ROBOTS, PageKind.OFFSITE, PageKind.PRIVATE_ADDRESS)


class Scheduling:
    """The frontier, the refresh policy and the limits of a run."""

    @property
    def refresh_all(self) -> bool:
        return self.refresh is not None and self.refresh.kind == "all"

    def _from_the_archive(self, site: str):
        """Threads a cut-short run left unarchived, and the threads the refresh policy re-reads;
        max_threads and since bound them as they bound the walk's."""
        to_refresh = self._to_refresh(site)
        for stored in self.state.unsynced_threads(site, self.forums):
            if self.since and stored.last_post_at and arguments.before(stored.last_post_at, self.since):
                continue
            # one the refresh re-reads is read whole, even where an earlier run left off
            start = 1 if stored.tid in to_refresh else self._start_page(site, stored, stored.replies)
            expected = (stored.replies, stored.last_post_at)
            why = "new" if stored.synced_at is None else "changed"
            if stored.url and (request := self._thread_request(stored.url, site, stored.tid, start, expected, why=why)):
                self.logger.info("Resuming thread %s left unfinished by an earlier run", stored.tid)
                yield request
        for stored in self._refreshed.get(site, []):
            # archived as the listing last showed it: a re-read changes nothing the walk compares
            expected = (stored.replies, stored.last_post_at)
            if stored.url and (request := self._thread_request(stored.url, site, stored.tid, 1, expected, why="refreshed")):
                yield request

    def _seed_thread_request(self, seed: str, site: str, ref):
        """A thread given as a seed (``ref``: its thread_ref): read from where its archived posts
        end, else from the seed's page (whole under refresh=all); counted as a new thread read
        when the archive lacks it, as a listed one is."""
        held = self.state.thread(site, ref.tid)
        stored = None if self.refresh_all else held
        start = self._start_page(site, stored) if stored else ref.page
        archived = (stored.replies, stored.last_floor) if stored else None
        why = "new" if held is None or held.synced_at is None else "refreshed" if self.refresh_all else None
        return self._thread_request(seed, site, ref.tid, start, archived=archived, why=why)

    def _listed_thread_request(self, site: str, row, stored: StoredThread | None, whole: bool):
        """The request that reads a thread a list shows (a forum's or a guide's): from page 1
        when it is new or read whole, else where its posts not yet archived begin."""
        start = 1 if whole or not stored else self._start_page(site, stored, row.replies)
        unchanged = stored is not None and stored.unchanged(row.replies, row.last_post_at)
        why = "refreshed" if unchanged else "new" if stored is None or stored.synced_at is None else "changed"
        return self._thread_request(row.url, site, row.tid, start, (row.replies, row.last_post_at), why=why)

    def _to_refresh(self, site: str) -> set[int]:
        """The tids the refresh policy re-reads whole on this site (asked once a crawl)."""
        if site not in self._refreshed:
            found = []
            if self.refresh is not None:
                now = datetime.now(timezone.utc)
                found = [
                    stored for stored in self.state.refresh_candidates(site, str(self.refresh), now)
                    if self.forums is None or stored.fid in self.forums
                ]
            self._refreshed[site] = found
        return {stored.tid for stored in self._refreshed[site]}

    def _start_page(self, site: str, stored: StoredThread, replies: int | None = None) -> int:
        """Where to resume reading a thread: where its posts not yet archived begin, or the
        first page whose last fetch failed (pages after it may have come through)."""
        page = self._first_unarchived_page(site, stored, replies)
        return min(page, stored.failed_page) if stored.failed_page else page

    def _first_unarchived_page(self, site: str, stored: StoredThread, replies: int | None = None) -> int:
        """The page of a thread's first post not yet archived when
        ``replies`` (the listing's count) says there is one, else the page of its last archived
        post (it exists, and shows whether there is more). Page 1 when the thread now has fewer
        replies than archived: posts were deleted, so read it all."""
        per_page = self.state.posts_per_page(site)
        if replies is not None and stored.synced_replies is not None and replies < stored.synced_replies:
            return 1
        if not per_page or stored.last_floor == 0:
            return 1
        grew = replies is not None and replies + 1 > stored.last_floor
        next_floor = stored.last_floor + 1 if grew else stored.last_floor
        return (next_floor - 1) // per_page + 1

    def _count_problem(self, kind: str, asked_as: str) -> None:
        """A page that failed, by kind; and, for the run's summary, whether the next run asks it
        again (a deleted thread, a refused request, a profile closed to guests: not)."""
        self.crawler.stats.inc_value(f"archive/problems/{kind}")
        closed_profile = asked_as == PageKind.PROFILE and kind in (PageKind.LOGIN, PageKind.MISSING)
        if kind not in NOT_RETRIED and not closed_profile:
            self.crawler.stats.inc_value("archive/failed_pages")

    def _limit_reached(self) -> bool:
        """max_threads reached: threads started by this crawl (by the whole fleet: the tracker's)."""
        return self.max_threads is not None and self.tracker.threads_started() >= self.max_threads

