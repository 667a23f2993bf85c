"""Row counts of the database and front pages that stay within datasette's limits.

Datasette counts every table with ``count(*)`` under a few milliseconds' limit, but SQLite
answers ``count(*)`` in a single step, which that limit cannot interrupt: each table is
counted whole, however long it takes, the search indexes (and their shadow tables) among them.
On a big archive that made the database page take seconds. So a table of more rows than
``MANY`` shows as "Many rows", as datasette shows a count that timed out; its rowid says how
many rows it may hold without reading them. The search indexes are not counted at all
(datasette hides them). Smaller tables are counted as datasette does.
"""

from __future__ import annotations

import sqlite3

from datasette.database import QueryInterrupted

from pipelines.search import SEARCH_COLUMNS

MANY = 100_000  # counted in well under the few milliseconds datasette allows a table
INDEX_TABLES = {f"{table}_fts{shadow}" for table in SEARCH_COLUMNS for shadow in ("", "_data", "_idx", "_docsize", "_config")}


def count_within_limits(database) -> None:
    """Replace the database's ``table_counts`` (the pages' counts) by one that counts only
    what can be counted within the limit; a long limit (``datasette inspect``, immutable
    files) still counts everything."""
    counted = database.table_counts

    async def table_counts(limit=10):
        if limit > 1000:
            return await counted(limit)
        counts = {}
        for table in await database.table_names():
            counts[table] = None if table in INDEX_TABLES else await _small_count(database, table, limit)
        return counts

    database.table_counts = table_counts


async def _small_count(database, table: str, limit: int) -> int | None:
    try:
        highest = (await database.execute(f"SELECT max(rowid) FROM [{table}]", custom_time_limit=limit)).first()[0]
    except (QueryInterrupted, sqlite3.Error):  # a WITHOUT ROWID table has none
        highest = None
    if highest is not None and highest > MANY:
        return None
    try:
        return (await database.execute(f"SELECT count(*) FROM [{table}]", custom_time_limit=limit)).first()[0]
    except (QueryInterrupted, sqlite3.Error):
        return None
