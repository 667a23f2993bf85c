"""Counts per month, forum and author, kept by triggers, so that the canned queries that count
(``top_authors``, ``activity_by_month``) read a few thousand rows instead of every post.

A post is an article with a pid (a thread only seen in a forum's list is not one yet) or a
comment. Each trigger takes a row's old contribution away and adds its new one, so inserts,
deletes and updates by any program (plain SQL included) keep the counts right; an update that
changes none of the counted columns does nothing. A count that falls to zero loses its row.

- ``month_counts``: posts and new threads per site and month of ``posted_at`` ('' if unknown).
- ``month_authors``: posts per site, month and author: the active authors of a month.
- ``author_counts``: posts and threads started per site and author (by uid), with the name.
- ``forum_counts``: threads and posts per site and forum (a comment counts in the forum of its
  article; an article brings its comments with it when it arrives or moves).

``enable_summaries(db)`` creates what is missing and fills a table from the posts when it
creates it, so an archive made before gets its counts on its next open.
"""

from __future__ import annotations

from sqlite_utils import Database

TABLES = {
    "month_counts": ("site TEXT NOT NULL, month TEXT NOT NULL, posts INTEGER NOT NULL, threads INTEGER NOT NULL", "site, month"),
    "month_authors": ("site TEXT NOT NULL, month TEXT NOT NULL, author_uid INTEGER NOT NULL, posts INTEGER NOT NULL", "site, month, author_uid"),
    "author_counts": ("site TEXT NOT NULL, author_uid INTEGER NOT NULL, author TEXT, posts INTEGER NOT NULL, threads INTEGER NOT NULL", "site, author_uid"),
    "forum_counts": ("site TEXT NOT NULL, fid INTEGER NOT NULL, threads INTEGER NOT NULL, posts INTEGER NOT NULL", "site, fid"),
}
# What a post row counts towards: changes to these columns move its counts.
ARTICLE_COLUMNS = ("site", "tid", "fid", "pid", "author_uid", "posted_at")
COMMENT_COLUMNS = ("site", "tid", "author_uid", "posted_at")
MONTH = "coalesce(substr({r}.posted_at, 1, 7), '')"


def _bump(table: str, key: dict[str, str], counts: dict[str, str], when: str, extra: dict[str, str] | None = None) -> str:
    """Add ``counts`` (SQL expressions) to the row of ``table`` at ``key``, creating it."""
    extra = extra or {}
    columns = [*key, *extra, *counts]
    values = [*key.values(), *extra.values(), *counts.values()]
    sets = [f"{column} = {column} + excluded.{column}" for column in counts]
    sets += [f"{column} = coalesce(excluded.{column}, {column})" for column in extra]
    return (
        f"INSERT INTO [{table}] ({', '.join(columns)}) SELECT {', '.join(values)} WHERE {when}"
        f" ON CONFLICT ({', '.join(key)}) DO UPDATE SET {', '.join(sets)};"
    )


def _drop_zero(table: str, key: dict[str, str], counts: list[str], when: str) -> str:
    where = " AND ".join(f"{column} = {value}" for column, value in key.items())
    zero = " AND ".join(f"{column} <= 0" for column in counts)
    return f"DELETE FROM [{table}] WHERE {when} AND {where} AND {zero};"


def _article(r: str, sign: str) -> list[str]:
    """Statements adding (sign '+') or taking away ('-') the article row ``r`` (new or old)."""
    post = f"{r}.pid IS NOT NULL"
    month = {"site": f"{r}.site", "month": MONTH.format(r=r)}
    author = {"site": f"{r}.site", "author_uid": f"{r}.author_uid"}
    forum = {"site": f"{r}.site", "fid": f"{r}.fid"}
    comments = f"(SELECT count(*) FROM comments AS c WHERE c.site = {r}.site AND c.tid = {r}.tid)"
    name = {"author": f"{r}.author"} if sign == "+" else None
    statements = [
        _bump("month_counts", month, {"posts": f"{sign}1", "threads": f"{sign}1"}, post),
        _bump("month_authors", {**month, "author_uid": f"{r}.author_uid"}, {"posts": f"{sign}1"}, f"{post} AND {r}.author_uid IS NOT NULL"),
        _bump("author_counts", author, {"posts": f"{sign}1", "threads": f"{sign}1"}, f"{post} AND {r}.author_uid IS NOT NULL", name),
        _bump("forum_counts", forum, {"threads": f"{sign}1", "posts": f"{sign}({comments} + ({post}))"}, f"{r}.fid IS NOT NULL"),
    ]
    if sign == "-":
        statements += [
            _drop_zero("month_counts", month, ["posts", "threads"], post),
            _drop_zero("month_authors", {**month, "author_uid": f"{r}.author_uid"}, ["posts"], post),
            _drop_zero("author_counts", author, ["posts", "threads"], post),
            _drop_zero("forum_counts", forum, ["threads", "posts"], f"{r}.fid IS NOT NULL"),
        ]
    return statements


