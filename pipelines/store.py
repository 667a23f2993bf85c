"""The archive's writes: open an archive, and save the spider's items into it.

Plain functions over a ``sqlite_utils.Database``, so tests can use ``Database(memory=True)``;
``pipelines.archive.ArchivePipeline`` is the Scrapy shell around them.

- ``save_in_one_transaction(db, items)``: one transaction, one attempt (the distributed writer
  and re-parse, which hold the archive alone).
- ``save_retrying_while_locked(db, items, ...)``: the same, tried again while another program
  holds the archive's write lock, then ``ArchiveLocked`` (the crawl's pipeline and its worker).

Example::

    db = open_archive("archive.db")
    counts = save_in_one_transaction(db, [fetched_page])  # {"archive/pages": 1, ...}
"""

from __future__ import annotations

import logging
import sqlite3
from collections import Counter
from collections.abc import Iterable
from contextlib import contextmanager
from datetime import UTC, datetime
from operator import attrgetter
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from pipelines.lock import ArchiveLocked
from pipelines.media_records import MEDIA_ITEMS, save_media_record
from pipelines.query import enable_queries
from pipelines.rawpages import keep_raw_page
from pipelines.schema import POST_COLUMNS, create_schema
from pipelines.search import index_here, indexed_at_the_end
from pipelines.sql import Written, dicts, get, insert, put, unchanged_dropped, update_each, upsert, without_none
from pipelines.store_extras import (
    save_comment_page,
    save_comments_read,
    save_portal_article_page,
    save_portal_comment_page,
    save_profile,
    save_ratings_page,
    save_thread_extras,
    thread_columns,
)
from scraper.kinds import PageKind
from scraper.models import (
    CommentsRead,
    FetchedPage,
    ForumLink,
    ForumPage,
    ForumWalked,
    Post,
    ThreadPage,
    ThreadSynced,
)
from scraper.urls import desktop_thread_url

logger = logging.getLogger(__name__)

# Defaults of the settings ARCHIVE_BATCH_SIZE, ARCHIVE_BUSY_TIMEOUT and ARCHIVE_WRITE_ATTEMPTS.
BATCH_SIZE = 20  # items per write transaction
BUSY_TIMEOUT = 30.0  # seconds SQLite waits for a write lock another program holds
WRITE_ATTEMPTS = 3  # transactions tried before a locked archive is reported

def open_archive(target: str | Path | Database, busy_timeout: float = BUSY_TIMEOUT) -> Database:
    """Open (or adopt) the archive in WAL mode so datasette can read while we write.

    ``busy_timeout``: seconds SQLite waits for another program's lock before giving up.
    """
    db = target if isinstance(target, Database) else Database(target)
    db.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")  # an int: PRAGMAs take no parameters
    db.enable_wal()
    create_schema(db)
    enable_queries(db)  # full-text search and facet columns for datasette
    _statement_journals_in_memory(db)
    return db


def _statement_journals_in_memory(db: Database) -> None:
    """Keep this connection's temporary files in memory. Within a transaction, each statement
    that fires triggers keeps a journal to undo itself alone if it fails, and SQLite writes
    that journal to a temporary file once it passes 64 KiB: a post's row sets off the search
    index's and the count tables' triggers, so most of the archive's writes went through a
    file that nobody reads (bench/README.md has the cost). A journal holds one statement's
    pages, and is freed when the statement ends. The setting keeps all of the connection's
    temporary files in memory, a large sort's too: its statements are small ones, by key.

    After enable_queries: its rare whole-table work (an index rebuilt, a count table
    refilled, an index created on an earlier version's archive) keeps spilling to disk.
    A change of temp_store drops the connection's TEMP objects: index_here makes its
    triggers again."""
    if db.execute("PRAGMA temp_store").fetchone()[0] != 2:  # 2: MEMORY
        db.execute("PRAGMA temp_store = MEMORY")
        index_here(db)


