"""Counts per month, forum and author, kept by triggers, so that the canned queries that count
(``top_authors``, ``activity_by_month``) read a few thousand rows instead of every post.

A post is an article with a pid (a thread only seen in a forum's list is not one yet) or a
comment. Each trigger takes a row's old contribution away and adds its new one, so inserts,
deletes and updates by any program (plain SQL included) keep the counts right; an update that
changes none of the counted columns does nothing. A count that falls to zero loses its row.

- ``month_authors``: posts per site, month and author.
- ``month_counts``: posts, new threads and active authors (its rows in month_authors) per site
  and month of ``posted_at`` ('' if unknown).
- ``author_counts``: posts and threads started per site and author (by uid), with the name.
- ``forum_counts``: threads and posts per site and forum (a comment counts in the forum of its
  article; an article brings its comments with it when it arrives or moves).
- ``facet_counts``: rows per value of each column that datasette facets a whole table by
  (``FACETED``, as metadata.yml lists them), so that the table pages' facets read a few
  hundred rows instead of grouping millions (browse/facets.py).

``enable_summaries(db)`` creates what is missing and fills a table from the posts when it
creates it, so an archive made before gets its counts on its next open.
"""

from __future__ import annotations

from sqlite_utils import Database

TABLES = {  # in the order they are filled
    "month_authors": ("site TEXT NOT NULL, month TEXT NOT NULL, author_uid INTEGER NOT NULL, posts INTEGER NOT NULL", "site, month, author_uid"),
    "month_counts": ("site TEXT NOT NULL, month TEXT NOT NULL, posts INTEGER NOT NULL, threads INTEGER NOT NULL, authors INTEGER NOT NULL", "site, month"),
    "author_counts": ("site TEXT NOT NULL, author_uid INTEGER NOT NULL, author TEXT, posts INTEGER NOT NULL, threads INTEGER NOT NULL", "site, author_uid"),
    "forum_counts": ("site TEXT NOT NULL, fid INTEGER NOT NULL, threads INTEGER NOT NULL, posts INTEGER NOT NULL", "site, fid"),
    "facet_counts": ("table_name TEXT NOT NULL, column_name TEXT NOT NULL, value NOT NULL, row_count INTEGER NOT NULL", "table_name, column_name, value"),
}
FACETED = {"articles": ("forum_name", "author", "year"), "comments": ("author", "year")}  # metadata.yml's facets
YEAR = "CAST(substr({r}.posted_at, 1, 4) AS INTEGER)"  # as the generated column year (pipelines/query.py)


def _facet_value(column: str, r: str) -> str:
    return YEAR.format(r=r) if column == "year" else f"{r}.[{column}]"
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


def _post(r: str, sign: str, post: str, thread: str, fid: str, forum_posts: str) -> list[str]:
    """Statements adding (sign '+') or taking away ('-') the row ``r`` (new or old): counted
    as a post when ``post`` holds, as ``thread`` threads ('1' or '0'), and as ``forum_posts``
    posts of forum ``fid``."""
    month = {"site": f"{r}.site", "month": MONTH.format(r=r)}
    month_author = {**month, "author_uid": f"{r}.author_uid"}
    author = {"site": f"{r}.site", "author_uid": f"{r}.author_uid"}
    has_author = f"{post} AND {r}.author_uid IS NOT NULL"
    author_row = "(SELECT posts FROM month_authors WHERE " + " AND ".join(f"{k} = {v}" for k, v in month_author.items()) + ")"
    month_where = " AND ".join(f"{k} = {v}" for k, v in month.items())
    name = {"author": f"{r}.author"} if sign == "+" else None
    statements = [_bump("month_counts", month, {"posts": f"{sign}1", "threads": f"{sign}{thread}", "authors": "0"}, post)]
    if sign == "+":  # an author's first post of the month makes them one more active author
        statements.append(f"UPDATE month_counts SET authors = authors + 1 WHERE {has_author} AND {month_where} AND {author_row} IS NULL;")
    statements.append(_bump("month_authors", month_author, {"posts": f"{sign}1"}, has_author))
    if sign == "-":
        statements.append(f"UPDATE month_counts SET authors = authors - 1 WHERE {has_author} AND {month_where} AND {author_row} <= 0;")
    statements += [
        _bump("author_counts", author, {"posts": f"{sign}1", "threads": f"{sign}{thread}"}, has_author, name),
        _bump("forum_counts", {"site": f"{r}.site", "fid": fid}, {"threads": f"{sign}{thread}", "posts": f"{sign}{forum_posts}"}, f"{fid} IS NOT NULL"),
    ]
    if sign == "-":
        statements += [
            _drop_zero("month_counts", month, ["posts", "threads"], post),
            _drop_zero("month_authors", month_author, ["posts"], has_author),
            _drop_zero("author_counts", author, ["posts", "threads"], has_author),
            _drop_zero("forum_counts", {"site": f"{r}.site", "fid": fid}, ["threads", "posts"], f"{fid} IS NOT NULL"),
        ]
    return statements


