"""What each export holds: its columns (as SQL over the archive), its row order, what its
--since/--until compare, and what each column is (a time, a list, a flag, a number, text).

The archive's own tables come out with their columns as pipelines.schema declares them, less
the crawler's bookkeeping (``all_columns`` keeps it); a table whose rows belong to a thread
gains the thread's ``fid`` and ``forum_name``, the columns analysts group by. ``threads`` and
``members`` are built here: one row per thread with its counts and tags, and the users table
under the name analysts look for.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from pipelines.schema import TABLES

# The crawler's own state: what it needs to crawl again, not what the forum said.
BOOKKEEPING = frozenset({
    "synced_replies", "synced_last_post_at", "synced_at", "last_crawled_at", "first_seen_at",
    "last_seen_at", "url", "page_count",
})  # fmt: skip
# Kinds of column besides the stored SQLite types (ints, text); CSV and JSON lines keep the
# stored text, Parquet types them (export.parquet).
TIME, LIST, FLAG, MAP, FILES = "time", "list", "flag", "map", "files"
LISTS = {"images", "attachments", "flags", "tags"}  # JSON lists of strings in the archive
FLAGS = {"is_article", "sticky", "digest", "gone", "multiple", "ended", "results_visible", "is_image"}
MAPS = {"extcredits"}  # JSON object of a credit's name and its value
# A post's images and attachments, typed (Parquet): each URL the post lists, in its order, with
# what the archive knows of its file (the media store's answer; the attachment's row).
FILES_SQL = {
    "images": ("json_object('url', j.value, 'sha256', m.sha256, 'status', m.status)",
               "LEFT JOIN post_images AS m ON m.site = t.site AND m.pid = t.pid AND m.url = j.value"),
    "attachments": ("json_object('url', j.value, 'aid', m.aid, 'filename', m.filename, 'size', m.size, "
                    "'is_image', m.is_image)",
                    "LEFT JOIN attachments AS m ON m.site = t.site AND m.pid = t.pid AND m.url = j.value"),
}
# The posts view's columns (pipelines.schema.POSTS_VIEW), which no table declares as such.
POSTS_VIEW = ("site", "tid", "pid", "floor", "is_article", "author", "author_uid", "posted_at",
              "content_text", "flags", "title")
# Columns an export makes, with their descriptions (the others are the archive's, in metadata.yml).
MADE = {
    "archived_posts": (int, "存档帖数 Posts of the thread the archive holds, its first post included "
                            "(replies + 1 when the archive has the whole thread)."),
    "tags": (str, "标签 The thread's tags as its page shows them (thread_tags), in page order."),
    "gone": (int, "已删除 True when the forum no longer shows the thread (gone_since is set)."),
}


# One SELECT of an export: (name, SQL expression) of its columns, its FROM clause, its own condition.
Select = tuple[list[tuple[str, str]], str, str]


@dataclass(frozen=True)
class Export:
    """One export: ``table`` is the archive's table or view it reads (``t`` in its SQL)."""

    name: str
    table: str
    order: str
    date: str | None = "posted_at"  # what --since/--until compare; None: the thread's first post
    forum: bool = True  # its rows belong to threads, so to forums
    described_as: str = ""  # the table of metadata.yml describing its columns (default: table)
    description: str = ""  # for an export that is no table of metadata.yml

    def columns(self, conn: sqlite3.Connection | None = None, all_columns: bool = False, typed: bool = False
                ) -> list[tuple[str, str]]:
        """(name, SQL expression) of each column, in order (of the first SELECT, for posts).
        Given the archive, a column an older archive lacks comes out empty rather than failing."""
        return self.selects(conn, all_columns, typed)[0][0]

    def selects(self, conn: sqlite3.Connection | None = None, all_columns: bool = False, typed: bool = False
                ) -> list[Select]:
        """The SELECTs whose rows, merged in order, make the export (two for posts: its articles
        and its comments, each read in order through an index, so no sort holds the whole).
        ``typed`` (Parquet): a post's images and attachments with what is known of their files."""
        if typed and self.kind("images") == FILES:
            return [([(name, files(name) if name in FILES_SQL and expr != "NULL" else expr) for name, expr in columns],
                     tables, condition)
                    for columns, tables, condition in self.selects(conn, all_columns)]
        if self.name == "threads":
            chosen = thread_columns()
        elif self.name == "posts":
            return [
                (self._present(conn, "articles", posts_columns("articles"), all_columns), "FROM articles AS t",
                 "t.pid IS NOT NULL"),
                (self._present(conn, "comments", posts_columns("comments"), all_columns), self.from_clause("comments"), ""),
            ]
        else:
            names = tuple(TABLES[self.table][0])
            chosen = [(name, f"t.[{name}]") for name in names]
            if self.forum and "fid" not in names:  # the thread's forum, after its tid
                at = names.index("tid") + 1
                chosen[at:at] = [("fid", "a.fid"), ("forum_name", "a.forum_name")]
        return [(self._present(conn, self.table, chosen, all_columns), self.from_clause(), "")]

    @staticmethod
    def _present(conn, table: str, chosen: list[tuple[str, str]], all_columns: bool) -> list[tuple[str, str]]:
        if conn is not None:
            present = {row[1] for row in conn.execute(f"PRAGMA table_xinfo([{table}])")}
            chosen = [(name, expr if not expr.startswith("t.[") or expr[3:-1] in present else "NULL")
                      for name, expr in chosen]
        return [(name, expr) for name, expr in chosen if all_columns or name not in BOOKKEEPING]

    def from_clause(self, table: str = "") -> str:
        """FROM the table (posts: comments, its second SELECT), with its thread's article for the forum."""
        table = table or self.table
        joined = self.forum and "fid" not in TABLES[table][0]
        return f"FROM [{table}] AS t" + (
            " LEFT JOIN articles AS a ON a.site = t.site AND a.tid = t.tid" if joined else ""
        )

    def kind(self, column: str) -> type | str:
        """TIME, LIST, FILES, FLAG, MAP, or the Python type the archive stores (int, float, str, bytes)."""
        if column.endswith("_at") or column == "gone_since":
            return TIME
        if column in FILES_SQL and self.table in ("articles", "comments") and self.name != "threads":
            return FILES
        if column in LISTS:
            return LIST
        if column in FLAGS:
            return FLAG
        if column in MAPS:
            return MAP
        if column in MADE:
            return MADE[column][0]
        for table in (self.table, "articles", "comments"):
            if column in TABLES.get(table, ({},))[0]:
                return TABLES[table][0][column]
        return str


