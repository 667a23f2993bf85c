"""The archive as a WACZ (Web Archive Collection Zipped 1.1.1): one file that ReplayWeb.page
opens and replays, from any web host or from disk, with no replay server.

Inside the ZIP:

- ``archive/data.warc.gz``: the WARC of export.warc (kept raw pages, and each media file as one
  whole ``200`` response: the media store keeps files whole, however they were downloaded);
- ``indexes/index.cdx.gz`` and ``indexes/index.idx``: the CDXJ index, sorted by SURT, in gzip
  blocks of CDX_BLOCK lines with a line per block in the ``.idx`` (a "ZipNum" index), so a
  replayer reads only the blocks a page needs, not the whole index;
- ``pages/pages.jsonl``: one entry per thread, its first page (URL, capture time, title, and
  with ``text`` its posts' text);
- ``datapackage.json``: every file above with its SHA-256 and size; ``datapackage-digest.json``:
  the SHA-256 of datapackage.json.

The WARC and the compressed index are stored uncompressed in the ZIP (a replayer reads them by
byte range); the rest is deflated. Memory stays flat: records are written as rows are read, the
index is sorted by SQLite in a scratch file, and pages are written as they are read. The file is
written under a temporary name and renamed when complete.

Example::

    from export.wacz import write_wacz
    write_wacz("archive.db", "forum.wacz")
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import re
import sqlite3
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO
from urllib.parse import quote, urlsplit

from warcio.recordloader import ArcWarcRecord
from warcio.warcwriter import WARCWriter

from export import connect_read_only
from export.warc import summary, tables_of, thread_pages, warc_date, warc_timestamp, write_records

WACZ_VERSION = "1.1.1"
WARC_NAME = "data.warc.gz"
CDX_NAME = "index.cdx.gz"
CDX_BLOCK = 1024  # CDXJ lines per gzip block of the index, as ArchiveWeb.page and py-wacz write them
SOFTWARE = "discuz-archive (python -m export wacz)"
# What the WHATWG URL parser leaves unescaped in a path and in a query (wabac.js keys its
# lookups by a URL so parsed): every printable ASCII character but these.
_PATH_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in '"<>`{}')
_QUERY_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in "\"<>'")
_DEFAULT_PORTS = {"http": 80, "https": 443}
# The posts on a thread's first page, noise-free (ReplayWeb.page's own text of a page would
# carry the anti-copy noise): the first post and the replies to the page's last floor.
PAGE_TEXT = """
SELECT content_text FROM articles WHERE site = :site AND tid = :tid
UNION ALL
SELECT * FROM (SELECT content_text FROM comments WHERE site = :site AND tid = :tid AND floor <= :last ORDER BY floor, pid)
"""
POSTS_PER_PAGE = 10  # Discuz's default, where the archive does not know the forum's


def write_wacz(
    db_path: str | Path, path: str | Path, media_dir: str | Path | None = None, title: str | None = None,
    text: bool = False, cdx_block: int = CDX_BLOCK,
) -> dict[str, int]:
    """Write the archive's WACZ to ``path``; returns the count of WARC records of each type
    and of ``pages``. ``media_dir``: the media store (default ``<archive>.media``); ``text``:
    each page's posts' text in pages.jsonl, for ReplayWeb.page's search; ``cdx_block``: index
    lines per gzip block."""
    path = Path(path)
    partial = path.with_name(path.name + ".part")
    counts = {"pages": 0, "warcinfo": 0, "response": 0, "revisit": 0}
    resources: list[dict] = []
    try:
        with tempfile.TemporaryDirectory(prefix=".wacz-", dir=path.parent) as scratch, zipfile.ZipFile(partial, "w") as wacz:
            index = _SortedIndex(Path(scratch) / "cdx.db")
            with _Entry(wacz, f"archive/{WARC_NAME}", resources) as out:
                writer = WARCWriter(out, gzip=True, warc_version="WARC/1.1")
                start = 0
                for record in write_records(writer, db_path, WARC_NAME, media_dir, name_pages=False):
                    counts[record.rec_type] += 1
                    index.add(record, start, out.size - start)
                    start = out.size
            _write_index(wacz, index, resources, cdx_block)
            index.close()
            with _Entry(wacz, "pages/pages.jsonl", resources, zipfile.ZIP_DEFLATED) as out:
                counts["pages"] = _write_pages(out, db_path, text)
            package = json.dumps({
                "profile": "data-package",
                "title": title or _sites(db_path) or Path(db_path).stem,
                "description": f"The raw pages and media of {Path(db_path).name}, archived by discuz-archive",
                "created": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
                "wacz_version": WACZ_VERSION,
                "software": SOFTWARE,
                "resources": resources,
            }, ensure_ascii=False, indent=2).encode()  # fmt: skip
            wacz.writestr("datapackage.json", package, zipfile.ZIP_DEFLATED)
            digest = {"path": "datapackage.json", "hash": "sha256:" + hashlib.sha256(package).hexdigest()}
            wacz.writestr("datapackage-digest.json", json.dumps(digest, indent=2), zipfile.ZIP_DEFLATED)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return counts


def surt(url: str) -> str:
    """The SURT of a URL as ReplayWeb.page (wabac.js) computes it to look the URL up in a
    compressed index: lower case, ``www.`` dropped, the host's labels reversed and joined by
    commas, the port unless it is the scheme's, ``)``, the path, and the query's parameters
    sorted. ``http://127.0.0.1:8080/thread-4-1-1.html`` is ``127,0,0,1:8080)/thread-4-1-1.html``."""
    if not url.startswith(("http:", "https:")):
        return url
    lowered = re.sub(r"^(https?://)www\d*\.", r"\1", url).lower()
    try:
        parts = urlsplit(lowered)
        port = parts.port
    except ValueError:
        return url
    key = ",".join(reversed((parts.hostname or "").split(".")))
    if port and port != _DEFAULT_PORTS[parts.scheme]:
        key += f":{port}"
    key += ")" + (quote(parts.path, safe=_PATH_SAFE) or "/")
    if parts.query:
        key += "?" + "&".join(sorted(quote(parts.query, safe=_QUERY_SAFE).split("&")))
    return key