# What the archive stores: the spider's other items pass through the pipeline untouched.
ITEMS = (FetchedPage, ThreadSynced, ForumWalked, CommentsRead, *MEDIA_ITEMS)


def save_in_one_transaction(db: Database, items: Iterable[Any]) -> Counter[str]:
    """Write the items in one transaction; return the ``archive/*`` counts for Scrapy's stats."""
    counts: Counter[str] = Counter()
    written: Written = {}
    with _write_transaction(db), indexed_at_the_end(db):
        for item in items:
            if isinstance(item, FetchedPage):
                _save_page(db, item, counts, written)
            elif isinstance(item, ThreadSynced):
                _save_synced(db, item)
            elif isinstance(item, ForumWalked):
                _save_walk(db, item, written)
            elif isinstance(item, CommentsRead):
                save_comments_read(db, item, _utc(item.read_at))
            elif isinstance(item, MEDIA_ITEMS):
                save_media_record(db, item, counts)
    return counts


def save_retrying_while_locked(
    db: Database, items: list[Any], write_attempts: int = WRITE_ATTEMPTS, busy_timeout: float = BUSY_TIMEOUT
) -> Counter[str]:
    """save_in_one_transaction, tried again while another program holds the archive's write
    lock (each try waits ``busy_timeout`` seconds); after ``write_attempts`` tries,
    ArchiveLocked, saying which program to look for. A transaction that fails leaves the
    archive as it was: the caller keeps the items for the next try."""
    attempt = 1
    while True:
        try:
            return save_in_one_transaction(db, items)
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
    name = page.index and page.index.name
    put(db, "sites", without_none({"site": page.site, "last_crawled_at": stamp, "generator": generator, "name": name}),
        stamp, written=written)
    asked_about = thread or page.comment_page or page.ratings_page  # a commentmore page is filed under its thread
    tid = asked_about.tid if asked_about else page.tid
    # The row tells what the latest fetch gave: a later success clears an earlier error.
    upsert(
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
            "asked_as": page.asked_as or None,
        },
    )
    counts["archive/pages"] += 1
    if page.body is not None:
        keep_raw_page(db, page, stamp)
    if page.error:
        counts["archive/errors"] += 1
    if page.kind == PageKind.MISSING and tid is not None and get(db, "articles", (page.site, tid)):
        # the site says the thread is gone: flag it, keep everything archived
        db.execute(
            "UPDATE articles SET gone_since = coalesce(gone_since, ?) WHERE site = ? AND tid = ?",
            [stamp, page.site, tid],
        )
    if thread:
        _save_thread(db, thread, stamp, counts, written)
        save_thread_extras(db, page, stamp, counts)
    _save_other_pages(db, page, stamp, counts)
    if page.forum:
        _save_forum_page(db, page.forum, stamp, counts, written)
    if page.index:
        for link in page.index.forums:
            if not link.is_category:
                _save_forum_link(db, page.site, link, stamp, written)


def _save_other_pages(db: Database, page: FetchedPage, stamp: str, counts: Counter[str]) -> None:
    """What a page asked as one of the other kinds holds (pipelines.store_extras)."""
    if page.comment_page:
        save_comment_page(db, page.comment_page, stamp, counts)
    if page.ratings_page:
        save_ratings_page(db, page.ratings_page, stamp, counts)
    if page.portal_article:
        save_portal_article_page(db, page.portal_article, stamp, counts)
    if page.portal_comments:
        save_portal_comment_page(db, page.portal_comments, stamp, counts)
    if page.asked_as == PageKind.PROFILE:
        save_profile(db, page, stamp, counts)


