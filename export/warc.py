"""The archive's kept raw pages (and its media store, when there is one) as a WARC 1.1 file.

Each kept page becomes a ``response`` record with its original capture time (``fetched_at``),
its own status and headers, and a payload digest (SHA-256, the hash the archive keys pages by).
A payload seen before, under any URL, becomes a ``revisit`` record that refers to the first
one (identical-payload-digest). Records are written as rows are read, one body in memory at
a time, and media files are copied from disk in blocks: memory stays flat however large the
archive. The archive is opened read-only.

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

from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date
from warcio.warcwriter import WARCWriter

from export import connect_read_only
from pipelines.media_store import default_root, stored_path
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


def write_warc(db_path: str | Path, out: IO[bytes], gzip: bool = True, media_dir: str | Path | None = None) -> dict[str, int]:
    """Write the archive's raw pages, then its media files, to ``out`` as WARC 1.1.

    Returns the count of each record type written. ``media_dir`` is the media store (default:
    ``<archive>.media`` when the archive has a ``media`` table).
    """
    writer = WARCWriter(out, gzip=gzip, warc_version="WARC/1.1")
    counts = {"warcinfo": 0, "response": 0, "revisit": 0}
    writer.write_record(writer.create_warcinfo_record(Path(out.name).name if hasattr(out, "name") else "archive.warc", {
        "software": "discuz-archive (python -m export warc)",
        "format": "WARC File Format 1.1",
        "description": f"the raw pages and media of {Path(db_path).name}",
    }))  # fmt: skip
    counts["warcinfo"] += 1
    conn = connect_read_only(db_path)
    conn.row_factory = sqlite3.Row
    try:
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "raw_pages" in tables:
            for record_type in _write_pages(writer, conn):
                counts[record_type] += 1
        if "media" in tables:
            store = Path(media_dir) if media_dir else default_root(db_path)
            for record_type in _write_media(writer, conn, store):
                counts[record_type] += 1
    finally:
        conn.close()
    return counts


def _write_pages(writer: WARCWriter, conn: sqlite3.Connection) -> Iterator[str]:
    columns = {row[1] for row in conn.execute("PRAGMA table_info(raw_pages)")}
    sql = PAGES_SQL.format(headers="headers" if "headers" in columns else "NULL")
    for row in conn.execute(sql):
        headers = _http_headers(row["status"], _header_pairs(row["headers"], row["content_type"]))
        digest = payload_digest(row["sha256"])
        date = warc_date(row["fetched_at"])
        if row["first_rowid"] != row["rowid"]:
            writer.write_record(writer.create_revisit_record(
                row["url"], digest, row["first_url"], warc_date(row["first_fetched_at"]),
                http_headers=headers, warc_headers_dict={"WARC-Date": date},
            ))  # fmt: skip
            yield "revisit"
            continue
        (blob,) = conn.execute("SELECT body FROM raw_pages WHERE rowid = ?", [row["rowid"]]).fetchone()
        body = raw_body(blob)
        headers.replace_header("Content-Length", str(len(body)))
        writer.write_record(writer.create_warc_record(
            row["url"], "response", payload=BytesIO(body), length=len(body), http_headers=headers,
            warc_headers_dict={"WARC-Date": date, "WARC-Payload-Digest": digest},
        ))  # fmt: skip
        yield "response"


def _write_media(writer: WARCWriter, conn: sqlite3.Connection, store: Path) -> Iterator[str]:
    """Each stored file once, as the response to its first URL (the media store keeps no
    headers: Content-Type and Content-Length are the file's own)."""
    for row in conn.execute("SELECT sha256, size, content_type, first_url, fetched_at FROM media ORDER BY fetched_at, sha256"):
        path = store / stored_path(row["sha256"])
        if not path.is_file():
            continue  # recorded, not (yet) stored: nothing to replay
        pairs = [("Content-Type", row["content_type"] or "application/octet-stream"), ("Content-Length", str(row["size"]))]
        with open(path, "rb") as payload:
            writer.write_record(writer.create_warc_record(
                row["first_url"], "response", payload=payload, length=row["size"],
                http_headers=_http_headers(200, pairs),
                warc_headers_dict={"WARC-Date": warc_date(row["fetched_at"]), "WARC-Payload-Digest": payload_digest(row["sha256"])},
            ))  # fmt: skip
        yield "response"


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


def summary(counts: dict[str, Any]) -> str:
    return ", ".join(f"{count} {kind}" for kind, count in counts.items())