def _article(r: str, sign: str) -> list[str]:
    """An article is a post once it has a pid, a thread always; its forum also counts the
    comments already stored, which move with it."""
    comments = f"(SELECT count(*) FROM comments AS c WHERE c.site = {r}.site AND c.tid = {r}.tid)"
    forum_posts = f"({comments} + ({r}.pid IS NOT NULL))"
    return _post(r, sign, f"{r}.pid IS NOT NULL", "1", f"{r}.fid", forum_posts)


def _comment(r: str, sign: str) -> list[str]:
    """A comment is a post, in the forum of its article (none while the article is not stored)."""
    fid = f"(SELECT a.fid FROM articles AS a WHERE a.site = {r}.site AND a.tid = {r}.tid)"
    return _post(r, sign, "1", "0", fid, "1")


def _faceted(table: str, r: str, sign: str, changed: bool = False) -> list[str]:
    """Count (sign '+') or take away ('-') row ``r`` under each value it has of the faceted
    columns; with ``changed``, only the columns an update changed."""
    statements = []
    for column in FACETED[table]:
        value = _facet_value(column, r)
        when = f"{value} IS NOT NULL" + (f" AND {_facet_value(column, 'old')} IS NOT {_facet_value(column, 'new')}" if changed else "")
        key = {"table_name": f"'{table}'", "column_name": f"'{column}'", "value": value}
        statements.append(_bump("facet_counts", key, {"row_count": f"{sign}1"}, when))
        if sign == "-":
            statements.append(_drop_zero("facet_counts", key, ["row_count"], when))
    return statements


def trigger_sql() -> dict[str, str]:
    triggers = {}
    for table, faceted in FACETED.items():
        sources = sorted({"posted_at" if column == "year" else column for column in faceted})
        changed = " OR ".join(f"old.[{column}] IS NOT new.[{column}]" for column in sources)
        for suffix, event, when, statements in (
            ("ai", "AFTER INSERT", "", _faceted(table, "new", "+")),
            ("ad", "AFTER DELETE", "", _faceted(table, "old", "-")),
            ("au", "AFTER UPDATE", f" WHEN {changed}", _faceted(table, "old", "-", True) + _faceted(table, "new", "+", True)),
        ):
            name = f"{table}_facets_{suffix}"
            triggers[name] = f"CREATE TRIGGER [{name}] {event} ON [{table}]{when} BEGIN\n  " + "\n  ".join(statements) + "\nEND"
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
        SELECT site, month, posts, threads,
               (SELECT count(*) FROM month_authors AS m WHERE m.site = counted.site AND m.month = counted.month)
          FROM (SELECT site, coalesce(substr(posted_at, 1, 7), '') AS month, count(*) AS posts, sum(is_article) AS threads
                  FROM (SELECT site, posted_at, 1 AS is_article FROM articles WHERE pid IS NOT NULL
                        UNION ALL SELECT site, posted_at, 0 FROM comments)
                 GROUP BY 1, 2) AS counted""",
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
    "facet_counts": " UNION ALL ".join(
        f"SELECT '{table}', '{column}', {_facet_value(column, table)}, count(*) FROM [{table}] WHERE {_facet_value(column, table)} IS NOT NULL GROUP BY 3"
        for table, columns in FACETED.items() for column in columns
    ),
}


def enable_summaries(db: Database, refill: bool = False) -> None:
    """The count tables and their triggers; made again (and refilled) when not as defined here,
    or when ``refill``: a row replaced with INSERT OR REPLACE by another program was counted
    again without its old row being taken away (pipelines/search.py finds such rows)."""
    triggers = trigger_sql()
    found = dict(db.execute("SELECT name, sql FROM sqlite_master WHERE name IN (%s)" % ", ".join("?" * (len(TABLES) + len(triggers))), [*TABLES, *triggers]).fetchall())
    expected = {name: f"CREATE TABLE [{name}] ({columns}, PRIMARY KEY ({key}))" for name, (columns, key) in TABLES.items()}
    if found == {**expected, **triggers} and not refill:
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