def _save_thread(db: Database, thread: ThreadPage, stamp: str, counts: Counter[str], written: Written) -> None:
    site, tid, article = thread.site, thread.tid, thread.article
    if thread.fid is not None:
        forum = without_none({"site": site, "fid": thread.fid, "name": thread.forum_name})
        put(db, "forums", forum, stamp, written=written)
    authors = {post.author_uid: post.author for post in thread.posts if post.author_uid is not None}
    for uid, username in authors.items():
        put(db, "users", without_none({"site": site, "uid": uid, "username": username}), stamp, written=written)
    if thread.page == 1 and thread.page_count > 1 and not thread.cut_short:
        _learn_posts_per_page(db, site, len(thread.posts))

    stored = get(db, "articles", (site, tid)) or {}
    # Thread-level fields: a None only means "not shown on this page" (views on page 2+).
    row = without_none(
        {
            "site": site,
            "tid": tid,
            "fid": thread.fid,
            "forum_name": thread.forum_name,
            "title": thread.title,
            "views": _more_views(thread.views, stored.get("views")),
            "replies": thread.replies,
            "page_count": _page_count(thread, stored.get("page_count")),
        }
    ) | thread_columns(thread)
    row["last_crawled_at"] = stamp
    row["gone_since"] = None  # it answered
    if article or not stored.get("url"):
        row["url"] = desktop_thread_url(thread.url)  # the thread's page, whichever source read it
    if article:
        row |= _post_row(article)
        _keep_revision(db, site, tid, stored, row, stamp, counts)
    if put(db, "articles", row, stamp, stored=stored):
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
        if stored_comment:
            seen.append(unchanged_dropped("comments", comment, stored_comment))
        else:
            comment["first_seen_at"] = stamp
            new.append(comment)
        stored_comments[post.pid] = comment  # a pid twice on one page: the second updates the first
    if new:
        insert(db, "comments", *new)
        counts["archive/comments"] += len(new)
    update_each(db, "comments", seen)  # after the inserts: a pid twice on one page is in both


