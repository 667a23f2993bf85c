"""The archive's kept raw pages (and its media store, when there is one) as a WARC 1.1 file.

Each kept page becomes a ``response`` record with its original capture time (``fetched_at``),
its own status and headers, and a payload digest (SHA-256, the hash the archive keys pages by).
A payload seen before, under any URL, becomes a ``revisit`` record that refers to the first
one (identical-payload-digest). Each stored media file is one whole ``200`` response; the
other addresses the archive knows it by are revisits of it. Warcinfo records at the start name
each thread's first page with its title, for ReplayWeb.page's list of pages. Records are
written as rows are read, one body in memory at a time, and media files are copied from disk
in blocks: memory stays flat however large the archive. The archive is opened read-only.

Example::

    from export.warc import write_warc
    with open("forum.warc.gz", "wb") as out:
        write_warc("archive.db", out)
"""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from http import HTTPStatus
from io import BytesIO
from pathlib import Path
from typing import IO, Any

from warcio.recordloader import ArcWarcRecord
from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date
from warcio.warcwriter import WARCWriter

from export import connect_read_only, stored_file
from pipelines.media_store import default_root
from pipelines.rawpages import raw_body

# Headers that describe how the bytes travelled, not what they are: the archive keeps the body
# as decoded (no gzip, no chunks), so the record says so and states the kept length itself.
TRANSFER_HEADERS = {"content-encoding", "transfer-encoding", "content-length"}

# Each kept page with the first page of the same payload (itself when it is the first), in
# capture order; the window's sort is SQLite's, which spills to disk, so no Python dictionary
# of every digest grows with the archive.
PAGES_SQL = """
SELECT rowid, url, fetched_at, status, content_type, {headers} AS headers, sha256,
       first_value(rowid) OVER same AS first_rowid,
       first_value(url) OVER same AS first_url,
       first_value(fetched_at) OVER same AS first_fetched_at
  FROM raw_pages
WINDOW same AS (PARTITION BY sha256 ORDER BY fetched_at, rowid)
 ORDER BY fetched_at, rowid
"""

# Each thread's first page, its newest kept version (SQLite takes url from the row of the MAX).
THREAD_PAGES = """
SELECT r.url, MAX(r.fetched_at) AS fetched_at, a.title, a.site, a.tid
  FROM articles AS a
  JOIN pages AS p ON p.site = a.site AND p.tid = a.tid AND p.kind = 'thread' AND p.page = 1
  JOIN raw_pages AS r ON r.url = p.url AND r.status = 200
 GROUP BY a.site, a.tid
 ORDER BY a.site, a.tid
"""
PAGES_PER_WARCINFO = 1000
# Where the archive names a stored file (by its SHA-256) under an address, by table.
MEDIA_ALIAS_SOURCES = [
    ("attachments", "SELECT url, sha256 FROM attachments WHERE sha256 IS NOT NULL AND url IS NOT NULL"),
    ("attachments", "SELECT image_url, sha256 FROM attachments WHERE sha256 IS NOT NULL AND image_url IS NOT NULL"),
    ("post_images", "SELECT url, sha256 FROM post_images WHERE sha256 IS NOT NULL"),
    ("portal_images", "SELECT url, sha256 FROM portal_images WHERE sha256 IS NOT NULL"),
]
# Each address of a stored file but the one it was fetched from (UNION: each once).
MEDIA_ALIASES = """
SELECT aliases.url, m.sha256, m.size, m.content_type, m.first_url, m.fetched_at
  FROM ({sources}) AS aliases
  JOIN media AS m ON m.sha256 = aliases.sha256
 WHERE aliases.url != m.first_url
 ORDER BY m.fetched_at, m.sha256, aliases.url
"""


