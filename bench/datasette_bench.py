"""Datasette at the size of a real forum: every page metadata.yml offers, timed through a real
datasette, on an archive of N posts.

The archive: the sample forum crawled by the spider into a fresh archive (the project's own
storage code), then grown with plain SQL, as another program would write it: each thread
copied with new tids and pids, its posts' times moved back by up to ten years and its authors
spread over 2,000 copies of each, until the archive holds N comments (about one thread for
every 10.5 comments, as in the sample forum). The full-text index and the summary tables
follow through their triggers. Then the index is rebuilt from scratch once, for its build time.

The pages: ``datasette ARCHIVE -m metadata.yml`` on 127.0.0.1 (with the project's plugin),
each page fetched as HTML (what a reader waits for) several times, the median kept; its JSON
is read once to check that no facet and no count timed out. Figures go to stdout as Markdown.

    python -m bench.datasette_bench --comments 1000000 --work /tmp/ds-bench
    python -m bench.datasette_bench --archive /tmp/ds-bench/archive-1000000.db   # time again
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from bench.same_archive import _crawl

ROOT = Path(__file__).resolve().parent.parent
TID_STEP, PID_STEP = 1_000, 10_000  # the sample forum's tids and pids stay below these
AUTHOR_COPIES, DAYS_BACK = 2_000, 3_650
COPIES_PER_TRANSACTION = 200


def seed(path: Path) -> None:
    """The sample forum, crawled into ``path`` by the spider."""
    sys.path.insert(0, str(ROOT))
    from sample_forum import serve

    with serve("v1", 0) as forum:
        _crawl(path, forum.base_url + "forum.php")


def _shifted(column: str) -> str:
    """The copy ``n``'s value of ``column`` (an ISO time moved back n % DAYS_BACK days)."""
    moved = (
        f"CASE WHEN {column} IS NULL THEN NULL ELSE strftime('%Y-%m-%dT%H:%M:%S', substr({column}, 1, 19),"
        f" '-' || (n % {DAYS_BACK}) || ' days') || substr({column}, 20) END"
    )
    return {
        "tid": f"tid + n * {TID_STEP}",
        "pid": f"pid + n * {PID_STEP}",
        "quote_pid": f"quote_pid + n * {PID_STEP}",
        "author_uid": f"author_uid + (n % {AUTHOR_COPIES}) * 100",
        "author": f"author || CASE WHEN n % {AUTHOR_COPIES} THEN '#' || (n % {AUTHOR_COPIES}) ELSE '' END",
        "posted_at": moved,
        "edited_at": moved,
        "last_post_at": moved,
    }.get(column, column)


def grow(path: Path, comments: int) -> dict:
    """Copy the seed's threads with plain SQL until ``comments`` comments; seconds it took."""
    conn = sqlite3.connect(path)
    per_copy = conn.execute("SELECT count(*) FROM comments").fetchone()[0]
    copies = -(-comments // per_copy) - 1
    statements = []
    for table in ("articles", "comments"):
        columns = [row[1] for row in conn.execute(f"PRAGMA table_info([{table}])")]  # not the generated year
        listed = ", ".join(f"[{column}]" for column in columns)
        values = ", ".join(_shifted(column) for column in columns)
        statements.append(
            f"INSERT INTO [{table}] ({listed}) SELECT {values} FROM seed_{table},"
            " (SELECT value AS n FROM json_each(?))"
        )
        conn.execute(f"CREATE TEMP TABLE seed_{table} AS SELECT * FROM [{table}]")
    start = time.perf_counter()
    for first in range(1, copies + 1, COPIES_PER_TRANSACTION):
        batch = json.dumps(list(range(first, min(first + COPIES_PER_TRANSACTION, copies + 1))))
        with conn:
            for statement in statements:
                conn.execute(statement, [batch])
        print(f"  {min(first + COPIES_PER_TRANSACTION - 1, copies)}/{copies} copies", file=sys.stderr, flush=True)
    seconds = time.perf_counter() - start
    conn.close()
    return {"copies": copies, "seconds": seconds}
