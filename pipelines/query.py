"""What datasette and exports need from the archive: Chinese full-text search and year columns.

``enable_queries(db)`` runs on every ``open_archive()`` and changes nothing when all is in
place, so it also brings archives made by earlier versions up to date.

- Full-text search: FTS5 with the ``trigram`` tokenizer (SQLite 3.34+), which matches any
  substring of 3 or more characters, so Chinese needs no word segmentation. sqlite-utils'
  triggers keep the index in step with every insert, update and delete; an update re-indexes
  the row only when an indexed column changed (most updates only stamp when a crawl saw the
  row, and re-indexing was most of what they cost). Datasette finds the
  ``*_fts`` tables on its own: the search box of ``articles`` and ``comments`` uses them.
  Trigram cannot match 1-2 characters: the ``search`` canned query in metadata.yml falls
  back to ``LIKE`` for those.
- ``year``: a generated column (the year of ``posted_at`` in the forum's own time) on
  ``articles`` and ``comments``, for datasette's year facet. Nothing writes it; it costs no
  storage (VIRTUAL).

Example::

    db = open_archive("archive.db")                      # calls enable_queries(db)
    db["comments"].search("办公室主任")                    # 3+ characters: the FTS index
    db.query("select * from comments where content_text like '%主任%'")  # 1-2 characters
"""

from __future__ import annotations

from sqlite_utils import Database

# table: the columns its search index covers
SEARCH_COLUMNS: dict[str, list[str]] = {
    "articles": ["title", "content_text"],
    "comments": ["content_text"],
}
YEAR_TABLES = ("articles", "comments")
YEAR_COLUMN = "year INTEGER GENERATED ALWAYS AS (CAST(substr(posted_at, 1, 4) AS INTEGER)) VIRTUAL"
# Datasette's default sort (newest first) reads these instead of sorting every row.
SORT_INDEXES = {"articles": [["posted_at"]], "comments": [["posted_at"]]}
TRIGRAM_MIN_CHARS = 3


def enable_queries(db: Database) -> None:
    """Full-text search, year columns and sort indexes; safe to run on every open."""
    enable_search(db)
    add_year_columns(db)
    for table, indexes in SORT_INDEXES.items():
        for columns in indexes:
            db[table].create_index(columns, if_not_exists=True)


def enable_search(db: Database) -> None:
    """Trigram FTS5 indexes kept in step by triggers; rebuilt only when their definition changed."""
    for table, columns in SEARCH_COLUMNS.items():
        db[table].enable_fts(columns, tokenize="trigram", create_triggers=True, replace=True)
        _reindex_only_changed_rows(db, table, columns)


def _reindex_only_changed_rows(db: Database, table: str, columns: list[str]) -> None:
    """Give sqlite-utils' update trigger (``TABLE_au``, which re-indexes every updated row) a
    WHEN clause: only rows whose indexed columns changed. Its name stays, so sqlite-utils
    still finds its triggers in place."""
    name = f"{table}_au"
    found = db.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?", [name]).fetchone()
    changed = " OR ".join(f"old.[{column}] IS NOT new.[{column}]" for column in columns)
    if found is None or changed in found[0]:
        return
    listed = ", ".join(f"[{column}]" for column in columns)
    old = ", ".join(f"old.[{column}]" for column in columns)
    new = ", ".join(f"new.[{column}]" for column in columns)
    db.execute(f"DROP TRIGGER [{name}]")
    db.execute(
        f"CREATE TRIGGER [{name}] AFTER UPDATE ON [{table}] WHEN {changed} BEGIN\n"
        f"  INSERT INTO [{table}_fts] ([{table}_fts], rowid, {listed}) VALUES ('delete', old.rowid, {old});\n"
        f"  INSERT INTO [{table}_fts] (rowid, {listed}) VALUES (new.rowid, {new});\n"
        "END"
    )


def add_year_columns(db: Database) -> None:
    """Add the generated ``year`` column where it is missing (ALTER TABLE allows VIRTUAL ones)."""
    for table in YEAR_TABLES:
        # table_xinfo, not table_info: generated columns are "hidden" from the latter
        columns = {row[1] for row in db.execute(f"PRAGMA table_xinfo([{table}])")}
        if "year" not in columns:
            db.execute(f"ALTER TABLE [{table}] ADD COLUMN {YEAR_COLUMN}")
