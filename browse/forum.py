"""The archive as the forum showed it: one page model for the index, forum pages, thread pages,
member pages, tag pages and portal articles.

Each function reads one page's rows from an open SQLite connection and returns the page's
context, plain data that browse/render.py turns into HTML. The datasette plugin (live, in
datasette's threads) and ``python -m export site`` (the static mirror) both call these, so
the two show the same page. Addresses are not made here: the renderer asks its ``Links`` for
them, the mirror's file names or datasette's routes.

Pages follow the forum's own: a thread's page N holds the floors the forum showed on its page
N (``sites.posts_per_page``, by floor, so a deleted floor leaves its gap), and a forum's thread
list shows sticky threads first, then by last post, as many a page as the forum showed
(``forums.threads_per_page``).
"""

from __future__ import annotations

import math
import re
import sqlite3

POSTS_PER_PAGE = 10  # Discuz's default, for a site whose setting the crawl never read
THREADS_PER_PAGE = 20  # Discuz's default, for a forum whose list never ran over one page
MEMBER_POSTS_PER_PAGE = 50


class NotInArchive(LookupError):
    """The page's thread, forum, member or article is not in the archive."""


def rows(conn: sqlite3.Connection, sql: str, params=()) -> list[dict]:
    cursor = conn.execute(sql, params)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row)) for row in cursor]


def one(conn: sqlite3.Connection, sql: str, params=()) -> dict | None:
    found = rows(conn, sql, params)
    return found[0] if found else None


