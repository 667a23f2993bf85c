"""What the archive already holds, read by the spider to decide what to fetch next.

Read-only: the pipeline is the archive's only writer. Keeping the crawl's frontier in the
archive (threads the listing showed but no run archived yet, forum walks cut short) is what
lets a run that was killed be followed by one that continues where it stopped, with nothing
lost and nothing fetched twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlite_utils import Database

from scraper.kinds import PageKind
from scraper.urls import thread_ref


@dataclass(frozen=True)
class StoredThread:
    tid: int
    fid: int | None
    url: str | None
    replies: int | None  # the latest count seen (listing or page 1)
    last_post_at: str | None  # the latest the listing showed
    synced_replies: int | None  # the count the archive holds complete
    synced_last_post_at: str | None
    synced_at: str | None
    last_floor: int  # the highest floor archived (0: nothing yet)
    page_count: int | None
    gone: bool
    failed_page: int | None = None  # the first page whose last fetch failed: no run archived it

    def unchanged(self, replies: int | None, last_post_at: str | None) -> bool:
        """The listing row says nothing happened since the thread was archived."""
        return self.synced_replies is not None and (replies, last_post_at) == (
            self.synced_replies,
            self.synced_last_post_at,
        )


class ArchiveState:
    """Queries over an archive file; an archive that does not exist yet is simply empty."""

    def __init__(self, path: str | Path):
        exists = Path(path).exists()
        self.db = Database(path) if exists else None
        if self.db is not None and "articles" not in self.db.table_names():
            self.db = None

    @classmethod
    def over(cls, db: Database) -> ArchiveState:
        """Over an archive already open (the writer's)."""
        state = cls.__new__(cls)
        state.db = db
        return state

    def all_threads(self) -> list[tuple[str, StoredThread]]:
        if self.db is None:
            return []
        sites = [row[0] for row in self.db.execute("SELECT site FROM sites")]
        return [(site, thread) for site in sites for thread in self._threads("a.site = ?", [site])]

    def thread(self, site: str, tid: int) -> StoredThread | None:
        rows = self._threads("a.site = ? AND a.tid = ?", [site, tid])
        return rows[0] if rows else None

    def unsynced_threads(self, site: str, fids: set[int] | None = None) -> list[StoredThread]:
        """Threads the listing showed changed but no run finished archiving: the frontier."""
        where = (
            "a.site = ? AND a.gone_since IS NULL AND (a.synced_at IS NULL"
            " OR a.replies IS NOT a.synced_replies OR a.last_post_at IS NOT a.synced_last_post_at)"
        )
        return [t for t in self._threads(where, [site]) if fids is None or t.fid in fids]

    def refresh_candidates(self, site: str, policy: str, now: datetime) -> list[StoredThread]:
        """Threads to re-read in full whatever their listing says (edits and deletions do not
        show in Discuz's thread lists): ``all``, ``recent:DAYS`` (active in the last DAYS days)
        or ``oldest:N`` (the N threads read longest ago, so a schedule cycles through all)."""
        kind, value = refresh_policy(policy)
        if kind == "all":
            return self._threads("a.site = ? AND a.gone_since IS NULL", [site])
        if kind == "recent":
            since = (now - timedelta(days=float(value))).isoformat()
            # datetime() compares instants: last_post_at is in the forum's offset, ``since`` in UTC
            return self._threads(
                "a.site = ? AND a.gone_since IS NULL AND datetime(a.last_post_at) >= datetime(?)", [site, since]
            )
        return self._threads(
            "a.site = ? AND a.gone_since IS NULL", [site], order="a.synced_at IS NOT NULL, a.synced_at, a.tid", limit=int(value)
        )

    def forum_walk_was_cut_short(self, site: str, fid: int) -> bool:
        """The last walk of this forum's list started but never finished (a killed run), or
        there was none: the walk must not stop at the first unchanged thread this time."""
        if self.db is None:
            return True
        row = self.db.execute(
            "SELECT walk_started_at, walk_finished_at FROM forums WHERE site = ? AND fid = ?", [site, fid]
        ).fetchone()
        if row is None or row[1] is None:
            return True
        return row[0] is not None and row[0] > row[1]

    def posts_per_page(self, site: str) -> int | None:
        if self.db is None:
            return None
        row = self.db.execute("SELECT posts_per_page FROM sites WHERE site = ?", [site]).fetchone()
        return row[0] if row else None

    def pages_to_retry(self, site: str, asked_as: tuple[str, ...]) -> list[str]:
        """The URLs asked as one of ``asked_as`` (commentmore, viewratings, profile …) whose
        last fetch failed, in URL order: the next run asks them again. A profile that guests
        may not see is not among them: it is recorded on its user (users.profile_status)."""
        return [url for url, _ in self.retries(site, asked_as)]

    def retries(self, site: str, asked_as: tuple[str, ...], urls: list[str] | None = None) -> list[tuple[str, str]]:
        """pages_to_retry's (url, asked_as), among ``urls`` when given."""
        if self.db is None or not asked_as or "asked_as" not in self.db["pages"].columns_dict:
            return []  # an archive of an earlier version recorded no such pages
        marks = ", ".join("?" for _ in asked_as)
        among = f" AND url IN ({', '.join('?' for _ in urls)})" if urls is not None else ""
        return [(url, kind) for url, kind in self.db.execute(
            f"SELECT url, asked_as FROM pages WHERE site = ? AND asked_as IN ({marks}) AND error IS NOT NULL{among}"
            f" AND NOT (asked_as = '{PageKind.PROFILE}' AND kind IN ('{PageKind.LOGIN}', '{PageKind.MISSING}'))"
            " ORDER BY url", [site, *asked_as, *(urls or ())],
        )]

    def has_no_portal(self, site: str, url: str) -> bool:
        """Whether the last run's probe found no portal at ``url`` (portal.php): later runs
        do not ask again unless told to read everything (refresh=all)."""
        return url in self.no_portal_urls(site)

    def no_portal_urls(self, site: str) -> set[str]:
        if self.db is None:
            return set()
        return {url for (url,) in self.db.execute(
            "SELECT url FROM pages WHERE site = ? AND kind = ?", [site, PageKind.NO_PORTAL]
        )}

    def profile_known(self, site: str, uids: list[int] | None = None) -> dict[int, bool]:
        """For each member (among ``uids`` when given): whether a run read their profile page
        or found it closed to guests (users.profile_status)."""
        if self.db is None or "profile_status" not in self.db["users"].columns_dict:
            return {}
        among = f" AND uid IN ({', '.join('?' for _ in uids)})" if uids is not None else ""
        return {uid: bool(known) for uid, known in self.db.execute(
            f"SELECT uid, profile_status IS NOT NULL FROM users WHERE site = ?{among}", [site, *(uids or ())]
        )}

    def users_without_profile(self, site: str) -> list[int]:
        """The members whose profile page no run has read or recorded as closed to guests."""
        return sorted(uid for uid, known in self.profile_known(site).items() if not known)

    def users_with_profile(self, site: str) -> set[int]:
        """The members whose profile page a run read, or found closed to guests: not asked again."""
        return {uid for uid, known in self.profile_known(site).items() if known}

    def portal_articles_read(self, site: str) -> set[int]:
        """The portal articles archived with every one of their pages."""
        if self.db is None or not self.db["portal_articles"].exists():
            return set()
        return {aid for (aid,) in self.db.execute(
            "SELECT a.aid FROM portal_articles a WHERE a.site = ? AND coalesce(a.page_count, 1) <="
            " (SELECT count(*) FROM portal_article_pages p WHERE p.site = a.site AND p.aid = a.aid)", [site]
        )}

    def _threads(self, where: str, params: list, order: str = "a.tid", limit: int | None = None) -> list[StoredThread]:
        if self.db is None:
            return []
        sql = f"""
            SELECT a.tid, a.fid, a.url, a.replies, a.last_post_at, a.synced_replies, a.synced_last_post_at, a.synced_at,
                   a.page_count,
                   a.gone_since IS NOT NULL,
                   max(coalesce((SELECT max(floor) FROM comments c WHERE c.site = a.site AND c.tid = a.tid), 0),
                       CASE WHEN a.pid IS NULL THEN 0 ELSE 1 END),
                   (SELECT group_concat(p.url, char(10)) FROM pages p
                     WHERE p.site = a.site AND p.tid = a.tid AND p.error IS NOT NULL AND p.kind != '{PageKind.MISSING}')
              FROM articles a WHERE {where} ORDER BY {order}"""
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [
            StoredThread(
                tid, fid, url, replies, last_post, synced, synced_last, synced_at, last_floor, page_count, bool(gone),
                _first_page(failed),
            )
            for tid, fid, url, replies, last_post, synced, synced_last, synced_at, page_count, gone, last_floor, failed in self.db.execute(
                sql, params
            )
        ]

    def close(self) -> None:
        if self.db is not None:
            self.db.close()


def refresh_policy(policy: str) -> tuple[str, str]:
    """A refresh policy's kind (all, recent or oldest) and its value ("recent:30" -> ("recent", "30"))."""
    kind, _, value = policy.partition(":")
    if kind not in ("all", "recent", "oldest"):
        raise ValueError(f"unknown refresh policy {policy!r}: use all, recent:DAYS or oldest:N")
    return kind, value


def _first_page(urls: str | None) -> int | None:
    """The lowest thread page among these URLs (one a line)."""
    pages = [ref.page for url in (urls or "").splitlines() if (ref := thread_ref(url))]
    return min(pages, default=None)
