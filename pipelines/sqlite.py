"""Store fetched Discuz! pages in one SQLite file (sqlite-utils), ready for datasette.

The storage is plain functions over a ``sqlite_utils.Database`` so tests can use
``Database(memory=True)``; ``ArchivePipeline`` is only the Scrapy shell around them.

Example::

    db = open_archive("archive.db")
    counts = save_items(db, [fetched_page])   # {"archive/pages": 1, "archive/comments": 9, ...}
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import sqlite3
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import zstandard
from sqlite_utils import Database

from pipelines.query import enable_queries
from scraper.models import FetchedPage, ForumLink, ForumPage, ForumWalked, Post, ThreadPage, ThreadSynced
from scraper.urls import desktop_thread_url

logger = logging.getLogger(__name__)

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
        {"site": str, "generator": str, "posts_per_page": int, "first_seen_at": str, "last_crawled_at": str},
        "site",
    ),
    "forums": (
        {
            "site": str,
            "fid": int,
            "name": str,
            "parent_fid": int,  # the forum a sub-forum sits in
            "gid": int,  # its category on the index
            "page_count": int,  # pages of its thread list when last walked
            "walk_started_at": str,  # a walk that started after it last finished was cut short
            "walk_finished_at": str,
            "first_seen_at": str,
        },
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
        # what the forum's thread list shows
        | {"last_post_at": str, "last_poster": str, "sticky": int, "digest": int}
        # what the archive holds complete: an unchanged listing row against these costs nothing
        | {"synced_replies": int, "synced_last_post_at": str, "synced_at": str}
        | {"gone_since": str, "first_seen_at": str, "last_crawled_at": str},
        ("site", "tid"),
    ),
    "comments": (
        {"site": str, "pid": int, "tid": int, "floor": int}  # pid keeps this place in the merge
        | POST_COLUMNS
        | {"gone_since": str, "first_seen_at": str, "last_seen_at": str},
        ("site", "pid"),
    ),
    # Earlier texts of posts that changed: the row in articles/comments holds the newest.
    "revisions": (
        {
            "id": int,
            "site": str,
            "pid": int,
            "tid": int,
            "content_text": str,
            "content_html": str,
            "edited_by": str,
            "edited_at": str,
            "seen_at": str,  # when this text was last seen on the site
            "replaced_at": str,
        },
        "id",
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
    # Every distinct version of every fetched page, zstd-compressed (ARCHIVE_RAW_PAGES=1): what
    # `python -m pipelines.reparse` rebuilds the other tables from, without the network.
    # Archives written before keep zlib bodies too: raw_body reads both.
    "raw_pages": (
        {
            "url": str,
            "sha256": str,
            "site": str,
            "fetched_at": str,  # when this version was first fetched
            "asked_as": str,  # thread, forum or index: the parser that reads it
            "status": int,
            "content_type": str,
            "tid": int,
            "body": bytes,
        },
        ("url", "sha256"),
    ),
    # One row per run: what it was asked, what it cost, how it ended.
    "crawls": (
        {
            "id": int,
            "started_at": str,
            "finished_at": str,
            "seeds": str,  # JSON list
            "arguments": str,  # JSON object
            "requests": int,
            "requests_saved": int,  # requests an unchanged archive spared (a full crawl would make them)
            "pages": int,
            "new_articles": int,
            "new_comments": int,
            "updated_posts": int,
            "errors": int,
            "outcome": str,  # running, finished, interrupted, failed
        },
        "id",
    ),
}

INDEXES = {
    "articles": [["site", "fid"], ["site", "last_post_at"]],
    "revisions": [["site", "pid"]],
    "comments": [["site", "tid", "floor"], ["site", "author_uid"]],
    "pages": [["site", "tid"]],
    "raw_pages": [["fetched_at"]],
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


def open_archive(target: str | Path | Database, busy_timeout: float = 30) -> Database:
    """Open (or adopt) the archive in WAL mode so datasette can read while we write.

    ``busy_timeout``: seconds SQLite waits for another program's lock before giving up.
    """
    db = target if isinstance(target, Database) else Database(target)
    db.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")  # an int: PRAGMAs take no parameters
    db.enable_wal()
    create_schema(db)
    enable_queries(db)  # full-text search and facet columns for datasette
    return db


def create_schema(db: Database) -> None:
    """Create the tables, indexes and the posts view when missing; safe to run on every start."""
    for name, (columns, pk) in TABLES.items():
        foreign_keys = [("site", "sites", "site")] if "site" in columns and name != "sites" else []
        table = db[name]
        table.create(columns, pk=pk, foreign_keys=foreign_keys, if_not_exists=True)
        for column, kind in columns.items():  # archives made by an earlier version
            if column not in table.columns_dict:
                table.add_column(column, kind)
    for name, indexes in INDEXES.items():
        for columns in indexes:
            db[name].create_index(columns, if_not_exists=True)
    db.create_view("posts", POSTS_VIEW, replace=True)


# What the archive stores: the spider's other items pass through the pipeline untouched.
ITEMS = (FetchedPage, ThreadSynced, ForumWalked)

# The rows of sites, forums and users one transaction wrote: (table, *key) -> the values it
# last wrote there. Every page of a batch puts its site, forum and authors again: _put then
# writes only what changed.
Written = dict[tuple[Any, ...], dict[str, Any]]


def save_items(db: Database, items: Iterable[Any]) -> Counter[str]:
    """Write the items in one transaction; return the ``archive/*`` counts for Scrapy's stats."""
    counts: Counter[str] = Counter()
    written: Written = {}
    with _write_transaction(db):
        for item in items:
            if isinstance(item, FetchedPage):
                _save_page(db, item, counts, written)
            elif isinstance(item, ThreadSynced):
                _save_synced(db, item)
            elif isinstance(item, ForumWalked):
                stamp = _utc(item.finished_at)
                _put(db, "forums", {"site": item.site, "fid": item.fid, "walk_finished_at": stamp}, stamp, written=written)
    return counts


def save_batch(db: Database, items: list[Any], write_attempts: int = 3, busy_timeout: float = 30) -> Counter[str]:
    """save_items, tried again while another program holds the archive's write lock (each try
    waits ``busy_timeout`` seconds); after ``write_attempts`` tries, ArchiveLocked, saying which
    program to look for. A transaction that fails leaves the archive as it was: the caller
    keeps the items for the next try."""
    attempt = 1
    while True:
        try:
            return save_items(db, items)
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) and "busy" not in str(error):
                raise
            if attempt >= write_attempts:
                raise ArchiveLocked(
                    f"{_path_of(db)} stayed locked by another program for "
                    f"{write_attempts} x {busy_timeout:g} s (a datasette with a write, "
                    f"an open sqlite3 shell?); {len(items)} items are kept for the next try"
                ) from error
            logger.warning("The archive is locked by another program; trying again (%d/%d)", attempt, write_attempts)
            attempt += 1


def _path_of(db: Database) -> str:
    return db.execute("PRAGMA database_list").fetchone()[2] or ":memory:"


@contextmanager
def _write_transaction(db: Database):
    """BEGIN IMMEDIATE takes the write lock first, so SQLite's busy timeout waits for another
    program's lock (a deferred BEGIN that reads first can only fail at once when it upgrades)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
        db.execute("COMMIT")
    except BaseException:
        db.conn.rollback()
        raise


def _save_page(db: Database, page: FetchedPage, counts: Counter[str], written: Written) -> None:
    stamp = _utc(page.fetched_at)
    thread = page.thread
    generator = (thread and thread.generator) or (page.index and page.index.generator)
    _put(db, "sites", _without_none({"site": page.site, "last_crawled_at": stamp, "generator": generator}), stamp, written=written)
    tid = thread.tid if thread else page.tid
    # The row tells what the latest fetch gave: a later success clears an earlier error.
    _upsert(
        db,
        "pages",
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
            "tid": tid,
            "page": thread.page if thread else None,
        },
    )
    counts["archive/pages"] += 1
    if page.body is not None:
        _keep_raw_page(db, page, stamp)
    if page.error:
        counts["archive/errors"] += 1
    if page.kind == "missing" and tid is not None and _get(db, "articles", (page.site, tid)):
        # the site says the thread is gone: flag it, keep everything archived
        db.execute(
            "UPDATE articles SET gone_since = coalesce(gone_since, ?) WHERE site = ? AND tid = ?",
            [stamp, page.site, tid],
        )
    if thread:
        _save_thread(db, thread, stamp, counts, written)
    if page.forum:
        _save_forum_page(db, page.forum, stamp, counts, written)
    if page.index:
        for link in page.index.forums:
            if not link.is_category:
                _save_forum_link(db, page.site, link, stamp, written)


def _keep_raw_page(db: Database, page: FetchedPage, stamp: str) -> None:
    _insert(
        db,
        "raw_pages",
        {
            "url": page.url,
            "sha256": page.sha256,
            "site": page.site,
            "fetched_at": stamp,
            "asked_as": page.asked_as,
            "status": page.status,
            "content_type": page.content_type,
            "tid": page.tid,
            "body": _COMPRESSOR.compress(page.body),
        },
        or_ignore=True,  # the same bytes again: the first fetch is the one to replay
    )


# zstd level 4: five times faster than zlib level 6 on Discuz pages, for the same size.
_COMPRESSOR = zstandard.ZstdCompressor(level=4)
_DECOMPRESSOR = zstandard.ZstdDecompressor()
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"  # every zstd frame starts so; a zlib stream starts with 0x78


def raw_body(blob: bytes) -> bytes:
    """A raw_pages body as fetched: zstd, or zlib in archives written before zstd."""
    if blob[:4] == ZSTD_MAGIC:
        return _DECOMPRESSOR.decompress(blob)
    return zlib.decompress(blob)


def _save_thread(db: Database, thread: ThreadPage, stamp: str, counts: Counter[str], written: Written) -> None:
    site, tid, article = thread.site, thread.tid, thread.article
    if thread.fid is not None:
        forum = _without_none({"site": site, "fid": thread.fid, "name": thread.forum_name})
        _put(db, "forums", forum, stamp, written=written)
    authors = {post.author_uid: post.author for post in thread.posts if post.author_uid is not None}
    for uid, username in authors.items():
        _put(db, "users", _without_none({"site": site, "uid": uid, "username": username}), stamp, written=written)
    if thread.page == 1 and thread.page_count > 1:
        _learn_posts_per_page(db, site, len(thread.posts))

    stored = _get(db, "articles", (site, tid)) or {}
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
    row["gone_since"] = None  # it answered
    if article or not stored.get("url"):
        row["url"] = desktop_thread_url(thread.url)  # the thread's page, whichever source read it
    if article:
        row |= _post_row(article)
        _keep_revision(db, site, tid, stored, row, stamp, counts)
    if _put(db, "articles", row, stamp, stored=bool(stored)):
        counts["archive/articles"] += 1

    article_pid = article.pid if article else stored.get("pid")
    posts = [post for post in thread.comments if post.pid != article_pid]
    stored_comments = _get_comments(db, site, [post.pid for post in posts])
    new, seen = [], []
    for post in posts:
        comment = {"site": site, "tid": tid, "floor": post.floor, "last_seen_at": stamp, "gone_since": None}
        comment |= _post_row(post)
        stored_comment = stored_comments.get(post.pid)
        _keep_revision(db, site, tid, stored_comment, comment, stamp, counts)
        (seen if stored_comment else new).append(comment)
        stored_comments[post.pid] = comment  # a pid twice on one page: the second updates the first
    if new:
        _insert(db, "comments", *(comment | {"first_seen_at": stamp} for comment in new))
        counts["archive/comments"] += len(new)
    _update(db, "comments", *seen)  # after the inserts: a pid twice on one page is in both


def _keep_revision(db: Database, site: str, tid: int, stored: dict | None, row: dict, stamp: str, counts: Counter[str]) -> None:
    """Before a post's text is replaced by a changed one, keep the earlier text in revisions."""
    if not stored or stored.get("pid") != row.get("pid") or stored.get("content_text") is None:
        return
    if (stored["content_text"], stored["content_html"]) == (row["content_text"], row["content_html"]):
        return
    _insert(
        db,
        "revisions",
        {
            "site": site,
            "pid": stored["pid"],
            "tid": tid,
            "content_text": stored["content_text"],
            "content_html": stored["content_html"],
            "edited_by": stored["edited_by"],
            "edited_at": stored["edited_at"],
            "seen_at": stored.get("last_seen_at") or stored.get("last_crawled_at"),
            "replaced_at": stamp,
        },
    )
    counts["archive/updated_posts"] += 1


def _save_forum_page(db: Database, forum: ForumPage, stamp: str, counts: Counter[str], written: Written) -> None:
    """A page of a thread list: the forum, its sub-forums, and each thread's listing row."""
    row = _without_none({"site": forum.site, "fid": forum.fid, "name": forum.name, "page_count": forum.page_count})
    if forum.page == 1:
        row["walk_started_at"] = stamp
    _put(db, "forums", row, stamp, written=written)
    for link in forum.subforums:
        _save_forum_link(db, forum.site, link, stamp, written)
    for listed in forum.threads:
        article = {
            "site": forum.site,
            "tid": listed.tid,
            "fid": forum.fid,
            "forum_name": forum.name,
            "title": listed.title,
            "replies": listed.replies,
            "views": listed.views,
            "last_post_at": listed.last_post_at,
            "last_poster": listed.last_poster,
            "sticky": int(listed.sticky),
            "digest": int(listed.digest),
        }
        stored = _is_stored(db, "articles", (forum.site, listed.tid))
        if not stored:
            article |= {"url": listed.url, "author": listed.author, "author_uid": listed.author_uid}
        if _put(db, "articles", _without_none(article), stamp, stored=stored):
            counts["archive/articles"] += 1
        if listed.author_uid is not None and listed.author:
            _put(db, "users", {"site": forum.site, "uid": listed.author_uid, "username": listed.author}, stamp, written=written)


def _save_forum_link(db: Database, site: str, link: ForumLink, stamp: str, written: Written) -> None:
    row = {"site": site, "fid": link.fid, "name": link.name, "parent_fid": link.parent_fid, "gid": link.gid}
    _put(db, "forums", _without_none(row), stamp, written=written)


def _save_synced(db: Database, synced: ThreadSynced) -> None:
    """The thread is archived as far as the listing said; after a full read, what the site no
    longer shows is flagged gone (never deleted), and what it shows again is unflagged."""
    stamp = _utc(synced.synced_at)
    db.execute(
        "UPDATE articles SET synced_replies = ?, synced_last_post_at = ?, synced_at = ?"
        " WHERE site = ? AND tid = ?",
        [synced.replies, synced.last_post_at, stamp, synced.site, synced.tid],
    )
    if synced.complete and synced.pids:
        marks = ", ".join("?" for _ in synced.pids)
        db.execute(
            f"UPDATE comments SET gone_since = coalesce(gone_since, ?)"
            f" WHERE site = ? AND tid = ? AND pid NOT IN ({marks})",
            [stamp, synced.site, synced.tid, *synced.pids],
        )


def _learn_posts_per_page(db: Database, site: str, count: int) -> None:
    """Posts per page, from a full first page; the largest seen wins (deleted posts shorten pages)."""
    stored = (_get(db, "sites", (site,)) or {}).get("posts_per_page") or 0
    if count > stored:
        db.execute("UPDATE sites SET posts_per_page = ? WHERE site = ?", [count, site])


def _page_count(thread: ThreadPage, stored: int | None) -> int | None:
    """Page 1 says how many pages there are now; other pages may only raise the count."""
    if thread.page == 1 or stored is None:
        return thread.page_count
    return max(stored, thread.page_count or 0)


def _post_row(post: Post) -> dict[str, Any]:
    return {column: getattr(post, column) for column in POST_COLUMNS}


def _put(
    db: Database, name: str, row: dict[str, Any], stamp: str, stored: bool | None = None, written: Written | None = None
) -> bool:
    """Insert ``row`` stamped with first_seen_at, or update the stored row and keep its stamp.

    Columns missing from ``row`` keep their stored values. Returns whether the row is new.
    ``stored``: whether the row is stored, when the caller has just read it. ``written``: what
    this transaction wrote to the table's rows (kept up to date here): a row written before is
    stored, and of its columns only those whose value changed are written again; only for
    columns no other statement writes in the transaction. Plain SQL on the schema we declare:
    sqlite-utils reads the schema on every call (and ``db[name]`` lists the views), which cost
    more than the writes.
    """
    pks = _primary_key(name)
    key = [row[column] for column in pks]
    if written is not None:
        known = written.setdefault((name, *key), {})
        if known:
            stored = True
            row = {c: value for c, value in row.items() if c in pks or c not in known or known[c] != value}
        known.update(row)
    if stored is None:
        stored = _is_stored(db, name, key)
    if not stored:
        _insert(db, name, row | {"first_seen_at": stamp})
        return True
    _update(db, name, row)
    return False


def _insert(db: Database, name: str, *rows: dict[str, Any], or_ignore: bool = False, on_conflict: str = "") -> None:
    """INSERT the rows, all with the same columns, as one statement (plain SQL, as _put);
    ``or_ignore``: keep the stored row when its key is stored; ``on_conflict``: an ON
    CONFLICT clause instead."""
    if not rows:
        return
    columns, marks = ", ".join(f"[{c}]" for c in rows[0]), ", ".join("?" for _ in rows[0])
    db.conn.executemany(
        f"INSERT {'OR IGNORE' if or_ignore else ''} INTO [{name}] ({columns}) VALUES ({marks}) {on_conflict}",
        [[_sql_value(value) for value in row.values()] for row in rows],
    )


def _update(db: Database, name: str, *rows: dict[str, Any]) -> None:
    """UPDATE the stored rows, all with the same columns, by primary key, as one statement;
    columns missing from the rows keep their stored values."""
    pks = _primary_key(name)
    changed = [column for column in rows[0] if column not in pks] if rows else []
    if not changed:
        return
    sets = ", ".join(f"[{column}] = ?" for column in changed)
    where = " AND ".join(f"[{column}] = ?" for column in pks)
    db.conn.executemany(
        f"UPDATE [{name}] SET {sets} WHERE {where}",
        [[_sql_value(row[c]) for c in changed] + [row[c] for c in pks] for row in rows],
    )


def _upsert(db: Database, name: str, row: dict[str, Any]) -> None:
    """Insert ``row``, or replace the stored row's values for the columns it has."""
    pks = _primary_key(name)
    sets = ", ".join(f"[{c}] = excluded.[{c}]" for c in row if c not in pks)
    _insert(db, name, row, on_conflict=f"ON CONFLICT ({', '.join(pks)}) DO UPDATE SET {sets}")


def _get(db: Database, name: str, key: tuple[Any, ...]) -> dict[str, Any] | None:
    """The stored row by primary key (plain SQL, as _put)."""
    where = " AND ".join(f"[{column}] = ?" for column in _primary_key(name))
    return next(_dicts(db.execute(f"SELECT * FROM [{name}] WHERE {where}", list(key))), None)


def _is_stored(db: Database, name: str, key: tuple[Any, ...] | list[Any]) -> bool:
    """Whether a row with this primary key is stored (plain SQL, as _put)."""
    where = " AND ".join(f"[{column}] = ?" for column in _primary_key(name))
    return db.execute(f"SELECT 1 FROM [{name}] WHERE {where}", list(key)).fetchone() is not None


def _get_comments(db: Database, site: str, pids: list[int]) -> dict[int, dict[str, Any]]:
    """The stored comments among ``pids``, by pid: one SELECT for a page instead of one a post."""
    if not pids:
        return {}
    marks = ", ".join("?" for _ in pids)
    cursor = db.execute(f"SELECT * FROM comments WHERE site = ? AND pid IN ({marks})", [site, *pids])
    return {row["pid"]: row for row in _dicts(cursor)}


def _dicts(cursor: sqlite3.Cursor) -> Iterator[dict[str, Any]]:
    names = [column[0] for column in cursor.description]
    return (dict(zip(names, found)) for found in cursor)


def _primary_key(name: str) -> tuple[str, ...]:
    pk = TABLES[name][1]
    return (pk,) if isinstance(pk, str) else tuple(pk)


def _sql_value(value: Any) -> Any:
    """As sqlite-utils stores it: lists and dicts as JSON text."""
    return json.dumps(value, default=repr, ensure_ascii=False) if isinstance(value, (dict, list, tuple)) else value


def _without_none(row: dict[str, Any]) -> dict[str, Any]:
    return {column: value for column, value in row.items() if value is not None}


def _utc(stamp: str) -> str:
    """Normalise to ISO 8601 UTC so stored timestamps compare and sort as text."""
    moment = datetime.fromisoformat(stamp)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat()


class ArchiveLocked(RuntimeError):
    """Another crawl is writing this archive."""


class ArchiveLock:
    """An exclusive lock beside the archive, so two runs never interleave their writes.

    flock is released by the OS when the process ends, however it ends (kill -9 included),
    so a dead crawl never leaves a stale lock behind.
    """

    def __init__(self, db_path: str | Path) -> None:
        self.path = Path(f"{db_path}.lock")
        self.file = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        file = open(self.path, "a+")
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.seek(0)
            holder = file.read().strip() or "unknown"
            file.close()
            raise ArchiveLocked(
                f"{self.path.with_suffix('')} is being written by another crawl (pid {holder}); "
                "this run stops without touching it"
            ) from None
        file.seek(0)
        file.truncate()
        file.write(str(os.getpid()))
        file.flush()
        self.file = file

    def release(self) -> None:
        if self.file is not None:
            fcntl.flock(self.file, fcntl.LOCK_UN)
            self.file.close()
            self.file = None


# The close reason of a crawl whose archive worker failed (pipelines.worker).
WORKER_FAILED = "archive_worker_failed"

# How Scrapy's finish reasons read in the crawls table; any other reason is a failure.
OUTCOMES = {
    "finished": "finished",
    "closespider_itemcount": "finished",
    "closespider_pagecount": "finished",
    "closespider_timeout": "finished",
    "shutdown": "interrupted",
}


def start_crawl(db: Database, seeds: list[str], arguments: dict[str, Any], started_at: str) -> int:
    """Record a run; runs left "running" by a killed process are marked interrupted first."""
    db.execute("UPDATE crawls SET outcome = 'interrupted' WHERE outcome = 'running'")
    crawls = db["crawls"]
    crawls.insert(
        {"started_at": started_at, "seeds": seeds, "arguments": arguments, "outcome": "running"}
    )
    return crawls.last_pk


def finish_crawl(db: Database, crawl_id: int, stats: dict[str, Any], reason: str, finished_at: str) -> str:
    """Close the run's record from Scrapy's stats; return its outcome."""
    pages = stats.get("archive/pages", 0)
    errors = stats.get("archive/errors", 0)
    outcome = OUTCOMES.get(reason, "failed")
    if outcome == "finished" and pages == errors and (errors or stats.get("archive/skipped_seeds")):
        outcome = "failed"  # nothing could be archived
    db["crawls"].update(
        crawl_id,
        {
            "finished_at": finished_at,
            "requests": stats.get("downloader/request_count", 0),
            "requests_saved": stats.get("archive/requests_saved", 0),
            "pages": pages,
            "new_articles": stats.get("archive/articles", 0),
            "new_comments": stats.get("archive/comments", 0),
            "updated_posts": stats.get("archive/updated_posts", 0),
            "errors": errors,
            "outcome": outcome,
        },
    )
    return outcome


class ArchivePipeline:
    """Scrapy item pipeline: buffer items, write them in batches with save_items().

    Settings: ``ARCHIVE_DB`` (path, default "archive.db"), ``ARCHIVE_BATCH_SIZE`` (default 20),
    ``ARCHIVE_BUSY_TIMEOUT`` (seconds SQLite waits for a lock another program holds, default
    30) and ``ARCHIVE_WRITE_ATTEMPTS`` (default 3): a batch that still finds the archive locked
    is kept and tried again with the next one; the error says which program to look for.
    Batching keeps one transaction per N pages instead of per page; the rest is written at
    close. Under Scrapy it also locks the archive for the run and keeps the run's record in
    the crawls table (outcome in the stats as ``archive/outcome``).

    ``ARCHIVE_WORKER`` (default on): the reading of pages and all the writing happen in a
    worker process (pipelines.worker), whose ``read`` is registered as ``crawler.page_reader``
    for the spider; this pipeline then sends the items there. Off, both stay in this process.
    """

    def __init__(
        self,
        db: str | Path | Database,
        stats: StatsCollector | None = None,
        batch_size: int = 20,
        crawler: Crawler | None = None,
        busy_timeout: float = 30,
        write_attempts: int = 3,
        worker: bool = False,
    ) -> None:
        self.target = db
        self.busy_timeout = busy_timeout
        self.write_attempts = write_attempts
        self.stats = stats
        self.batch_size = batch_size
        self.crawler = crawler
        self.db: Database | None = None
        self.buffer: list[Any] = []
        self.lock = None if isinstance(db, Database) else ArchiveLock(db)
        self.crawl_id: int | None = None
        self.use_worker = worker
        self.worker = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ArchivePipeline:
        from scrapy import signals

        settings = crawler.settings
        pipeline = cls(
            settings.get("ARCHIVE_DB", "archive.db"),
            stats=crawler.stats,
            batch_size=settings.getint("ARCHIVE_BATCH_SIZE", 20),
            crawler=crawler,
            busy_timeout=settings.getfloat("ARCHIVE_BUSY_TIMEOUT", 30),
            write_attempts=settings.getint("ARCHIVE_WRITE_ATTEMPTS", 3),
            worker=settings.getbool("ARCHIVE_WORKER", True),
        )
        crawler.signals.connect(pipeline.spider_closed, signal=signals.spider_closed)
        return pipeline

    def open_spider(self) -> None:
        if self.lock:
            self.lock.acquire()
        self.db = open_archive(self.target, self.busy_timeout)
        if self.crawler is not None:
            spider = self.crawler.spider
            self.crawl_id = start_crawl(
                self.db, getattr(spider, "seeds", []), getattr(spider, "arguments", {}), _now()
            )
            if self.use_worker:
                from pipelines.worker import ArchiveWorker  # it builds on this module

                self.worker = ArchiveWorker(self.target, self.stats, self.batch_size, self.busy_timeout, self.write_attempts)
                self.crawler.page_reader = self.worker.read

    def process_item(self, item: Any) -> Any:
        if self.worker is not None:
            self.worker.store(item)
        elif isinstance(item, ITEMS):
            self.buffer.append(item)
            if len(self.buffer) >= self.batch_size:
                self.flush()
        return item

    def close_spider(self) -> None:
        if self.worker is not None:
            self.worker.close()
        else:
            self.flush()
        if self.crawl_id is None:  # without Scrapy: done; under Scrapy spider_closed finishes
            self.close()

    def spider_closed(self, spider: Any, reason: str) -> None:
        """After the last item: close the run's record with Scrapy's finish reason (failed,
        whatever the reason, when the archive's worker failed)."""
        if self.db is None:
            return
        if self.worker is not None and self.worker.failure is not None:
            reason = WORKER_FAILED
        if self.crawl_id is not None:
            outcome = finish_crawl(self.db, self.crawl_id, self.stats.get_stats(), reason, _now())
            self.stats.set_value("archive/outcome", outcome)
        self.close()

    def close(self) -> None:
        if not isinstance(self.target, Database):  # a Database handed in belongs to the caller
            self.db.close()
        self.db = None
        if self.lock:
            self.lock.release()

    def flush(self) -> None:
        """Write the buffered items in one transaction and add their counts to the stats.

        A transaction that fails leaves the archive as it was and the items in the buffer.
        """
        counts = save_batch(self.db, self.buffer, self.write_attempts, self.busy_timeout)
        self.buffer.clear()
        if self.stats is not None:
            for key, value in counts.items():
                self.stats.inc_value(key, value)


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()
