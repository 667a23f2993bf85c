"""The few SQL statements the writes need, by primary key, on the schema pipelines.schema declares.

Plain SQL rather than sqlite-utils' table API (``table.insert``, ``upsert``, ``update``):
those read the table's schema from SQLite on every call, and ``db[name]`` lists the views,
which costs more than the write itself; the writes run for every page of a crawl. The
archive's other code (schema, runs, exports) uses sqlite-utils' API, where that cost does not
matter. Values are stored as sqlite-utils stores them (lists and dicts as JSON text), so
both write the same rows.
"""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Iterable, Iterator
from itertools import groupby
from typing import Any

from sqlite_utils import Database

from pipelines.schema import primary_key

# The rows of sites, forums and users one transaction wrote: (table, *key) -> the values it
# last wrote there. Every page of a batch puts its site, forum and authors again: put then
# writes only what changed.
Written = dict[tuple[Any, ...], dict[str, Any]]


def put(
    db: Database,
    name: str,
    row: dict[str, Any],
    stamp: str,
    stored: dict[str, Any] | None = None,
    written: Written | None = None,
) -> bool:
    """Insert ``row`` stamped with first_seen_at, or update the stored row's columns whose
    value changed, keeping its stamp.

    Columns missing from ``row`` keep their stored values. Returns whether the row is new.
    ``stored``: the stored row (or those of its columns the caller needs), when the caller
    has just read it; {} when none is stored; None: read here. ``written``: what this
    transaction wrote to the table's rows (kept up to date here): a row written before is
    stored, and of its columns only those whose value changed are written again; only for
    columns no other statement writes in the transaction.
    """
    pks = primary_key(name)
    key = [row[column] for column in pks]
    if written is not None:
        known = written.setdefault((name, *key), {})
        if known:  # stored, and known holds what was written
            row = {c: value for c, value in row.items() if c in pks or c not in known or known[c] != value}
            known.update(row)
            update(db, name, row)
            return False
        known.update(row)
    if stored is None:
        stored = get(db, name, tuple(key)) or {}
    if not stored:
        insert(db, name, row | {"first_seen_at": stamp})
        return True
    update(db, name, unchanged_dropped(name, row, stored))
    return False


def insert(db: Database, name: str, *rows: dict[str, Any], or_ignore: bool = False, on_conflict: str = "") -> None:
    """INSERT the rows, all with the same columns, as one statement (a page's comments are
    one: each statement that writes sets its triggers and statement journal up once);
    ``or_ignore``: keep the stored row when its key is stored; ``on_conflict``: an ON
    CONFLICT clause instead."""
    if not rows:
        return
    columns = tuple(rows[0])
    if len(rows) > 1 and any(tuple(row) != columns for row in rows):  # one statement's VALUES take one column list, in order
        raise ValueError(f"rows for {name} with different columns in one insert")
    # as many rows a statement as SQLite takes parameters (32,766 since 3.32; 999 before)
    per_statement = max(1, db.conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // len(columns))
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        db.conn.execute(
            _insert_sql(name, columns, len(chunk), or_ignore, on_conflict),
            [value if type(value) in _STORED_AS_IS else sql_value(value) for row in chunk for value in row.values()],
        )


@functools.lru_cache(maxsize=1024)
def _insert_sql(name: str, columns: tuple[str, ...], count: int, or_ignore: bool, on_conflict: str) -> str:
    """The INSERT of ``count`` rows (the writes make the same few again and again)."""
    listed, marks = ", ".join(f"[{c}]" for c in columns), "(" + ", ".join("?" for _ in columns) + ")"
    return f"INSERT {'OR IGNORE' if or_ignore else ''} INTO [{name}] ({listed}) VALUES {', '.join([marks] * count)} {on_conflict}"


def update(db: Database, name: str, *rows: dict[str, Any]) -> None:
    """UPDATE the stored rows, all with the same columns, by primary key, as one statement;
    columns missing from the rows keep their stored values."""
    pks = primary_key(name)
    changed = tuple(column for column in rows[0] if column not in pks) if rows else ()
    if not changed:
        return
    sql = _update_sql(name, changed)
    if len(rows) == 1:
        db.conn.execute(sql, [sql_value(rows[0][c]) for c in changed] + [rows[0][c] for c in pks])
    else:
        db.conn.executemany(sql, [[sql_value(row[c]) for c in changed] + [row[c] for c in pks] for row in rows])


@functools.lru_cache(maxsize=1024)
def _update_sql(name: str, changed: tuple[str, ...]) -> str:
    sets = ", ".join(f"[{column}] = ?" for column in changed)
    where = " AND ".join(f"[{column}] = ?" for column in primary_key(name))
    return f"UPDATE [{name}] SET {sets} WHERE {where}"


def unchanged_dropped(name: str, row: dict[str, Any], stored: dict[str, Any]) -> dict[str, Any]:
    """``row`` without the columns, but its key, that hold the same value in ``stored`` (the
    row as read, or as last written): an UPDATE rewrites the entries of every index on a
    column it sets and tests every trigger's WHEN, even where the value stays."""
    pks = primary_key(name)
    return {c: value for c, value in row.items() if c in pks or not _same(sql_value(value), stored.get(c, _ABSENT))}


_ABSENT = object()


def _same(value: Any, stored: Any) -> bool:
    """The same value of the same type: 1 and 1.0, or 1 and True, are stored differently."""
    return type(value) is type(stored) and value == stored


def update_each(db: Database, name: str, rows: Iterable[dict[str, Any]]) -> None:
    """UPDATE the rows, in their order, one statement for each run of rows with the same columns."""
    for _, same_columns in groupby(rows, key=tuple):
        update(db, name, *same_columns)


def upsert(db: Database, name: str, row: dict[str, Any]) -> None:
    """Insert ``row``, or replace the stored row's values for the columns it has."""
    insert(db, name, row, on_conflict=_on_conflict_sql(name, tuple(row)))


@functools.lru_cache(maxsize=256)
def _on_conflict_sql(name: str, columns: tuple[str, ...]) -> str:
    pks = primary_key(name)
    sets = ", ".join(f"[{c}] = excluded.[{c}]" for c in columns if c not in pks)
    return f"ON CONFLICT ({', '.join(pks)}) DO UPDATE SET {sets}"


def get(db: Database, name: str, key: tuple[Any, ...]) -> dict[str, Any] | None:
    """The stored row by primary key."""
    return next(dicts(db.conn.execute(_get_sql(name), key)), None)


@functools.cache
def _get_sql(name: str) -> str:
    where = " AND ".join(f"[{column}] = ?" for column in primary_key(name))
    return f"SELECT * FROM [{name}] WHERE {where}"


def dicts(cursor: sqlite3.Cursor) -> Iterator[dict[str, Any]]:
    """The cursor's rows as dicts by column name."""
    names = [column[0] for column in cursor.description]
    return (dict(zip(names, found)) for found in cursor)


# Values stored as they are (sql_value's test, done inline where rows are many).
_STORED_AS_IS = (str, int, type(None), float, bytes)


def sql_value(value: Any) -> Any:
    """As sqlite-utils stores it: lists and dicts as JSON text."""
    if not isinstance(value, (dict, list, tuple)):
        return value
    if not value:  # most posts' images, attachments and flags: json.dumps's text, without its encoder's set-up
        return "{}" if isinstance(value, dict) else "[]"
    return json.dumps(value, default=repr, ensure_ascii=False)


def without_none(row: dict[str, Any]) -> dict[str, Any]:
    """The row without its None values: columns left out keep what is stored."""
    return {column: value for column, value in row.items() if value is not None}

