"""Export articles, comments, the posts view, threads (one row each), members, revisions or what
else the archive keeps (点评, ratings, polls, tags, attachments, portal articles and comments) to
CSV, JSON lines or Parquet, streaming.

What this adds to ``sqlite-utils ... --csv/--nl`` and datasette's CSV links: a byte order mark
so Excel reads Chinese CSV right; Parquet typed for analysis (export.parquet); each row of a
thread with its forum; the crawler's bookkeeping left out (export.tables); filters by site,
forum and date range without writing SQL. Rows are read ``batch_size`` at a time and written as they come (Parquet: one
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

from browse.forum import utc_offset
from export.tables import EXPORTS
from pipelines.media_store import stored_path

# What can be exported, in the order --help lists it (export.tables says what each holds).
SOURCES = tuple(EXPORTS)
# What has no thread, so no forum: the portal's articles and comments, the members.
WITHOUT_FORUM = {name for name, table in EXPORTS.items() if not table.forum}
FORMATS = ("csv", "jsonl", "parquet")
BATCH_SIZE = 10_000
# --since/--until: a year, a month or a day, compared with posted_at in the forum's own time
DATE_PREFIX = re.compile(r"\d{4}(-\d{2}(-\d{2})?)?")


# a media store's file name
SHA256 = re.compile(r"[0-9a-f]{64}")


def stored_file(store: Path, sha256: str | None) -> Path | None:
    """``sha256``'s file in the media store, when it is there. A row's sha256 that is not 64 hex
    digits (another program's row) never becomes a path: it could lead out of the store."""
    if not SHA256.fullmatch(sha256 or ""):
        return None
    path = store / stored_path(sha256)
    return path if path.is_file() else None


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


def select_sql(
    source: str, filters: Filters, conn: sqlite3.Connection | None = None, all_columns: bool = False,
    typed: bool = False,
) -> tuple[str, dict[str, Any]]:
    """The SELECT for a source and filters, with its named parameters. Given the archive, a
    column an older archive lacks comes out empty; ``all_columns`` keeps the bookkeeping;
    ``typed`` (Parquet) gives a post's images and attachments with their files."""
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}: one of {', '.join(SOURCES)}")
    table = EXPORTS[source]
    where: list[str] = []
    params: dict[str, Any] = {}

    def placeholders(name: str, values: list[str]) -> str:
        params.update({f"{name}{i}": value for i, value in enumerate(values)})
        return ", ".join(f":{name}{i}" for i in range(len(values)))

    if filters.sites:
        where.append(f"t.site IN ({placeholders('site', filters.sites)})")
    if filters.forums and not table.forum:
        raise ValueError(f"{source} belong to no forum: leave out the forum filter")
    if filters.forums:
        forums = placeholders("forum", filters.forums)
        # the thread's forum, as its article holds it
        where.append(
            "EXISTS (SELECT 1 FROM articles AS f WHERE f.site = t.site AND f.tid = t.tid"
            f" AND (f.fid IN ({forums}) OR f.forum_name IN ({forums})))"
        )
    date = f"t.{table.date}" if table.date else (
        "(SELECT f.posted_at FROM articles AS f WHERE f.site = t.site AND f.tid = t.tid)"
    )
    if filters.since:
        where.append(f"substr({date}, 1, :since_length) >= :since")
        params |= {"since": filters.since, "since_length": len(filters.since)}
    if filters.until:
        where.append(f"substr({date}, 1, :until_length) <= :until")
        params |= {"until": filters.until, "until_length": len(filters.until)}
    selects = []
    for columns, tables, condition in table.selects(conn, all_columns, typed):
        listed = ", ".join(f"{expr} AS [{name}]" for name, expr in columns)
        conditions = [condition, *where] if condition else where
        selects.append(f"SELECT {listed} {tables}" + (" WHERE " + " AND ".join(conditions) if conditions else ""))
    # one SELECT sorts by its table's columns (t.site: a joined table has a site too); a
    # compound one by its result's, merging the SELECTs in order
    prefix = "t." if len(selects) == 1 else ""
    order = ", ".join(f"{prefix}{column.strip()}" for column in table.order.split(","))
    return " UNION ALL ".join(selects) + f" ORDER BY {order}", params


def unreadable(db_path: str | Path, error: sqlite3.OperationalError) -> str | None:
    """What to tell the user when ``error`` says the archive lacks a table or column this
    version reads; None for any other error."""
    if not str(error).startswith("no such"):
        return None
    # an archive from an older version gets its missing tables and columns when a crawl opens it
    return (f"{db_path} is not an archive this version can read ({error}): an older archive is brought "
            "up to date by the next crawl into it")


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
    all_columns: bool = False,
) -> int:
    """Write the rows of ``source`` to ``out``: a text file for csv/jsonl; for parquet a
    binary file or a path. ``all_columns`` adds the crawler's bookkeeping columns.

    Returns the number of rows written. A CSV's BOM is the caller's choice of encoding
    (``utf-8-sig``).
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: one of {', '.join(FORMATS)}")
    conn = connect_read_only(db_path)
    try:
        sql, params = select_sql(source, filters or Filters(), conn, all_columns, typed=fmt == "parquet")
        cursor = conn.execute(sql, params)
        columns = [description[0] for description in cursor.description]
        batches = _batches(cursor, batch_size)
        if fmt == "csv":
            return _write_csv(out, columns, batches)
        if fmt == "jsonl":
            return _write_jsonl(out, columns, batches)
        from export.parquet import write_parquet  # only Parquet needs pyarrow

        return write_parquet(out, EXPORTS[source], columns, batches, forum_offsets(conn, filters or Filters()))
    finally:
        conn.close()


def forum_offsets(conn: sqlite3.Connection, filters: Filters) -> dict[str, str]:
    """Each site's UTC offset (+08:00), as its posts' times carry it; sites without posts are left out."""
    # an older archive, or one another program wrote, may lack any of these tables
    present = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
    timed = [table for table in ("articles", "comments", "portal_articles") if table in present]
    sites = [row[0] for row in conn.execute(
        " UNION ".join(f"SELECT DISTINCT site FROM [{table}]" for table in ["sites", *timed] if table in present)
    )] if timed else []
    offsets = {}
    for site in sites:
        if filters.sites and site not in filters.sites:
            continue
        if offset := utc_offset(conn, site, tuple(timed)):
            offsets[site] = offset
    return offsets


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
