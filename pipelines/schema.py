"""The archive's tables, indexes and the posts view, and bringing an archive up to date.

``create_schema`` runs on every open: it creates what is missing and adds the columns an
archive made by an earlier version lacks, so every archive is readable by this version.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # sqlite-utils imports pandas where installed, which `python -m export` needs not (bench/README.md)
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
        {"site": str, "name": str, "generator": str, "posts_per_page": int, "first_seen_at": str, "last_crawled_at": str},
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
            "threads_per_page": int,  # rows of a full page of its list (not the last): the forum's own paging
            "walk_started_at": str,  # a walk that started after it last finished was cut short
            "walk_finished_at": str,
            "walk_open_because": str,  # the limit (max_threads, since) that left the last walk open
            "first_seen_at": str,
        },
        ("site", "fid"),
    ),
    "users": (
        {"site": str, "uid": int, "username": str, "first_seen_at": str}
        # from the profile page (home.php?mod=space&uid=N&do=profile), when the crawl asks for it
        | {"user_group": str, "registered_at": str, "last_visit_at": str, "posts": int, "threads": int}
        | {"credits": int, "extcredits": str, "profile_status": str},  # extcredits: JSON object
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
        | {"gone_since": str, "first_seen_at": str, "last_crawled_at": str}
        | {"type_id": int, "type_name": str, "special": str},  # the 分类; poll, trade, reward …
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
            "asked_as": str,  # what the page was asked as (a PageKind), whatever it turned out to be
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
    # What a thread shows besides its posts (pipelines.store_extras). Rows a complete read no
    # longer shows get gone_since; nothing is deleted.
    "post_comments": (
        {"site": str, "key": str, "id": str, "pid": int, "tid": int, "author": str, "author_uid": int}
        | {"posted_at": str, "content_text": str, "gone_since": str, "first_seen_at": str, "last_seen_at": str},
        ("site", "key"),
    ),
    "ratings": (
        {"site": str, "pid": int, "rater_key": str, "credit": str, "tid": int, "rater": str, "rater_uid": int}
        | {"score": int, "reason": str, "rated_at": str, "gone_since": str, "first_seen_at": str, "last_seen_at": str},
        ("site", "pid", "rater_key", "credit"),
    ),
    "polls": (
        {"site": str, "tid": int, "multiple": int, "max_choices": int, "voters": int, "expires_at": str}
        | {"ended": int, "results_visible": int, "first_seen_at": str, "last_seen_at": str},
        ("site", "tid"),
    ),
    "poll_options": (
        {"site": str, "tid": int, "option_no": int, "text": str, "votes": int}
        | {"gone_since": str, "first_seen_at": str, "last_seen_at": str},
        ("site", "tid", "option_no"),
    ),
    "thread_tags": (
        {"site": str, "tid": int, "tag": str, "gone_since": str, "first_seen_at": str, "last_seen_at": str},
        ("site", "tid", "tag"),
    ),
    "attachments": (
        {"site": str, "aid": int, "pid": int, "tid": int, "filename": str, "size": int, "size_shown": str}
        | {"downloads": int, "is_image": int, "price": int, "price_credit": str, "denied": str, "url": str}
        | {"image_url": str, "uploaded_at": str}
        | {"sha256": str, "stored_path": str, "file_fetched_at": str}  # the file itself, once downloaded
        | {"file_status": str, "file_message": str}  # the media store's answer: stored, or why not
        | {"gone_since": str, "first_seen_at": str, "last_seen_at": str},
        ("site", "aid"),
    ),
    "portal_articles": (
        {"site": str, "aid": int, "title": str, "author": str, "author_uid": int, "publisher": str}
        | {"posted_at": str, "category": str, "summary": str, "content_text": str, "content_html": str}
        | {"views": int, "comments": int, "page_count": int, "first_seen_at": str, "last_seen_at": str},
        ("site", "aid"),
    ),
    # Each page of a portal article as read: portal_articles' text is these joined in page order.
    "portal_article_pages": (
        {"site": str, "aid": int, "page": int, "content_text": str, "content_html": str}
        | {"images": str}  # JSON list: what the media store downloads (pipelines.media)
        | {"first_seen_at": str, "last_seen_at": str},
        ("site", "aid", "page"),
    ),
    "portal_comments": (
        {"site": str, "cid": int, "aid": int, "author": str, "author_uid": int, "posted_at": str}
        | {"content_text": str, "gone_since": str, "first_seen_at": str, "last_seen_at": str},
        ("site", "cid"),
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
            # the run's summary line (pipelines.runs): threads read because they are new, changed
            # or chosen by the refresh; forum walks a limit left open, and which limits; failed
            # pages the next run asks again
            "new_threads": int,
            "changed_threads": int,
            "refreshed_threads": int,
            "open_walks": int,
            "open_because": str,
            "failed_pages": int,
            "outcome": str,  # running, finished, interrupted, failed
        },
        "id",
    ),
}

# The media store (ARCHIVE_MEDIA): each distinct file once, by the SHA-256 of its bytes, and the
# images of posts and of portal articles pointing at it.
TABLES |= {
    "media": (
        {"sha256": str, "size": int, "content_type": str, "first_url": str, "fetched_at": str},
        "sha256",
    ),
    "post_images": (
        {"site": str, "pid": int, "url": str, "sha256": str, "status": str, "message": str, "fetched_at": str},
        ("site", "pid", "url"),
    ),
    "portal_images": (
        {"site": str, "aid": int, "url": str, "sha256": str, "status": str, "message": str, "fetched_at": str},
        ("site", "aid", "url"),
    ),
}

INDEXES = {
    "articles": [["site", "fid"], ["site", "last_post_at"]],
    "revisions": [["site", "pid"]],
    "comments": [["site", "tid", "floor"], ["site", "author_uid"]],
    "pages": [["site", "tid"]],
    "raw_pages": [["fetched_at"]],
    "post_comments": [["site", "pid"], ["site", "tid"]],
    "ratings": [["site", "tid"]],
    "attachments": [["site", "tid"], ["site", "pid"]],
    "thread_tags": [["tag"]],
    "portal_comments": [["site", "aid"]],
    "post_images": [["sha256"], ["url"]],
    "portal_images": [["sha256"], ["url"]],
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
