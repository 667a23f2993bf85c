"""Export articles, comments, the posts view or what else the archive keeps (点评, ratings,
polls, tags, attachments, portal articles and comments) to CSV, JSON lines or Parquet, streaming.

What this adds to ``sqlite-utils ... --csv/--nl`` and datasette's CSV links: a byte order mark
so Excel reads Chinese CSV right, Parquet, and filters by site, forum and date range without
writing SQL. Rows are read ``batch_size`` at a time and written as they come (Parquet: one
row group per batch), so memory stays flat however large the archive. The archive is opened
read-only: exporting while a crawl writes is fine.

Example::

    from export import Filters, export
    with open("comments.csv", "w", encoding="utf-8-sig", newline="") as out:
        export("archive.db", "comments", "csv", out, Filters(forums=["2"], since="2024"))

The command line is ``python -m export --help``.
"""

from __future__ import annotations

import csv
import json
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

# what can be exported: source -> the order rows come out in (a thread's posts stay together)
SOURCES = {
    "articles": "site, tid",
    "comments": "site, tid, floor, pid",
    "posts": "site, tid, floor, pid",
    "post_comments": "site, tid, pid, posted_at, key",
    "ratings": "site, tid, pid, rated_at, rater_key, credit",
    "polls": "site, tid",
    "poll_options": "site, tid, option_no",
    "thread_tags": "site, tid, tag",
    "attachments": "site, tid, pid, aid",
    "portal_articles": "site, aid",
    "portal_comments": "site, aid, posted_at, cid",
}
# The date --since/--until compare, where it is not posted_at: a rating's time, an
# attachment's upload; a poll's or a tag's thread's first post (None: the thread's).
DATE_COLUMNS = {"ratings": "rated_at", "attachments": "uploaded_at", "polls": None, "poll_options": None,
                "thread_tags": None}
# What has no thread, so no forum: the portal's articles and comments.
WITHOUT_FORUM = {"portal_articles", "portal_comments"}
FORMATS = ("csv", "jsonl", "parquet")
BATCH_SIZE = 10_000
# --since/--until: a year, a month or a day, compared with posted_at in the forum's own time
DATE_PREFIX = re.compile(r"\d{4}(-\d{2}(-\d{2})?)?")


@dataclass
class Filters:
    """Which rows: any of these sites, any of these forums (id or name), posted in [since, until].

    ``since`` and ``until`` are inclusive prefixes of posted_at: ``until="2024-03"`` keeps
    all of March 2024, in the forum's own time.
    """

    sites: list[str] = field(default_factory=list)
    forums: list[str] = field(default_factory=list)
    since: str | None = None
    until: str | None = None

    def __post_init__(self) -> None:
        for bound in (self.since, self.until):
            if bound is not None and not DATE_PREFIX.fullmatch(bound):
                raise ValueError(f"not a date: {bound!r} (use YYYY, YYYY-MM or YYYY-MM-DD)")


def select_sql(source: str, filters: Filters) -> tuple[str, dict[str, Any]]:
    """The SELECT for a source and filters, with its named parameters."""
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}: one of {', '.join(SOURCES)}")
    where: list[str] = []
    params: dict[str, Any] = {}

    def placeholders(name: str, values: list[str]) -> str:
        params.update({f"{name}{i}": value for i, value in enumerate(values)})
        return ", ".join(f":{name}{i}" for i in range(len(values)))

    if filters.sites:
        where.append(f"t.site IN ({placeholders('site', filters.sites)})")
    if filters.forums and source in WITHOUT_FORUM:
        raise ValueError(f"{source} belong to no forum: leave out the forum filter")
    if filters.forums:
        forums = placeholders("forum", filters.forums)
        # comments and posts carry no forum: their thread's article does
        where.append(
            "EXISTS (SELECT 1 FROM articles AS a WHERE a.site = t.site AND a.tid = t.tid"
            f" AND (a.fid IN ({forums}) OR a.forum_name IN ({forums})))"
        )
    date = DATE_COLUMNS.get(source, "posted_at")
    date = f"t.{date}" if date else "(SELECT a.posted_at FROM articles AS a WHERE a.site = t.site AND a.tid = t.tid)"
    if filters.since:
        where.append(f"substr({date}, 1, :since_length) >= :since")
        params |= {"since": filters.since, "since_length": len(filters.since)}
    if filters.until:
        where.append(f"substr({date}, 1, :until_length) <= :until")
        params |= {"until": filters.until, "until_length": len(filters.until)}
    sql = f"SELECT * FROM [{source}] AS t"
    if where:
        sql += " WHERE " + " AND ".join(where)
    return sql + f" ORDER BY {SOURCES[source]}", params


