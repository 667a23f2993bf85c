"""Storage: rows/s that the archive's writes reach, and what an archive costs on disk.

``write_rate`` parses a slice of the synthetic forum once (outside the timing), then times
``pipelines.store.save_in_one_transaction`` (``pipelines.sqlite.save_items`` in commits
before it) writing those pages in batches of ARCHIVE_BATCH_SIZE (20) into a
fresh file archive: as ``open_archive`` makes it (full-text indexes and their triggers), with
the schema alone (no full-text index), and with raw pages kept when the model has a ``body``.

``sizes`` reads an archive a crawl made and measures it as it is, without its raw pages and
without its full-text indexes (copies, VACUUMed), in bytes per 1,000 posts.
"""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
import sqlite3
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlite_utils import Database

from bench.synth import thread_pages

try:
    from pipelines.schema import create_schema
    from pipelines.store import open_archive, save_in_one_transaction
except ImportError:  # a commit before pipelines/sqlite.py was split (bench/ measures older commits too)
    from pipelines.sqlite import create_schema, open_archive
    from pipelines.sqlite import save_items as save_in_one_transaction
try:
    from scraper.thread import parse_thread_page
except ImportError:  # before the thread parser's module was named for what it reads
    from scraper.discuz import parse_thread_page
from scraper.models import FetchedPage

BATCH = 20
FTS_TABLES = ("articles", "comments")


def _page_items(forum: Path, base: str, limit: int, keep_body: bool) -> list[FetchedPage]:
    fields = {field.name for field in dataclasses.fields(FetchedPage)}
    items = []
    now = datetime.now(UTC).replace(microsecond=0).isoformat()
    for url, body in thread_pages(forum, limit):
        extra = {}
        if "asked_as" in fields:
            extra = {"asked_as": "thread", "content_type": "text/html; charset=utf-8"}
        if keep_body and "body" in fields:
            extra["body"] = body
        page = FetchedPage(url=url, site=storage_site(base), kind="thread", status=200, fetched_at=now,
                           size=len(body), sha256=hashlib.sha256(body).hexdigest(), charset="utf-8", **extra)
        page.thread = parse_thread_page(body, url)
        page.tid = page.thread.tid
        items.append(page)
    return items


def storage_site(base: str) -> str:
    from scraper.urls import site_of

    return site_of(base)


def _rows(path: Path) -> int:
    conn = sqlite3.connect(path)
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '%_fts%'")]
    total = sum(conn.execute(f"SELECT count(*) FROM [{name}]").fetchone()[0] for name in names)
    conn.close()
    return total


def _posts(db: Database) -> int:
    return db.execute("SELECT (SELECT count(*) FROM articles WHERE pid IS NOT NULL) + (SELECT count(*) FROM comments)").fetchone()[0]


def _time_writes(path: Path, items: list, fts: bool) -> dict:
    db = Database(path)
    if fts:
        open_archive(db)
    else:
        db.execute("PRAGMA busy_timeout = 30000")
        db.enable_wal()
        create_schema(db)
    before = _rows(path)
    start, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(items), BATCH):
        save_in_one_transaction(db, items[i : i + BATCH])
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    posts = _posts(db)
    db.close()
    rows = _rows(path) - before
    # per CPU second too: on a shared machine the wall time is mostly other people's load
    return {"seconds": seconds, "rows": rows, "rows_s": rows / seconds, "pages_s": len(items) / seconds,
            "posts": posts, "posts_s": posts / seconds, "cpu_seconds": cpu, "rows_cpu_s": rows / cpu if cpu else None}


def write_rate(forum: Path, base: str, pages: int = 300) -> dict:
    """rows/s of the writes, with and without the full-text index, and with raw pages kept."""
    fields = {field.name for field in dataclasses.fields(FetchedPage)}
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-storage-") as tmp:
        items = _page_items(forum, base, pages, keep_body=False)
        results["fts"] = _time_writes(Path(tmp, "fts.db"), items, fts=True)
        results["no_fts"] = _time_writes(Path(tmp, "nofts.db"), items, fts=False)
        if "body" in fields:
            for item, raw in zip(items, _page_items_bodies(forum, items)):
                item.body = raw
            results["fts_raw"] = _time_writes(Path(tmp, "raw.db"), items, fts=True)
    return results


def _page_items_bodies(forum: Path, items: list[FetchedPage]) -> list[bytes]:
    return [(forum / item.url.rsplit("/", 1)[1]).read_bytes() for item in items]


def _checkpoint(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def _vacuumed_size(path: Path) -> int:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.execute("VACUUM")
    conn.close()
    return path.stat().st_size


def sizes(archive: Path) -> dict:
    """Bytes per 1,000 posts of a crawled archive: as it is (VACUUMed copy), without raw pages,
    and without raw pages and full-text indexes."""
    _checkpoint(archive)
    result = {}
    with tempfile.TemporaryDirectory(prefix="bench-sizes-") as tmp:
        copy = Path(tmp, "copy.db")
        shutil.copyfile(archive, copy)
        db = Database(copy)
        posts = _posts(db)
        tables = set(db.table_names())
        has_raw = "raw_pages" in tables and db["raw_pages"].count > 0
        has_fts = any(f"{t}_fts" in tables for t in FTS_TABLES)
        raw_pages = db["raw_pages"].count if has_raw else 0
        db.close()
        result["posts"] = posts
        result["raw_pages"] = raw_pages
        size = _vacuumed_size(copy)
        result["as_crawled"] = {"bytes": size, "fts": has_fts, "raw": has_raw}
        db = Database(copy)
        if has_raw:
            db["raw_pages"].drop()
        db.close()
        result["fts_no_raw"] = {"bytes": _vacuumed_size(copy), "fts": has_fts, "raw": False}
        _drop_search_indexes(copy)
        result["no_fts_no_raw"] = {"bytes": _vacuumed_size(copy), "fts": False, "raw": False}
    for value in result.values():
        if isinstance(value, dict):
            value["bytes_per_1000_posts"] = value["bytes"] / posts * 1000 if posts else None
    return result


def _drop_search_indexes(path: Path) -> None:
    """Every full-text index and the triggers that keep it, by name, whatever their kind: the
    contentless ones (pipelines/search.py) are not what sqlite-utils' disable_fts finds."""
    conn = sqlite3.connect(path)
    with conn:
        for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND sql LIKE '%\\_fts%' ESCAPE '\\'").fetchall():
            conn.execute(f"DROP TRIGGER [{name}]")
        for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE '%\\_fts' ESCAPE '\\'"
                                    " AND sql LIKE 'CREATE VIRTUAL TABLE%'").fetchall():
            conn.execute(f"DROP TABLE [{name}]")
    conn.close()


def counts(archive: Path) -> dict:
    """Rows of the main tables, to check that two crawls archived the same."""
    conn = sqlite3.connect(archive)
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    result = {t: conn.execute(f"SELECT count(*) FROM [{t}]").fetchone()[0]
              for t in ("articles", "comments", "pages", "users") if t in names}
    conn.close()
    return result