def cdxj_fields(record: ArcWarcRecord, offset: int, length: int) -> tuple[str, str, dict] | None:
    """(SURT, 14-digit timestamp, the CDXJ line's JSON) of a response or revisit record."""
    if record.rec_type not in ("response", "revisit"):
        return None
    url = record.rec_headers.get_header("WARC-Target-URI")
    http = record.http_headers
    mime = "warc/revisit" if record.rec_type == "revisit" else (http.get_header("Content-Type") or "").split(";")[0].strip()
    fields = {"url": url, "mime": mime, "status": http.get_statuscode(), "digest": record.rec_headers.get_header("WARC-Payload-Digest")}
    fields |= {"length": str(length), "offset": str(offset), "filename": WARC_NAME}
    return surt(url), warc_timestamp(record.rec_headers.get_header("WARC-Date")), fields


def _sites(db_path: str | Path) -> str:
    """The archive's sites (``bbs.example.com``): the collection's default title."""
    conn = connect_read_only(db_path)
    try:
        if "sites" not in tables_of(conn):
            return ""
        return ", ".join(site for (site,) in conn.execute("SELECT site FROM sites ORDER BY site"))
    finally:
        conn.close()


class _SortedIndex:
    """CDXJ lines in a scratch SQLite file, read back in SURT order: SQLite's sort spills to
    disk, so the index of any archive sorts in flat memory."""

    def __init__(self, path: Path):
        self.conn = sqlite3.connect(path)
        self.conn.execute("CREATE TABLE cdx (key TEXT, line TEXT)")

    def add(self, record: ArcWarcRecord, offset: int, length: int) -> None:
        if (fields := cdxj_fields(record, offset, length)) is not None:
            key = f"{fields[0]} {fields[1]}"
            self.conn.execute("INSERT INTO cdx VALUES (?, ?)", [key, f"{key} {json.dumps(fields[2], ensure_ascii=False)}\n"])

    def lines(self) -> Iterator[tuple[str, str]]:
        return self.conn.execute("SELECT key, line FROM cdx ORDER BY key, rowid")

    def close(self) -> None:
        self.conn.close()


def _write_index(wacz: zipfile.ZipFile, index: _SortedIndex, resources: list[dict], cdx_block: int) -> None:
    """The index in gzip blocks (each a whole gzip member: read on its own by its range), and
    the .idx: each block's first key with its offset and length."""
    blocks: list[str] = [f"!meta 0 {json.dumps({'format': 'cdxj-gzip-1.0', 'filename': CDX_NAME})}\n"]
    with _Entry(wacz, f"indexes/{CDX_NAME}", resources) as out:
        rows = index.lines()
        while batch := rows.fetchmany(cdx_block):
            block = gzip.compress("".join(line for _, line in batch).encode(), mtime=0)
            blocks.append(f"{batch[0][0]} {json.dumps({'offset': out.size, 'length': len(block)})}\n")
            out.write(block)
    with _Entry(wacz, "indexes/index.idx", resources, zipfile.ZIP_DEFLATED) as out:
        for line in blocks:  # a line per block of records: small
            out.write(line.encode())