def write_warc(
    db_path: str | Path, out: IO[bytes], gzip: bool = True, media_dir: str | Path | None = None, name_pages: bool = True
) -> dict[str, int]:
    """Write the archive's raw pages, then its media files, to ``out`` as WARC 1.1.

    Returns the count of each record type written. ``media_dir`` is the media store (default:
    ``<archive>.media`` when the archive has a ``media`` table). ``name_pages``: warcinfo records
    first name each thread's first page (see write_records).
    """
    writer = WARCWriter(out, gzip=gzip, warc_version="WARC/1.1")
    counts = {"warcinfo": 0, "response": 0, "revisit": 0}
    filename = Path(out.name).name if isinstance(getattr(out, "name", None), str) else "archive.warc"
    for record in write_records(writer, db_path, filename, media_dir, name_pages):
        counts[record.rec_type] += 1
    return counts


def write_records(
    writer: WARCWriter, db_path: str | Path, filename: str, media_dir: str | Path | None = None, name_pages: bool = True
) -> Iterator[ArcWarcRecord]:
    """Write the WARC's records one by one, yielding each once it is written (a caller that
    counts the bytes written knows each record's offset and length: export.wacz's index).

    With ``name_pages``, warcinfo records after the first carry ``json-metadata`` lines naming
    the threads' first pages with their titles (THREAD_PAGES), a batch at a time: what
    ReplayWeb.page lists as the WARC's pages, where it would otherwise list every HTML answer
    under its address. They come before the pages, as it reads them only until the first
    response.
    """
    info = writer.create_warcinfo_record(filename, {
        "software": "discuz-archive (python -m export)",
        "format": "WARC File Format 1.1",
        "description": f"the raw pages and media of {Path(db_path).name}",
    })  # fmt: skip
    writer.write_record(info)
    yield info
    conn = connect_read_only(db_path)
    conn.row_factory = sqlite3.Row
    try:
        tables = tables_of(conn)
        if name_pages:
            yield from _write_page_names(writer, conn, filename)
        if "raw_pages" in tables:
            yield from _write_pages(writer, conn)
        if "media" in tables:
            store = Path(media_dir) if media_dir else default_root(db_path)
            yield from _write_media(writer, conn, store)
            yield from _write_media_aliases(writer, conn, store, tables)
    finally:
        conn.close()


def thread_pages(conn: sqlite3.Connection) -> sqlite3.Cursor | None:
    """Each thread whose first page is kept: its URL, its newest capture time and its title
    (rows of ``conn``'s row factory: sqlite3.Row here); None for an archive without kept pages."""
    if not {"raw_pages", "pages", "articles"} <= tables_of(conn):
        return None
    return conn.execute(THREAD_PAGES)