def files(column: str) -> str:
    """A post's images or attachments as a JSON list of objects: each URL and its file's row."""
    each, joined = FILES_SQL[column]
    return (f"CASE WHEN json_valid(t.[{column}]) THEN (SELECT json_group_array({each})"
            f" FROM json_each(t.[{column}]) AS j {joined}) END")


def posts_columns(table: str) -> list[tuple[str, str]]:
    """The posts view's columns (pipelines.schema.POSTS_VIEW) with the thread's forum, from
    articles (the first posts) or from comments."""
    first = table == "articles"
    thread = "t" if first else "a"
    columns = [(name, f"t.[{name}]") for name in POSTS_VIEW]
    columns[2:2] = [("fid", f"{thread}.fid"), ("forum_name", f"{thread}.forum_name")]
    replaced = {"floor": "1" if first else "t.floor", "is_article": "1" if first else "0", "title": f"{thread}.title"}
    return [(name, replaced.get(name, expr)) for name, expr in columns]


def thread_columns() -> list[tuple[str, str]]:
    """One row per thread: what the forum's list and the first page say, and what the archive holds."""
    counted = "(t.pid IS NOT NULL) + (SELECT count(*) FROM comments AS c WHERE c.site = t.site AND c.tid = t.tid)"
    tags = ("(SELECT json_group_array(tag) FROM (SELECT g.tag FROM thread_tags AS g"
            " WHERE g.site = t.site AND g.tid = t.tid AND g.gone_since IS NULL ORDER BY g.rowid))")
    plain = ["site", "tid", "fid", "forum_name", "title", "author", "author_uid", "posted_at", "last_post_at",
             "last_poster", "replies"]
    return (
        [(name, f"t.[{name}]") for name in plain]
        + [("archived_posts", counted)]
        + [(name, f"t.[{name}]") for name in ("views", "type_id", "type_name")]
        + [("tags", tags)]
        + [(name, f"t.[{name}]") for name in ("special", "sticky", "digest")]
        + [("gone", "t.gone_since IS NOT NULL"), ("gone_since", "t.gone_since")]
        + [(name, f"t.[{name}]") for name in ("pid", "url", "page_count", "first_seen_at", "last_crawled_at")]
    )


_EXPORTS = [
    Export("articles", "articles", "site, tid"),
    Export("comments", "comments", "site, tid, floor, pid"),
    Export("posts", "posts", "site, tid, floor, pid", described_as="posts"),
    Export("threads", "articles", "site, tid", description="主题：每个主题一行。One row per thread: its "
           "forum, title, author, times and counts (the forum's and the archive's), type, tags and flags."),
    Export("members", "users", "site, uid", date="registered_at", forum=False),
    Export("revisions", "revisions", "site, tid, pid, replaced_at, id", date="replaced_at"),
    Export("post_comments", "post_comments", "site, tid, pid, posted_at, key"),
    Export("ratings", "ratings", "site, tid, pid, rated_at, rater_key, credit", date="rated_at"),
    Export("polls", "polls", "site, tid", date=None),
    Export("poll_options", "poll_options", "site, tid, option_no", date=None),
    Export("thread_tags", "thread_tags", "site, tid, tag", date=None),
    Export("attachments", "attachments", "site, tid, pid, aid", date="uploaded_at"),
    Export("portal_articles", "portal_articles", "site, aid", forum=False),
    Export("portal_comments", "portal_comments", "site, aid, posted_at, cid", forum=False),
]
EXPORTS = {export.name: export for export in _EXPORTS}
