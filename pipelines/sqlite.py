"""Store fetched Discuz! pages in one SQLite file (sqlite-utils), ready for datasette.

The storage is plain functions over a ``sqlite_utils.Database`` so tests can use
``Database(memory=True)``; ``ArchivePipeline`` is only the Scrapy shell around them.

Example::

    db = open_archive("archive.db")
    counts = save_pages(db, [fetched_page])   # {"archive/pages": 1, "archive/comments": 9, ...}
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlite_utils import Database
from sqlite_utils.db import NotFoundError, Table

from scraper.models import FetchedPage, Post, ThreadPage

if TYPE_CHECKING:  # the storage functions work without Scrapy
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

# Post attributes stored for the article and for each comment alike (flags is a property).
POST_COLUMNS: dict[str, type] = {
    "pid": int,
    "author": str,
    "author_uid": int,
    "posted_at": str,
    "content_text": str,
    "content_html": str,
    "edited_by": str,
    "edited_at": str,
    "quote_pid": int,
    "quote_author": str,
    "images": str,  # JSON list
    "attachments": str,  # JSON list
    "flags": str,  # JSON list: "hidden", "masked", "blocked"
}

# name: (columns, primary key); every table but sites links to sites.site.
TABLES: dict[str, tuple[dict[str, type], str | tuple[str, ...]]] = {
    "sites": (
        {"site": str, "generator": str, "first_seen_at": str, "last_crawled_at": str},
        "site",
    ),
    "forums": (
        {"site": str, "fid": int, "name": str, "first_seen_at": str},
        ("site", "fid"),
    ),
    "users": (
        {"site": str, "uid": int, "username": str, "first_seen_at": str},
        ("site", "uid"),
    ),
    "articles": (
        {"site": str, "tid": int, "fid": int, "forum_name": str, "title": str}
        | POST_COLUMNS
        | {"views": int, "replies": int, "page_count": int, "url": str}
        | {"first_seen_at": str, "last_crawled_at": str},
        ("site", "tid"),
    ),
    "comments": (
        {"site": str, "pid": int, "tid": int, "floor": int}  # pid keeps this place in the merge
        | POST_COLUMNS
        | {"first_seen_at": str, "last_seen_at": str},
        ("site", "pid"),
    ),
    "pages": (
        {
            "url": str,
            "site": str,
            "kind": str,
            "status": int,
            "fetched_at": str,
            "bytes": int,
            "sha256": str,
            "charset": str,
            "declared_charset": str,
            "error": str,
            "tid": int,
            "page": int,
        },
        "url",
    ),
}

INDEXES = {
    "articles": [["site", "fid"]],
    "comments": [["site", "tid", "floor"], ["site", "author_uid"]],
    "pages": [["site", "tid"]],
}

POSTS_VIEW = """
SELECT site, tid, pid, 1 AS floor, 1 AS is_article,
       author, author_uid, posted_at, content_text, flags, title
  FROM articles
 WHERE pid IS NOT NULL
UNION ALL
SELECT c.site, c.tid, c.pid, c.floor, 0 AS is_article,
       c.author, c.author_uid, c.posted_at, c.content_text, c.flags, a.title
  FROM comments AS c
  LEFT JOIN articles AS a ON a.site = c.site AND a.tid = c.tid
 ORDER BY site, tid, floor, pid
