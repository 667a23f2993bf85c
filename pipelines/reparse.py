"""Rebuild an archive from the raw pages it kept, without touching the network.

When the parser improves, archives crawled with ``-s ARCHIVE_RAW_PAGES=1`` can be read
again: every kept page is replayed in the order it was fetched, through the same reading
code as the crawl (scraper.reading) and the same storage code (pipelines.store), into a new
archive. Pages are read by a pool of processes, one per core, in order (imap), while this
process writes them. What no single page holds — the runs (crawls), what each thread was last synced
as, and which posts and 点评 a full read found gone — is copied from the source, so a scheduled
re-crawl goes on from the rebuilt archive.

Example:

    python -m pipelines.reparse archive.db rebuilt.db
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sqlite3
import sys
import time
from collections import Counter
from functools import partial
from pathlib import Path

from sqlite_utils import Database

from pipelines.rawpages import raw_body
from pipelines.store import open_archive, save_in_one_transaction
from scraper.models import FetchedPage
from scraper.profiles import Profile
from scraper.profiles_file import profiles_from_toml
from scraper.reading import fill_fetched_page

BATCH = 200
# Pages handed to the reading pool at a time: what waits to be written stays bounded (a pool
# that reads faster than this process writes would otherwise hold every page in memory).
WINDOW = 1000
# Bookkeeping no page holds: (table, key columns, columns copied from the source).
CARRIED_OVER = (
    ("articles", ("site", "tid"), ("synced_replies", "synced_last_post_at", "synced_at")),
    ("forums", ("site", "fid"), ("walk_started_at", "walk_finished_at")),
    ("comments", ("site", "pid"), ("gone_since",)),
    ("post_comments", ("site", "key"), ("gone_since",)),  # a read of every 点评 of a post (CommentsRead)
)


def reparse(
    source: Path, target: Path, utc_offset: str | None = None, profiles: tuple[Profile, ...] = ()
) -> Counter[str]:
    """Replay every kept page of ``source`` into a new archive at ``target``; return counts.
    ``profiles``: the user's selector profiles (docs/profiles.md), say for a theme the crawl
    did not read well."""
    if target.exists():
        raise FileExistsError(f"{target} exists: re-parse writes a new archive, give another path")
    old = Database(source)
    if "raw_pages" not in old.table_names() or not old["raw_pages"].count:
        raise ValueError(f"{source} keeps no raw pages (crawl with -s ARCHIVE_RAW_PAGES=1)")
    new = open_archive(target)
    counts: Counter[str] = Counter()
    batch: list[FetchedPage] = []
    posts_per_page = {row["site"]: row["posts_per_page"] for row in old["sites"].rows}
    rowids = [rowid for (rowid,) in old.execute("SELECT rowid FROM raw_pages ORDER BY fetched_at, rowid")]
    read = partial(_read_kept_page, utc_offset=utc_offset, posts_per_page=posts_per_page, profiles=profiles)
    context = multiprocessing.get_context("spawn")  # fresh interpreters: no open connection inherited
    with context.Pool(os.cpu_count() or 1, initializer=_open_source, initargs=(str(source),)) as pool:
        for start in range(0, len(rowids), WINDOW):
            for page in pool.imap(read, rowids[start : start + WINDOW], chunksize=8):
                batch.append(page)
                if len(batch) >= BATCH:
                    counts += save_in_one_transaction(new, batch)
                    batch.clear()
    counts += save_in_one_transaction(new, batch)
    _carry_over(old, new)
    new.close()
    return counts


_source: sqlite3.Connection | None = None  # in each reading process: the source archive


def _open_source(path: str) -> None:
    global _source
    _source = sqlite3.connect(path)
    _source.row_factory = sqlite3.Row


def _read_kept_page(
    rowid: int, utc_offset: str | None, posts_per_page: dict[str, int | None], profiles: tuple[Profile, ...]
) -> FetchedPage:
    """One kept page, read as the crawl read it (in a process of the pool)."""
    row = _source.execute("SELECT * FROM raw_pages WHERE rowid = ?", [rowid]).fetchone()
    body = raw_body(row["body"])
    page = FetchedPage(
        url=row["url"],
        site=row["site"],
        kind=row["asked_as"],
        status=row["status"],
        fetched_at=row["fetched_at"],
        size=len(body),
        sha256=row["sha256"],
        tid=row["tid"],
        asked_as=row["asked_as"],
        content_type=row["content_type"],
        headers=row["headers"] if "headers" in row.keys() else None,  # archives before kept none
    )
    fill_fetched_page(page, body, utc_offset=utc_offset, posts_per_page=posts_per_page.get(row["site"]), profiles=profiles)
    page.body = body  # the rebuilt archive keeps its raw pages too
    return page


def _carry_over(old: Database, new: Database) -> None:
    for table, keys, columns in CARRIED_OVER:
        for row in old[table].rows_where(select=", ".join(keys + columns)):
            where = " AND ".join(f"{key} = ?" for key in keys)
            sets = ", ".join(f"{column} = ?" for column in columns)
            new.execute(
                f"UPDATE {table} SET {sets} WHERE {where}",
                [row[column] for column in columns] + [row[key] for key in keys],
            )
    crawls = list(old["crawls"].rows)
    if crawls:
        new["crawls"].insert_all(crawls, pk="id")
    new.conn.commit()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipelines.reparse",
        description="Rebuild an archive from its kept raw pages (crawled with -s ARCHIVE_RAW_PAGES=1), offline.",
        epilog="Example: python -m pipelines.reparse archive.db rebuilt.db",
    )
    parser.add_argument("source", type=Path, help="an archive that kept its raw pages")
    parser.add_argument("target", type=Path, help="the new archive to write (must not exist)")
    parser.add_argument("--utc-offset", help="the forum's UTC offset, as DISCUZ_UTC_OFFSET (default: from the pages)")
    parser.add_argument("--profiles", type=Path, help="a selector profiles file for modified themes (docs/profiles.md)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        profiles = profiles_from_toml(args.profiles.read_text("utf-8")) if args.profiles else ()
        counts = reparse(args.source, args.target, args.utc_offset, profiles)
    except (FileExistsError, ValueError) as error:
        print(f"reparse: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"reparse: cannot read the profiles file: {error}", file=sys.stderr)
        return 2
    seconds = time.monotonic() - started
    pages = counts["archive/pages"]
    print(
        f"{pages} pages re-parsed in {seconds:.1f} s ({pages / max(seconds, 1e-9):.0f}/s): "
        f"{counts['archive/articles']} articles, {counts['archive/comments']} comments, "
        f"{counts['archive/errors']} pages with errors -> {args.target}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
