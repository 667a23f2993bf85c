"""The archive's tables, indexes and the posts view, and bringing an archive up to date.

``create_schema`` runs on every open: it creates what is missing and adds the columns an
archive made by an earlier version lacks, so every archive is readable by this version.
"""

from __future__ import annotations

from sqlite_utils import Database

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
            "headers": str,  # JSON [[name, value], ...]: what a WARC export replays
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


def primary_key(name: str) -> tuple[str, ...]:
    """The primary key columns of one of the archive's tables."""
    pk = TABLES[name][1]
    return (pk,) if isinstance(pk, str) else tuple(pk)