""".strip()


def open_archive(target: str | Path | Database) -> Database:
    """Open (or adopt) the archive in WAL mode so datasette can read while we write."""
    db = target if isinstance(target, Database) else Database(target)
    db.execute("PRAGMA busy_timeout = 30000")  # wait out a reader's lock instead of failing
    db.enable_wal()
    create_schema(db)
    return db


def create_schema(db: Database) -> None:
    """Create the tables, indexes and the posts view when missing; safe to run on every start."""
    for name, (columns, pk) in TABLES.items():
        foreign_keys = [] if name == "sites" else [("site", "sites", "site")]
        db[name].create(columns, pk=pk, foreign_keys=foreign_keys, if_not_exists=True)
    for name, indexes in INDEXES.items():
        for columns in indexes:
            db[name].create_index(columns, if_not_exists=True)
    db.create_view("posts", POSTS_VIEW, replace=True)


def save_pages(db: Database, pages: Iterable[FetchedPage]) -> Counter[str]:
    """Write the pages in one transaction; return the ``archive/*`` counts for Scrapy's stats."""
    counts: Counter[str] = Counter()
    with db.atomic():
        for page in pages:
            _save_page(db, page, counts)
    return counts


def _save_page(db: Database, page: FetchedPage, counts: Counter[str]) -> None:
    stamp = _utc(page.fetched_at)
    thread = page.thread
    site_row = {"site": page.site, "last_crawled_at": stamp}
    if thread and thread.generator:
        site_row["generator"] = thread.generator
    _put(db["sites"], site_row, stamp)
    # The row tells what the latest fetch gave: a later success clears an earlier error.
    db["pages"].upsert(
        {
            "url": page.url,
            "site": page.site,
            "kind": page.kind,
            "status": page.status,
            "fetched_at": stamp,
            "bytes": page.size,
            "sha256": page.sha256,
            "charset": page.charset,
            "declared_charset": page.declared_charset,
            "error": page.error,
            "tid": thread.tid if thread else None,
            "page": thread.page if thread else None,
        },
        pk="url",
    )
    counts["archive/pages"] += 1
    if page.error:
        counts["archive/errors"] += 1
    if thread:
        _save_thread(db, thread, stamp, counts)


def _save_thread(db: Database, thread: ThreadPage, stamp: str, counts: Counter[str]) -> None:
    site, tid, article = thread.site, thread.tid, thread.article
    if thread.fid is not None:
        forum = _without_none({"site": site, "fid": thread.fid, "name": thread.forum_name})
        _put(db["forums"], forum, stamp)
    authors = {post.author_uid: post.author for post in thread.posts if post.author_uid is not None}
    for uid, username in authors.items():
        _put(db["users"], _without_none({"site": site, "uid": uid, "username": username}), stamp)

    stored = _get(db["articles"], (site, tid)) or {}
    # Thread-level fields: a None only means "not shown on this page" (views on page 2+).
    row = _without_none(
        {
            "site": site,
            "tid": tid,
            "fid": thread.fid,
            "forum_name": thread.forum_name,
            "title": thread.title,
            "views": thread.views,
            "replies": thread.replies,
            "page_count": _page_count(thread, stored.get("page_count")),
        }
    )
    row["last_crawled_at"] = stamp
    if article or not stored:
        row["url"] = thread.url
    if article:
        row |= _post_row(article)
    if _put(db["articles"], row, stamp):
        counts["archive/articles"] += 1

    article_pid = article.pid if article else stored.get("pid")
    for post in thread.comments:
        if post.pid == article_pid:
            continue
        comment = {"site": site, "tid": tid, "floor": post.floor, "last_seen_at": stamp}
        if _put(db["comments"], comment | _post_row(post), stamp):
            counts["archive/comments"] += 1


def _page_count(thread: ThreadPage, stored: int | None) -> int | None:
    """Page 1 says how many pages there are now; other pages may only raise the count."""
    if thread.page == 1 or stored is None:
        return thread.page_count
    return max(stored, thread.page_count or 0)


def _post_row(post: Post) -> dict[str, Any]:
    return {column: getattr(post, column) for column in POST_COLUMNS}


def _put(table: Table, row: dict[str, Any], stamp: str) -> bool:
    """Insert ``row`` stamped with first_seen_at, or update the stored row and keep its stamp.

    Columns missing from ``row`` keep their stored values. Returns whether the row is new.
    """
    if _get(table, tuple(row[key] for key in table.pks)) is None:
        table.insert(row | {"first_seen_at": stamp})
        return True
    table.upsert(row, pk=table.pks)
    return False


def _get(table: Table, key: tuple[Any, ...]) -> dict[str, Any] | None:
    try:
        return table.get(key)
    except NotFoundError:
        return None


def _without_none(row: dict[str, Any]) -> dict[str, Any]:
    return {column: value for column, value in row.items() if value is not None}


def _utc(stamp: str) -> str:
    """Normalise to ISO 8601 UTC so stored timestamps compare and sort as text."""
    moment = datetime.fromisoformat(stamp)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat()


class ArchivePipeline:
    """Scrapy item pipeline: buffer FetchedPage items, write them in batches with save_pages().

    Settings: ``ARCHIVE_DB`` (path, default "archive.db"), ``ARCHIVE_BATCH_SIZE`` (default 20).
    Batching keeps one transaction per N pages instead of per page; the rest is written at close.
    """

    def __init__(
        self,
        db: str | Path | Database,
        stats: StatsCollector | None = None,
        batch_size: int = 20,
    ) -> None:
        self.target = db
        self.stats = stats
        self.batch_size = batch_size
        self.db: Database | None = None
        self.buffer: list[FetchedPage] = []

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ArchivePipeline:
        settings = crawler.settings
        return cls(
            settings.get("ARCHIVE_DB", "archive.db"),
            stats=crawler.stats,
            batch_size=settings.getint("ARCHIVE_BATCH_SIZE", 20),
        )

    def open_spider(self) -> None:
        self.db = open_archive(self.target)

    def process_item(self, item: Any) -> Any:
        if isinstance(item, FetchedPage):
            self.buffer.append(item)
            if len(self.buffer) >= self.batch_size:
                self.flush()
        return item

    def close_spider(self) -> None:
        self.flush()
        if not isinstance(self.target, Database):  # a Database handed in belongs to the caller
            self.db.close()

    def flush(self) -> None:
        """Write the buffered pages in one transaction and add their counts to the stats."""
        counts = save_pages(self.db, self.buffer)
        self.buffer.clear()
        if self.stats is not None:
            for key, value in counts.items():
                self.stats.inc_value(key, value)