def _write_pages(out: IO[bytes], db_path: str | Path, text: bool = False) -> int:
    """pages/pages.jsonl: a header, then each thread's first page, as the WACZ spec's pages;
    with ``text``, the text of the posts on it (PAGE_TEXT)."""
    out.write(json.dumps({"format": "json-pages-1.0", "id": "pages", "title": "Threads"}).encode() + b"\n")
    conn = connect_read_only(db_path)
    conn.row_factory = sqlite3.Row
    count = 0
    try:
        per_page = dict(conn.execute("SELECT site, posts_per_page FROM sites")) if text else {}
        for row in thread_pages(conn) or []:
            page = {
                "id": hashlib.sha1(f"{row['site']} {row['tid']}".encode()).hexdigest()[:32],
                "url": row["url"],
                "ts": warc_date(row["fetched_at"]),
                "title": row["title"] or row["url"],
            }
            if text:
                last = per_page.get(row["site"]) or POSTS_PER_PAGE
                posts = conn.execute(PAGE_TEXT, {"site": row["site"], "tid": row["tid"], "last": last})
                page["text"] = "\n".join(post for (post,) in posts if post)
            out.write(json.dumps(page, ensure_ascii=False).encode() + b"\n")
            count += 1
    finally:
        conn.close()
    return count


class _Entry:
    """A file of the ZIP, written to a scratch file first, counted (its offsets) and hashed
    (datapackage.json) as it goes; on close it is added to the ZIP and its resource joins
    ``resources``. Why not straight into the ZIP: zipfile streams an entry of unknown size only
    with a ZIP64 header in front of it and none in the ZIP's directory, and ReplayWeb.page then
    reads the entry from the wrong offset; a whole file gets the headers its size needs."""

    def __init__(self, wacz: zipfile.ZipFile, name: str, resources: list[dict], compression: int = zipfile.ZIP_STORED):
        self.wacz, self.name, self.resources, self.compression = wacz, name, resources, compression
        handle, scratch = tempfile.mkstemp(prefix=".wacz-", dir=Path(wacz.filename).parent)  # beside the WACZ: its disk
        self.scratch, self.raw = Path(scratch), os.fdopen(handle, "wb")
        self.size = 0
        self.digest = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.raw.write(data)
        self.digest.update(data)
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        self.raw.flush()

    def tell(self) -> int:
        return self.size

    def __enter__(self) -> _Entry:
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.raw.close()
            if exc[0] is None:
                self.wacz.write(self.scratch, self.name, compress_type=self.compression)
                resource = {"name": Path(self.name).name, "path": self.name}
                self.resources.append(resource | {"hash": "sha256:" + self.digest.hexdigest(), "bytes": self.size})
        finally:
            self.scratch.unlink(missing_ok=True)


def main(argv: list[str]) -> int:
    """python -m export wacz."""
    parse = argparse.ArgumentParser(
        prog="python -m export wacz",
        description="Write the archive's kept raw pages (ARCHIVE_RAW_PAGES=1) and media store as a WACZ "
        "that ReplayWeb.page opens: the WARC, its CDXJ index, one page per thread, datapackage.json.",
    )
    parse.add_argument("--db", default="archive.db", help="the archive (default: archive.db)")
    parse.add_argument("-o", "--output", required=True, help="the WACZ file, e.g. forum.wacz")
    parse.add_argument("--media-dir", help="the media store (default: <archive>.media)")
    parse.add_argument(
        "--text", action="store_true",
        help="put the text of each thread's first page in pages.jsonl: ReplayWeb.page then searches it "
        "(it loads it all when it opens the WACZ)",
    )  # fmt: skip
    parse.add_argument("--title", help="the collection's title ReplayWeb.page shows (default: the archive's sites)")
    args = parse.parse_args(argv)
    if not Path(args.db).is_file():
        parse.error(f"no archive at {args.db}")
    if not Path(args.output).resolve().parent.is_dir():
        parse.error(f"no folder for {args.output}")
    counts = write_wacz(args.db, args.output, media_dir=args.media_dir, title=args.title, text=args.text)
    pages = counts.pop("pages")
    print(f"{args.output}: {pages} pages; {summary(counts)} records", file=sys.stderr)
    if not counts["response"]:
        print("Nothing to replay: the archive keeps no raw pages nor files (crawl with -s ARCHIVE_RAW_PAGES=1, -a media=all)",
              file=sys.stderr)  # fmt: skip
    elif not pages:  # a crawl with -a media=all alone: ReplayWeb.page would list no page to open
        print("No thread to replay, only files: the archive keeps no thread pages (crawl again with -s ARCHIVE_RAW_PAGES=1"
              " and -a refresh=all to keep them)", file=sys.stderr)  # fmt: skip
    return 0