def _comment(r: str, sign: str) -> list[str]:
    month = {"site": f"{r}.site", "month": MONTH.format(r=r)}
    author = {"site": f"{r}.site", "author_uid": f"{r}.author_uid"}
    fid = f"(SELECT a.fid FROM articles AS a WHERE a.site = {r}.site AND a.tid = {r}.tid)"
    forum = {"site": f"{r}.site", "fid": fid}
    name = {"author": f"{r}.author"} if sign == "+" else None
    statements = [
        _bump("month_counts", month, {"posts": f"{sign}1", "threads": "0"}, "1"),
        _bump("month_authors", {**month, "author_uid": f"{r}.author_uid"}, {"posts": f"{sign}1"}, f"{r}.author_uid IS NOT NULL"),
        _bump("author_counts", author, {"posts": f"{sign}1", "threads": "0"}, f"{r}.author_uid IS NOT NULL", name),
        _bump("forum_counts", forum, {"threads": "0", "posts": f"{sign}1"}, f"{fid} IS NOT NULL"),
    ]
    if sign == "-":
        statements += [
            _drop_zero("month_counts", month, ["posts", "threads"], "1"),
            _drop_zero("month_authors", {**month, "author_uid": f"{r}.author_uid"}, ["posts"], "1"),
            _drop_zero("author_counts", author, ["posts", "threads"], f"{r}.author_uid IS NOT NULL"),
            _drop_zero("forum_counts", forum, ["threads", "posts"], f"{fid} IS NOT NULL"),
        ]
    return statements


def trigger_sql() -> dict[str, str]:
    triggers = {}
    for table, counted, columns in (("articles", _article, ARTICLE_COLUMNS), ("comments", _comment, COMMENT_COLUMNS)):
        changed = " OR ".join(f"old.[{column}] IS NOT new.[{column}]" for column in columns)
        body = {
            "ai": ("AFTER INSERT", "", counted("new", "+")),
            "ad": ("AFTER DELETE", "", counted("old", "-")),
            "au": ("AFTER UPDATE", f" WHEN {changed}", counted("old", "-") + counted("new", "+")),
        }
        for suffix, (event, when, statements) in body.items():
            name = f"{table}_counts_{suffix}"
            triggers[name] = f"CREATE TRIGGER [{name}] {event} ON [{table}]{when} BEGIN\n  " + "\n  ".join(statements) + "\nEND"
    return triggers


FILL = {
    "month_counts": """
        SELECT site, coalesce(substr(posted_at, 1, 7), '') AS month, count(*), sum(is_article) FROM (
          SELECT site, posted_at, 1 AS is_article FROM articles WHERE pid IS NOT NULL
          UNION ALL SELECT site, posted_at, 0 FROM comments)
        GROUP BY 1, 2""",
    "month_authors": """
        SELECT site, coalesce(substr(posted_at, 1, 7), '') AS month, author_uid, count(*) FROM (
          SELECT site, posted_at, author_uid FROM articles WHERE pid IS NOT NULL
          UNION ALL SELECT site, posted_at, author_uid FROM comments)
        WHERE author_uid IS NOT NULL GROUP BY 1, 2, 3""",
    "author_counts": """
        SELECT site, author_uid, max(author), count(*), sum(is_article) FROM (
          SELECT site, author_uid, author, 1 AS is_article FROM articles WHERE pid IS NOT NULL
          UNION ALL SELECT site, author_uid, author, 0 FROM comments)
        WHERE author_uid IS NOT NULL GROUP BY 1, 2""",
    "forum_counts": """
        SELECT a.site, a.fid, count(*), sum((a.pid IS NOT NULL)
               + (SELECT count(*) FROM comments AS c WHERE c.site = a.site AND c.tid = a.tid))
          FROM articles AS a WHERE a.fid IS NOT NULL GROUP BY 1, 2""",
}


def enable_summaries(db: Database) -> None:
    """The count tables and their triggers; made again (and refilled) when not as defined here."""
    triggers = trigger_sql()
    found = dict(db.execute("SELECT name, sql FROM sqlite_master WHERE name IN (%s)" % ", ".join("?" * (len(TABLES) + len(triggers))), [*TABLES, *triggers]).fetchall())
    expected = {name: f"CREATE TABLE [{name}] ({columns}, PRIMARY KEY ({key}))" for name, (columns, key) in TABLES.items()}
    if found == {**expected, **triggers}:
        return
    with db.conn:
        for name in triggers:
            db.execute(f"DROP TRIGGER IF EXISTS [{name}]")
        for name, sql in expected.items():
            db.execute(f"DROP TABLE IF EXISTS [{name}]")
            db.execute(sql)
            db.execute(f"INSERT INTO [{name}] {FILL[name]}")
        for sql in triggers.values():
            db.execute(sql)