def tables_of(conn: sqlite3.Connection) -> set[str]:
    return {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _write_page_names(writer: WARCWriter, conn: sqlite3.Connection, filename: str) -> Iterator[ArcWarcRecord]:
    rows = thread_pages(conn)
    while rows and (batch := rows.fetchmany(PAGES_PER_WARCINFO)):
        pages = [{"url": row["url"], "title": row["title"] or row["url"], "timestamp": warc_timestamp(row["fetched_at"])}
                 for row in batch]  # fmt: skip
        record = writer.create_warcinfo_record(filename, {"json-metadata": json.dumps({"pages": pages}, ensure_ascii=False)})
        writer.write_record(record)
        yield record


def _write_pages(writer: WARCWriter, conn: sqlite3.Connection) -> Iterator[ArcWarcRecord]:
    columns = {row[1] for row in conn.execute("PRAGMA table_info(raw_pages)")}
    sql = PAGES_SQL.format(headers="headers" if "headers" in columns else "NULL")
    for row in conn.execute(sql):
        headers = _http_headers(row["status"], _header_pairs(row["headers"], row["content_type"]))
        digest = payload_digest(row["sha256"])
        date = warc_date(row["fetched_at"])
        if row["first_rowid"] != row["rowid"]:
            record = writer.create_revisit_record(
                row["url"], digest, row["first_url"], warc_date(row["first_fetched_at"]),
                http_headers=headers, warc_headers_dict={"WARC-Date": date},
            )  # fmt: skip
            writer.write_record(record)
            yield record
            continue
        (blob,) = conn.execute("SELECT body FROM raw_pages WHERE rowid = ?", [row["rowid"]]).fetchone()
        body = raw_body(blob)
        headers.replace_header("Content-Length", str(len(body)))
        record = writer.create_warc_record(
            row["url"], "response", payload=BytesIO(body), length=len(body), http_headers=headers,
            warc_headers_dict={"WARC-Date": date, "WARC-Payload-Digest": digest},
        )  # fmt: skip
        writer.write_record(record)
        yield record


def _write_media(writer: WARCWriter, conn: sqlite3.Connection, store: Path) -> Iterator[ArcWarcRecord]:
    """Each stored file once, whole, as the response to its first URL."""
    for row in conn.execute("SELECT sha256, size, content_type, first_url, fetched_at FROM media ORDER BY fetched_at, sha256"):
        path = stored_file(store, row["sha256"])
        if path is None:
            continue  # recorded, not (yet) stored: nothing to replay
        # the file's own size: a row's that differs (another program's; a file cut short) would
        # make the record's length lie and every record after it unreadable
        size = path.stat().st_size
        with open(path, "rb") as payload:
            record = writer.create_warc_record(
                row["first_url"], "response", payload=payload, length=size, http_headers=_file_headers(row, size),
                warc_headers_dict={"WARC-Date": warc_date(row["fetched_at"]), "WARC-Payload-Digest": payload_digest(row["sha256"])},
            )  # fmt: skip
            writer.write_record(record)
        yield record


def _write_media_aliases(writer: WARCWriter, conn: sqlite3.Connection, store: Path, tables: set[str]) -> Iterator[ArcWarcRecord]:
    """The other addresses the archive knows a stored file by (an image's attachment link, the
    same image in another post), each a revisit of the file's response: a link to any of them
    replays the file."""
    sources = " UNION ".join(sql for table, sql in MEDIA_ALIAS_SOURCES if table in tables)
    if not sources:
        return
    for row in conn.execute(MEDIA_ALIASES.format(sources=sources)):
        if stored_file(store, row["sha256"]) is None:
            continue
        date = warc_date(row["fetched_at"])
        record = writer.create_revisit_record(
            row["url"], payload_digest(row["sha256"]), row["first_url"], date,
            http_headers=_file_headers(row), warc_headers_dict={"WARC-Date": date},
        )  # fmt: skip
        writer.write_record(record)
        yield record


def _file_headers(media: sqlite3.Row, size: int | None = None) -> StatusAndHeaders:
    """A stored file's answer: the store keeps no headers, so its type and size are the file's own."""
    size = media["size"] if size is None else size
    pairs = [("Content-Type", media["content_type"] or "application/octet-stream"), ("Content-Length", str(size))]
    return _http_headers(200, pairs)


def _header_pairs(stored: str | None, content_type: str | None) -> list[tuple[str, str]]:
    """The kept headers without the transfer ones; rows kept before headers were kept have
    only their Content-Type."""
    if stored is None:
        return [("Content-Type", content_type)] if content_type else []
    return [(name, value) for name, value in json.loads(stored) if name.lower() not in TRANSFER_HEADERS]


def _http_headers(status: int, pairs: list[tuple[str, str]]) -> StatusAndHeaders:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Unknown"
    return StatusAndHeaders(f"{status} {phrase}", list(pairs), protocol="HTTP/1.1")


def payload_digest(sha256_hex: str) -> str:
    """A WARC payload digest from a hex SHA-256, base32 as the WARC convention writes it."""
    return "sha256:" + base64.b32encode(bytes.fromhex(sha256_hex)).decode("ascii")


def warc_date(stamp: str) -> str:
    """An archive timestamp (ISO 8601) as a WARC-Date: UTC, Z, microseconds as WARC 1.1 allows."""
    moment = datetime.fromisoformat(stamp)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return datetime_to_iso_date(moment.astimezone(UTC).replace(tzinfo=None), use_micros=moment.microsecond != 0)


def warc_timestamp(stamp: str) -> str:
    """An archive timestamp as the 14 digits replay tools key captures by (UTC)."""
    return warc_date(stamp)[:19].replace("-", "").replace(":", "").replace("T", "")


def summary(counts: dict[str, Any]) -> str:
    return ", ".join(f"{count} {kind}" for kind, count in counts.items())