def connect_read_only(path: str | Path) -> sqlite3.Connection:
    """Open the archive read-only; a missing file is an error, not a new empty archive."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"no archive at {path}")
    return sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)


def export(
    db_path: str | Path,
    source: str,
    fmt: str,
    out: IO | str,
    filters: Filters | None = None,
    batch_size: int = BATCH_SIZE,
) -> int:
    """Write the rows of ``source`` to ``out``: a text file for csv/jsonl; for parquet a
    binary file or a path.

    Returns the number of rows written. A CSV's BOM is the caller's choice of encoding
    (``utf-8-sig``).
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: one of {', '.join(FORMATS)}")
    sql, params = select_sql(source, filters or Filters())
    conn = connect_read_only(db_path)
    try:
        cursor = conn.execute(sql, params)
        columns = [description[0] for description in cursor.description]
        batches = _batches(cursor, batch_size)
        if fmt == "csv":
            return _write_csv(out, columns, batches)
        if fmt == "jsonl":
            return _write_jsonl(out, columns, batches)
        return _write_parquet(out, columns, _arrow_types(conn, source, columns), batches)
    finally:
        conn.close()


def _batches(cursor: sqlite3.Cursor, size: int) -> Iterator[list[tuple]]:
    while batch := cursor.fetchmany(size):
        yield batch


def _write_csv(out: IO[str], columns: list[str], batches: Iterator[list[tuple]]) -> int:
    writer = csv.writer(out)  # Excel's dialect: commas, "quotes", CRLF; None is written as ""
    writer.writerow(columns)
    count = 0
    for batch in batches:
        writer.writerows(batch)
        count += len(batch)
    return count


def _write_jsonl(out: IO[str], columns: list[str], batches: Iterator[list[tuple]]) -> int:
    count = 0
    for batch in batches:
        out.writelines(json.dumps(dict(zip(columns, row)), ensure_ascii=False) + "\n" for row in batch)
        count += len(batch)
    return count


def _write_parquet(out: IO[bytes] | str, columns: list[str], types: list, batches: Iterator[list[tuple]]) -> int:
    import pyarrow as pa  # only Parquet needs it
    import pyarrow.parquet as pq

    schema = pa.schema(list(zip(columns, types)))
    count = 0
    with pq.ParquetWriter(out, schema) as writer:  # an empty export is still a valid file
        for batch in batches:
            arrays = [pa.array(values, type=kind) for values, kind in zip(zip(*batch), types)]
            writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=schema))
            count += len(batch)
    return count


def _arrow_types(conn: sqlite3.Connection, source: str, columns: list[str]) -> list:
    """Parquet column types from the declared SQLite types (SQLite's affinity rules); a column
    declared without one (a view's expression) takes the type of its first value."""
    import pyarrow as pa

    declared = {row[1]: (row[2] or "").upper() for row in conn.execute(f"PRAGMA table_xinfo([{source}])")}
    by_storage = {"integer": pa.int64(), "real": pa.float64(), "text": pa.string(), "blob": pa.binary()}
    types = []
    for column in columns:
        kind = declared.get(column, "")
        if "INT" in kind:
            types.append(pa.int64())
        elif any(word in kind for word in ("CHAR", "CLOB", "TEXT")):
            types.append(pa.string())
        elif any(word in kind for word in ("REAL", "FLOA", "DOUB")):
            types.append(pa.float64())
        elif "BLOB" in kind:
            types.append(pa.binary())
        else:
            sample = conn.execute(
                f"SELECT typeof([{column}]) FROM [{source}] WHERE [{column}] IS NOT NULL LIMIT 1"
            ).fetchone()
            types.append(by_storage[sample[0]] if sample else pa.string())
    return types