def has_table(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type IN ('table', 'view') AND name = ?", [name]).fetchone() is not None


def has_column(conn: sqlite3.Connection, table: str, column: str) -> bool:
    """Whether an archive made by an earlier version has it yet (its next crawl adds it)."""
    return column in {row[1] for row in conn.execute(f"PRAGMA table_info([{table}])")}


def sites(conn: sqlite3.Connection) -> list[str]:
    return [row[0] for row in conn.execute("SELECT site FROM sites ORDER BY site")]


def utc_offset(conn: sqlite3.Connection, site: str, tables: tuple[str, ...] = ("articles",)) -> str | None:
    """The forum's offset (+08:00), as the times of its rows in ``tables`` carry it (the first
    table that has one); None when they carry none."""
    for table in tables:
        row = conn.execute(f"SELECT substr(posted_at, 20) FROM [{table}] WHERE site = ? AND posted_at IS NOT NULL LIMIT 1",
                           [site]).fetchone()
        if row and re.fullmatch(r"[+-]\d\d:\d\d", row[0] or ""):
            return row[0]
    return None


def site_name(conn: sqlite3.Connection, site: str) -> str:
    """The forum's own name, else its host (an archive made before names were kept, a theme
    without the meta)."""
    if not has_column(conn, "sites", "name"):
        return site
    row = conn.execute("SELECT name FROM sites WHERE site = ?", [site]).fetchone()
    return (row and row[0]) or site


def posts_per_page(conn: sqlite3.Connection, site: str) -> int:
    row = conn.execute("SELECT posts_per_page FROM sites WHERE site = ?", [site]).fetchone()
    return (row and row[0]) or POSTS_PER_PAGE


def pages(count: int, size: int) -> int:
    return max(1, math.ceil(count / size))


# --- the index ----------------------------------------------------------------------------


def index(conn: sqlite3.Connection, site: str) -> dict:
    """Every forum with its threads, posts and last post; the portal's articles."""
    forums = rows(conn, """
        SELECT f.fid, f.name, f.parent_fid, f.gid,
               coalesce(c.threads, 0) AS threads, coalesce(c.posts, 0) AS posts
        FROM forums f LEFT JOIN forum_counts c ON c.site = f.site AND c.fid = f.fid
        WHERE f.site = ? ORDER BY f.gid, f.fid""", [site])  # fmt: skip
    known = {forum["fid"] for forum in forums}
    # threads of forums the crawl met only through their threads (no forums row)
    for row in rows(conn, "SELECT fid, max(forum_name) AS name, count(*) AS threads FROM articles"
                          " WHERE site = ? AND fid IS NOT NULL GROUP BY fid", [site]):
        if row["fid"] not in known:
            forums.append({**row, "parent_fid": None, "gid": None, "posts": None})
    for forum in forums:
        forum["last"] = one(conn, "SELECT tid, title, last_post_at, last_poster FROM articles"
                                  " WHERE site = ? AND fid = ? ORDER BY last_post_at DESC LIMIT 1", [site, forum["fid"]])
    articles = rows(conn, "SELECT aid, title, author, posted_at, category FROM portal_articles"
                          " WHERE site = ? ORDER BY posted_at DESC", [site]) if has_table(conn, "portal_articles") else []
    return {"kind": "index", "site": site, "forums": forums, "portal_articles": articles}


# --- forum pages and tag pages ------------------------------------------------------------

_THREAD_ROW = ("tid, fid, title, author, author_uid, posted_at, replies, views, last_post_at, last_poster,"
               " sticky, digest, type_id, type_name, special, flags, gone_since")


def forum_filters(conn: sqlite3.Connection, site: str, fid: int) -> dict:
    """The forum's thread types and the tags of its threads, each with its thread count."""
    return {
        "types": rows(conn, "SELECT type_id, max(type_name) AS type_name, count(*) AS threads FROM articles"
                            " WHERE site = ? AND fid = ? AND type_id IS NOT NULL GROUP BY type_id ORDER BY type_id", [site, fid]),
        "tags": rows(conn, "SELECT tag, count(*) AS threads FROM thread_tags WHERE site = ? AND gone_since IS NULL AND tid IN"
                           " (SELECT tid FROM articles WHERE site = ? AND fid = ?) GROUP BY tag ORDER BY count(*) DESC, tag",
                     [site, site, fid]),
    }


_FORUM_ORDER = " ORDER BY coalesce(sticky, 0) DESC, last_post_at DESC, tid DESC"


def threads_per_page(conn: sqlite3.Connection, site: str, fid: int) -> int:
    """Threads a page of the forum's list, as the forum paged it (forums.threads_per_page, read
    from a full page when crawled), so that its old page addresses show the same threads."""
    found = conn.execute("SELECT threads_per_page FROM forums WHERE site = ? AND fid = ?", [site, fid]).fetchone() \
        if has_column(conn, "forums", "threads_per_page") else None
    return (found and found[0]) or THREADS_PER_PAGE


def forum_all_pages(conn: sqlite3.Connection, site: str, fid: int, type_id: int | None = None):
    """Every page of a forum's thread list, from one pass over its threads (a page at a time by
    OFFSET would sort the forum's threads once a page)."""
    filters = forum_filters(conn, site, fid)
    where, params = "site = ? AND fid = ?", [site, fid]
    if type_id is not None:
        where, params = where + " AND type_id = ?", params + [type_id]
    count = conn.execute(f"SELECT count(*) FROM articles WHERE {where}", params).fetchone()[0]
    cursor = conn.cursor().execute(f"SELECT {_THREAD_ROW} FROM articles WHERE {where}" + _FORUM_ORDER, params)
    names = [column[0] for column in cursor.description]
    size = threads_per_page(conn, site, fid)
    for number in range(1, pages(count, size) + 1):
        threads = [dict(zip(names, row)) for row in cursor.fetchmany(size)]
        yield forum(conn, site, fid, number, type_id, filters, (threads, count))


def forum(conn: sqlite3.Connection, site: str, fid: int, page: int = 1, type_id: int | None = None,
          filters: dict | None = None, listed: tuple[list, int] | None = None) -> dict:
    """A forum's thread list: sticky threads first, then by last post; the forum's thread types
    and the tags of its threads, to filter by. ``filters`` and ``listed`` (the page's threads and
    their total), when the caller has read them (forum_all_pages)."""
    found = one(conn, "SELECT fid, name FROM forums WHERE site = ? AND fid = ?", [site, fid]) or one(
        conn, "SELECT fid, max(forum_name) AS name FROM articles WHERE site = ? AND fid = ? GROUP BY fid", [site, fid])
    if found is None:
        raise NotInArchive(f"forum {fid}")
    where, params = "site = ? AND fid = ?", [site, fid]
    if type_id is not None:
        where, params = where + " AND type_id = ?", params + [type_id]
    threads, count = listed or (None, None)
    size = threads_per_page(conn, site, fid)
    if listed is None:
        count = conn.execute(f"SELECT count(*) FROM articles WHERE {where}", params).fetchone()[0]
        threads = rows(conn, f"SELECT {_THREAD_ROW} FROM articles WHERE {where}" + _FORUM_ORDER + " LIMIT ? OFFSET ?",
                       params + [size, (page - 1) * size])
    _add_tags(conn, site, threads)
    filters = filters or forum_filters(conn, site, fid)
    types, tags = filters["types"], filters["tags"]
    type_name = next((t["type_name"] for t in types if t["type_id"] == type_id), None)
    return {"kind": "forum", "site": site, "forum": found, "threads": threads, "page": page,
            "pages": pages(count, size), "count": count, "types": types, "type_id": type_id,
            "type_name": type_name, "tags": tags}


def tag(conn: sqlite3.Connection, site: str, name: str) -> dict:
    threads = rows(conn, f"SELECT {_THREAD_ROW}, forum_name FROM articles WHERE site = ? AND tid IN"
                         " (SELECT tid FROM thread_tags WHERE site = ? AND tag = ?) ORDER BY last_post_at DESC",
                   [site, site, name])
    if not threads:
        raise NotInArchive(f"tag {name}")
    _add_tags(conn, site, threads)
    return {"kind": "tag", "site": site, "tag": name, "threads": threads}


def tags(conn: sqlite3.Connection, site: str):
    return (row[0] for row in conn.execute("SELECT DISTINCT tag FROM thread_tags WHERE site = ? ORDER BY tag", [site]))


def _add_tags(conn: sqlite3.Connection, site: str, threads: list[dict]) -> None:
    by_tid = {thread["tid"]: thread for thread in threads}
    for thread in threads:
        thread["tags"] = []
    if by_tid:
        marks = ", ".join("?" * len(by_tid))
        for row in conn.execute(f"SELECT tid, tag FROM thread_tags WHERE site = ? AND tid IN ({marks})"
                                " AND gone_since IS NULL ORDER BY rowid", [site, *by_tid]):
            by_tid[row[0]]["tags"].append(row[1])


# --- thread pages -------------------------------------------------------------------------


def thread_pages(conn: sqlite3.Connection, site: str, tid: int) -> int:
    last = conn.execute("SELECT max(floor) FROM comments WHERE site = ? AND tid = ?", [site, tid]).fetchone()[0]
    return pages(last or 1, posts_per_page(conn, site))


def thread(conn: sqlite3.Connection, site: str, tid: int, page: int = 1) -> dict:
    """Page ``page`` of a thread: its posts in floor order, each with its 点评, ratings,
    attachments and stored images; the thread's poll, tags and type."""
    article = one(conn, "SELECT * FROM articles WHERE site = ? AND tid = ?", [site, tid])
    if article is None:
        raise NotInArchive(f"thread {tid}")
    size = posts_per_page(conn, site)
    if page > thread_pages(conn, site, tid):
        raise NotInArchive(f"thread {tid} page {page}")
    first, last = (page - 1) * size + 1, page * size
    posts = [{**article, "floor": 1}] if page == 1 and article["pid"] is not None else []
    posts += rows(conn, "SELECT * FROM comments WHERE site = ? AND tid = ? AND floor BETWEEN ? AND ?"
                        " ORDER BY floor, pid", [site, tid, first, last])
    _add_to_posts(conn, site, tid, posts, size)
    poll = one(conn, "SELECT * FROM polls WHERE site = ? AND tid = ?", [site, tid])
    if poll:
        poll["options"] = rows(conn, "SELECT option_no, text, votes, gone_since FROM poll_options"
                                     " WHERE site = ? AND tid = ? ORDER BY option_no", [site, tid])
        total = sum(option["votes"] or 0 for option in poll["options"])
        for option in poll["options"]:
            option["percent"] = round(100 * (option["votes"] or 0) / total, 1) if total else 0
    thread_tags = [row[0] for row in conn.execute("SELECT tag FROM thread_tags WHERE site = ? AND tid = ?"
                                                  " AND gone_since IS NULL ORDER BY rowid", [site, tid])]
    # the pids each later page holds, for a link to a post that lands on page 1 (findpost)
    later = rows(conn, "SELECT (floor - 1) / ? + 1 AS page, min(pid) AS low, max(pid) AS high FROM comments"
                       " WHERE site = ? AND tid = ? AND floor > ? GROUP BY 1 ORDER BY 1", [size, site, tid, size]) if page == 1 else []
    return {"kind": "thread", "site": site, "article": article, "posts": posts, "page": page,
            "pages": thread_pages(conn, site, tid), "poll": poll, "tags": thread_tags, "later_pages": later}


def _add_to_posts(conn: sqlite3.Connection, site: str, tid: int, posts: list[dict], size: int) -> None:
    """Give each post its comments (点评), ratings, attachments, stored images (url -> sha256),
    whether earlier texts are kept, and where the post it quotes is (tid, page)."""
    by_pid = {post["pid"]: post for post in posts if post["pid"] is not None}
    for post in posts:
        post.update(post_comments=[], ratings=[], attachments=[], images={}, revised=False, quote=None)
    if not by_pid:
        return
    marks = ", ".join("?" * len(by_pid))
    pids = [site, *by_pid]
    for name, sql in (
        ("post_comments", f"SELECT * FROM post_comments WHERE site = ? AND pid IN ({marks}) ORDER BY posted_at, rowid"),
        ("ratings", f"SELECT * FROM ratings WHERE site = ? AND pid IN ({marks}) ORDER BY rated_at, rowid"),
        ("attachments", f"SELECT * FROM attachments WHERE site = ? AND pid IN ({marks}) ORDER BY aid"),
    ):
        for row in rows(conn, sql, pids):
            by_pid[row["pid"]][name].append(row)
    for pid, url, sha256 in conn.execute(f"SELECT pid, url, sha256 FROM post_images WHERE site = ? AND pid IN ({marks})"
                                         " AND sha256 IS NOT NULL", pids):
        by_pid[pid]["images"][url] = sha256
    for post in posts:  # an attachment's image shown in the post is the attachment's file
        for attachment in post["attachments"]:
            if attachment["sha256"] and attachment.get("is_image"):
                for url in (attachment["image_url"], attachment["url"]):
                    if url:
                        post["images"].setdefault(url, attachment["sha256"])
    for (pid,) in conn.execute(f"SELECT DISTINCT pid FROM revisions WHERE site = ? AND pid IN ({marks})", pids):
        by_pid[pid]["revised"] = True
    for post in posts:
        quoted = post.get("quote_pid")
        if quoted in by_pid:
            post["quote"] = (tid, None)  # on this page
        elif quoted:
            where = conn.execute("SELECT tid, floor FROM comments WHERE site = ? AND pid = ?"
                                 " UNION ALL SELECT tid, 1 FROM articles WHERE site = ? AND pid = ?",
                                 [site, quoted, site, quoted]).fetchone()
            if where:
                post["quote"] = (where[0], (max(where[1] or 1, 1) - 1) // size + 1)


def revisions(conn: sqlite3.Connection, site: str, pid: int) -> dict:
    """A post's earlier texts, oldest first, after the text it has now."""
    post = one(conn, "SELECT tid, pid, floor, author, author_uid, posted_at, edited_by, edited_at, content_html"
                     " FROM comments WHERE site = :site AND pid = :pid UNION ALL SELECT tid, pid, 1, author, author_uid,"
                     " posted_at, edited_by, edited_at, content_html FROM articles WHERE site = :site AND pid = :pid",
               {"site": site, "pid": pid})
    earlier = rows(conn, "SELECT * FROM revisions WHERE site = ? AND pid = ? ORDER BY seen_at, id", [site, pid])
    if post is None or not earlier:
        raise NotInArchive(f"earlier texts of post {pid}")
    post["page"] = (max(post["floor"] or 1, 1) - 1) // posts_per_page(conn, site) + 1
    return {"kind": "revisions", "site": site, "post": post, "revisions": earlier}


def revised_pids(conn: sqlite3.Connection, site: str):
    return (row[0] for row in conn.execute("SELECT DISTINCT pid FROM revisions WHERE site = ? ORDER BY pid", [site]))


def thread_ids(conn: sqlite3.Connection, site: str):
    return (row[0] for row in conn.execute("SELECT tid FROM articles WHERE site = ? ORDER BY tid", [site]))


# --- members ------------------------------------------------------------------------------


def member(conn: sqlite3.Connection, site: str, uid: int, page: int = 1) -> dict:
    """A member's profile as the archive knows it, their threads, and their posts, newest first."""
    profile = one(conn, "SELECT * FROM users WHERE site = ? AND uid = ?", [site, uid]) or {}
    counts = one(conn, "SELECT author, posts, threads FROM author_counts WHERE site = ? AND author_uid = ?", [site, uid]) \
        if has_table(conn, "author_counts") else None
    name = profile.get("username") or (counts or {}).get("author")
    if not name:
        found = None
        for table, column, named in _named(conn):
            found = found or conn.execute(f"SELECT {named} FROM {table} WHERE site = ? AND {column} = ? LIMIT 1", [site, uid]).fetchone()
        if found is None:
            raise NotInArchive(f"member {uid}")
        name = found[0]
    # articles has no index on author_uid, but one on author: found by name, kept by uid
    by_name = "author = :name AND " if name else ""
    threads = rows(conn, f"SELECT {_THREAD_ROW}, forum_name FROM articles WHERE {by_name}site = :site AND author_uid = :uid"
                         " ORDER BY posted_at DESC", {"name": name, "site": site, "uid": uid}) if page == 1 else []
    count = conn.execute("SELECT count(*) FROM comments WHERE site = ? AND author_uid = ?", [site, uid]).fetchone()[0]
    size = posts_per_page(conn, site)
    replies = rows(conn, """
        SELECT c.pid, c.tid, c.floor, c.posted_at, substr(c.content_text, 1, 120) AS excerpt, c.gone_since, a.title
        FROM comments c LEFT JOIN articles a ON a.site = c.site AND a.tid = c.tid
        WHERE c.site = ? AND c.author_uid = ? ORDER BY c.posted_at DESC, c.pid DESC LIMIT ? OFFSET ?""",
                   [site, uid, MEMBER_POSTS_PER_PAGE, (page - 1) * MEMBER_POSTS_PER_PAGE])  # fmt: skip
    for reply in replies:
        reply["page"] = (max(reply["floor"] or 1, 1) - 1) // size + 1
    return {"kind": "member", "site": site, "uid": uid, "name": name, "profile": profile, "counts": counts,
            "threads": threads, "replies": replies, "page": page, "pages": pages(count, MEMBER_POSTS_PER_PAGE)}


# every place a member is named with a uid: (table, uid column, name column)
NAMED = [("users", "uid", "username"), ("articles", "author_uid", "author"), ("comments", "author_uid", "author"),
         ("post_comments", "author_uid", "author"), ("ratings", "rater_uid", "rater"),
         ("portal_articles", "author_uid", "author"), ("portal_comments", "author_uid", "author")]


def _named(conn: sqlite3.Connection) -> list[tuple[str, str, str]]:
    return [entry for entry in NAMED if has_table(conn, entry[0])]


def member_ids(conn: sqlite3.Connection, site: str):
    """Every member the archive names with a uid: profiles, authors, raters."""
    union = " UNION ".join(f"SELECT {uid} FROM {table} WHERE site = :site AND {uid} IS NOT NULL" for table, uid, _ in _named(conn))
    return (row[0] for row in conn.execute(union + " ORDER BY 1", {"site": site}))


def member_pages(conn: sqlite3.Connection, site: str, uid: int) -> int:
    count = conn.execute("SELECT count(*) FROM comments WHERE site = ? AND author_uid = ?", [site, uid]).fetchone()[0]
    return pages(count, MEMBER_POSTS_PER_PAGE)


# --- portal articles ----------------------------------------------------------------------


def article(conn: sqlite3.Connection, site: str, aid: int, page: int = 1) -> dict:
    """Page ``page`` of a portal article, its stored images, and (on its first page) its comments."""
    found = one(conn, "SELECT * FROM portal_articles WHERE site = ? AND aid = ?", [site, aid])
    if found is None:
        raise NotInArchive(f"article {aid}")
    text = one(conn, "SELECT content_html, content_text FROM portal_article_pages WHERE site = ? AND aid = ? AND page = ?",
               [site, aid, page])
    if text is None and page == 1:
        text = {"content_html": found["content_html"], "content_text": found["content_text"]}
    if text is None:
        raise NotInArchive(f"article {aid} page {page}")
    images = {url: sha256 for url, sha256 in conn.execute(
        "SELECT url, sha256 FROM portal_images WHERE site = ? AND aid = ? AND sha256 IS NOT NULL", [site, aid])}
    comments = rows(conn, "SELECT * FROM portal_comments WHERE site = ? AND aid = ? ORDER BY posted_at, cid",
                    [site, aid]) if page == 1 else []
    return {"kind": "article", "site": site, "article": found, "content_html": text["content_html"],
            "images": images, "comments": comments, "page": page, "pages": article_pages(conn, site, aid)}


def article_pages(conn: sqlite3.Connection, site: str, aid: int) -> int:
    row = conn.execute("SELECT max(page) FROM portal_article_pages WHERE site = ? AND aid = ?", [site, aid]).fetchone()
    return max(row[0] or 1, 1)


def article_ids(conn: sqlite3.Connection, site: str):
    if not has_table(conn, "portal_articles"):
        return iter(())
    return (row[0] for row in conn.execute("SELECT aid FROM portal_articles WHERE site = ? ORDER BY aid", [site]))