def _keep_revision(db: Database, site: str, tid: int, stored: dict | None, row: dict, stamp: str, counts: Counter[str]) -> None:
    """Before a post's text is replaced by a changed one, keep the earlier text in revisions."""
    if not stored or stored.get("pid") != row.get("pid") or stored.get("content_text") is None:
        return
    if (stored["content_text"], stored["content_html"]) == (row["content_text"], row["content_html"]):
        return
    insert(
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
    """A page of a thread list: the forum, its sub-forums, and each thread's listing row. A
    guide list (no fid) is no forum's: its rows name their own."""
    if forum.fid is not None:
        row = without_none({"site": forum.site, "fid": forum.fid, "name": forum.name, "page_count": forum.page_count})
        if forum.page < forum.page_count and forum.threads:  # a full page: as many rows as the forum puts on one
            row["threads_per_page"] = len(forum.threads)
        if forum.page == 1:
            row["walk_started_at"] = stamp
        put(db, "forums", row, stamp, written=written)
    for link in forum.subforums:
        _save_forum_link(db, forum.site, link, stamp, written)
    for listed in forum.threads:
        article = {
            "site": forum.site,
            "tid": listed.tid,
            "fid": forum.fid if forum.fid is not None else listed.fid,
            "forum_name": forum.name if forum.fid is not None else listed.forum_name,
            "title": listed.title,
            "replies": listed.replies,
            "last_post_at": listed.last_post_at,
            "last_poster": listed.last_poster,
            "sticky": int(listed.sticky),
            "digest": int(listed.digest),
        }
        found = next(dicts(db.conn.execute(_LISTED_SQL, [forum.site, listed.tid])), None)
        article["views"] = _more_views(listed.views, found["views"] if found else None)
        if not found:
            article |= {"url": listed.url, "author": listed.author, "author_uid": listed.author_uid}
        if put(db, "articles", without_none(article), stamp, stored=found or {}):  # a list read again: what changed
            counts["archive/articles"] += 1
        if listed.author_uid is not None and listed.author:
            put(db, "users", {"site": forum.site, "uid": listed.author_uid, "username": listed.author}, stamp, written=written)
        if forum.fid is None and listed.fid is not None:  # a guide list: the forums it shows threads of
            put(db, "forums", without_none({"site": forum.site, "fid": listed.fid, "name": listed.forum_name}), stamp,
                written=written)


# What a thread list's row writes of a stored article.
_LISTED_SQL = ("SELECT fid, forum_name, title, replies, last_post_at, last_poster, sticky, digest, views"
               " FROM articles WHERE site = ? AND tid = ?")


def _more_views(shown: int | None, stored: int | None) -> int | None:
    """A view count only grows, and the thread list and the thread's page show it at different
    moments: keep the larger, so the archive does not depend on which was written last."""
    return shown if stored is None or (shown is not None and shown > stored) else stored


def _save_forum_link(db: Database, site: str, link: ForumLink, stamp: str, written: Written) -> None:
    row = {"site": site, "fid": link.fid, "name": link.name, "parent_fid": link.parent_fid, "gid": link.gid}
    put(db, "forums", without_none(row), stamp, written=written)


def _save_walk(db: Database, walk: ForumWalked, written: Written) -> None:
    """A walk finished, or left open by a limit: then it is not finished, and the next run walks
    the whole list (forum_walk_was_cut_short), where threads it did not reach are listed."""
    stamp = _utc(walk.finished_at)
    row = {"site": walk.site, "fid": walk.fid, "walk_open_because": walk.open_because}
    if walk.open_because is None:
        row["walk_finished_at"] = stamp
    put(db, "forums", row, stamp, written=written)


def _save_synced(db: Database, synced: ThreadSynced) -> None:
    """The thread is archived as far as the listing said; after a full read, what the site no
    longer shows is flagged gone (never deleted), and what it shows again is unflagged."""
    stamp = _utc(synced.synced_at)
    db.conn.execute(
        "UPDATE articles SET synced_replies = ?, synced_last_post_at = ?, synced_at = ?"
        " WHERE site = ? AND tid = ?",
        [synced.replies, synced.last_post_at, stamp, synced.site, synced.tid],
    )
    if synced.complete and synced.pids:
        marks = ", ".join("?" for _ in synced.pids)
        db.conn.execute(
            f"UPDATE comments SET gone_since = coalesce(gone_since, ?)"
            f" WHERE site = ? AND tid = ? AND pid NOT IN ({marks})",
            [stamp, synced.site, synced.tid, *synced.pids],
        )


def _learn_posts_per_page(db: Database, site: str, count: int) -> None:
    """Posts per page, from a full first page; the largest seen wins (deleted posts shorten pages)."""
    stored = (get(db, "sites", (site,)) or {}).get("posts_per_page") or 0
    if count > stored:
        db.execute("UPDATE sites SET posts_per_page = ? WHERE site = ?", [count, site])


def _page_count(thread: ThreadPage, stored: int | None) -> int | None:
    """Page 1 says how many pages there are now; other pages may only raise the count."""
    if thread.page == 1 or stored is None:
        return thread.page_count
    return max(stored, thread.page_count or 0)


def _post_row(post: Post) -> dict[str, Any]:
    return dict(zip(POST_COLUMNS, _POST_VALUES(post)))


_POST_VALUES = attrgetter(*POST_COLUMNS)


def _get_comments(db: Database, site: str, pids: list[int]) -> dict[int, dict[str, Any]]:
    """The stored comments among ``pids``, by pid: one SELECT for a page instead of one a post."""
    if not pids:
        return {}
    marks = ", ".join("?" for _ in pids)
    cursor = db.conn.execute(f"SELECT * FROM comments WHERE site = ? AND pid IN ({marks})", [site, *pids])
    return {row["pid"]: row for row in dicts(cursor)}


def _utc(stamp: str) -> str:
    """Normalise to ISO 8601 UTC so stored timestamps compare and sort as text."""
    moment = datetime.fromisoformat(stamp)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat()
