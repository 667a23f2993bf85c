"""What datasette and exports need from the archive: Chinese full-text search and year columns.

``enable_queries(db)`` runs on every ``open_archive()`` and changes nothing when all is in
place, so it also brings archives made by earlier versions up to date.

- Full-text search of any length (pipelines/search.py): FTS5 indexes of ``articles`` and
  ``comments`` where each Chinese character is a word, kept in step by triggers. Datasette
  finds the ``*_fts`` tables through metadata.yml; the ``search`` canned query and the search
  box (through the project's datasette plugin) match 1, 2 or more characters.
- Counts per month, forum and author (pipelines/summary.py), kept by triggers, for the canned
  queries that count.
- ``year``: a generated column (the year of ``posted_at`` in the forum's own time) on
  ``articles`` and ``comments``, for datasette's year facet. Nothing writes it; it costs no
  storage (VIRTUAL).

Example::

    db = open_archive("archive.db")                      # calls enable_queries(db)
    db.execute("SELECT rowid FROM comments_fts WHERE comments_fts MATCH ?", [search.phrase("主任")])
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.db import DescIndex

from pipelines.search import enable_search
from pipelines.summary import enable_summaries

YEAR_TABLES = ("articles", "comments")
YEAR_COLUMN = "year INTEGER GENERATED ALWAYS AS (CAST(substr(posted_at, 1, 4) AS INTEGER)) VIRTUAL"
# Datasette's default sort (newest first, also within a year or a forum) and threads_by_replies
# read these instead of sorting every row; its facets (metadata.yml) count an index instead of
# every row. Newest first is posted_at DESC then the primary key, in the index itself: that is
# the order of datasette's next pages, whose "posted_at < ? or posted_at is null or ..." no
# index can seek, so they walk this one from the top instead of sorting the table.
INDEXES = {
    "articles": [[DescIndex("posted_at"), "site", "tid"], ["replies", "posted_at"], ["forum_name"], ["author"],
                 ["year", DescIndex("posted_at"), "site", "tid"], ["forum_name", DescIndex("posted_at"), "site", "tid"]],
    "comments": [[DescIndex("posted_at"), "site", "pid"], ["author"], ["year", DescIndex("posted_at"), "site", "pid"]],
}
REPLACED_INDEXES = ["idx_articles_posted_at", "idx_articles_year_posted_at", "idx_comments_posted_at", "idx_comments_year_posted_at"]


def enable_queries(db: Database) -> None:
    """Full-text search, counts, year columns and indexes; safe to run on every open."""
    out_of_step = enable_search(db)
    enable_summaries(db, refill=bool(out_of_step))
    add_year_columns(db)
    for table, indexes in INDEXES.items():
        for columns in indexes:
            db[table].create_index(columns, if_not_exists=True)
    for name in REPLACED_INDEXES:
        db.execute(f"DROP INDEX IF EXISTS [{name}]")


def add_year_columns(db: Database) -> None:
    """Add the generated ``year`` column where it is missing (ALTER TABLE allows VIRTUAL ones)."""
    for table in YEAR_TABLES:
        # table_xinfo, not table_info: generated columns are "hidden" from the latter
        columns = {row[1] for row in db.execute(f"PRAGMA table_xinfo([{table}])")}
        if "year" not in columns:
            db.execute(f"ALTER TABLE [{table}] ADD COLUMN {YEAR_COLUMN}")
