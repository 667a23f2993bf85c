"""Datasette at the size of a real forum: every page metadata.yml offers, timed through a real
datasette, on an archive of N posts.

The archive: the sample forum crawled by the spider into a fresh archive (the project's own
storage code), then grown with plain SQL, as another program would write it: each thread
copied with new tids and pids, its posts' times moved back by up to ten years and its authors
spread over 2,000 copies of each, until the archive holds N comments (about one thread for
every 10.5 comments, as in the sample forum). The copy is made without the search indexes,
count tables, their triggers and the query indexes of articles and comments; the next
``open_archive`` builds them, as it does for an archive made before they existed, and is timed.

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
from browse.serve import datasette_command
from pipelines.search import phrase

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
    unindexed(conn)
    start = time.perf_counter()
    for first in range(1, copies + 1, COPIES_PER_TRANSACTION):
        batch = json.dumps(list(range(first, min(first + COPIES_PER_TRANSACTION, copies + 1))))
        with conn:
            for statement in statements:
                conn.execute(statement, [batch])
        print(f"  {min(first + COPIES_PER_TRANSACTION - 1, copies)}/{copies} copies", file=sys.stderr, flush=True)
    seconds = time.perf_counter() - start
    conn.close()
    return {"copies": copies, "seconds": seconds, **indexed(path)}


def unindexed(conn: sqlite3.Connection) -> None:
    """Drop what the copy would otherwise keep up row by row: the triggers on articles and
    comments, their search indexes, the count tables and the indexes not behind a key."""
    from pipelines.summary import TABLES

    dropped = conn.execute(
        "SELECT type, name FROM sqlite_master WHERE tbl_name IN ('articles', 'comments')"
        " AND type IN ('trigger', 'index') AND sql IS NOT NULL"
    ).fetchall()
    with conn:
        for kind, name in dropped:
            conn.execute(f"DROP {kind} [{name}]")
        for name in ("articles_fts", "comments_fts", *TABLES):
            conn.execute(f"DROP TABLE [{name}]")


def indexed(path: Path) -> dict:
    """Seconds that ``open_archive`` takes to build the search indexes, the count tables and
    the rest (the query indexes) from the copied rows."""
    from sqlite_utils import Database

    from pipelines.schema import create_schema
    from pipelines.search import enable_search
    from pipelines.store import open_archive
    from pipelines.summary import enable_summaries

    db = Database(path)
    times = {"indexes": 0.0}
    # in open_archive's order: the tables' indexes, then what enable_queries adds
    for name, build in (("indexes", create_schema), ("search_index", enable_search), ("count_tables", enable_summaries), ("indexes", open_archive)):
        start = time.perf_counter()
        build(db)
        times[name] = times.get(name, 0.0) + time.perf_counter() - start
        print(f"  {name}: {times[name]:.0f} s", file=sys.stderr, flush=True)
    db.close()
    return times


LONG_TID, LONG_FIRST_PID = 999, 10**10  # out of the copies' ranges


def long_thread(path: Path, comments: int = 5_000) -> int:
    """One thread of ``comments`` replies (the sample's longest thread, its replies repeated
    with new pids and floors), for the thread page's paging; its tid."""
    conn = sqlite3.connect(path)
    source = conn.execute("SELECT tid FROM comments GROUP BY site, tid ORDER BY count(*) DESC LIMIT 1").fetchone()[0]
    columns = [row[1] for row in conn.execute("PRAGMA table_info(articles)")]
    listed = ", ".join(f"[{c}]" for c in columns)
    with conn:
        conn.execute(f"INSERT INTO articles ({listed}) SELECT {listed.replace('[tid]', str(LONG_TID)).replace('[pid]', str(LONG_FIRST_PID))} FROM articles WHERE tid = ?", [source])
        columns = [row[1] for row in conn.execute("PRAGMA table_info(comments)")]
        listed = ", ".join(f"[{c}]" for c in columns)
        values = listed.replace("[tid]", str(LONG_TID)).replace("[pid]", f"{LONG_FIRST_PID} + 1 + n * 1000 + floor")
        per_copy = conn.execute("SELECT count(*) FROM comments WHERE tid = ?", [source]).fetchone()[0]
        values = values.replace("[floor]", f"1 + n * {per_copy} + row_number() OVER (ORDER BY floor)")
        values = values.replace("[quote_pid]", f"CASE WHEN quote_pid IS NULL THEN NULL ELSE {LONG_FIRST_PID} + 1 + n * 1000 + floor - 1 END")
        for n in range(-(-comments // per_copy)):
            conn.execute(f"INSERT INTO comments ({listed}) SELECT {values} FROM comments, (SELECT :n AS n) WHERE tid = :source ORDER BY floor",
                         {"n": n, "source": source})
    conn.close()
    return LONG_TID


def index_build_seconds(path: Path) -> dict:
    """Seconds to build the search indexes and the count tables from scratch (as the first
    open of an archive made before does)."""
    from sqlite_utils import Database

    from pipelines.search import SEARCH_COLUMNS, enable_search
    from pipelines.summary import TABLES, enable_summaries

    db = Database(path)
    for table in SEARCH_COLUMNS:
        db.execute(f"DROP TABLE [{table}_fts]")
    start = time.perf_counter()
    enable_search(db)
    search = time.perf_counter() - start
    for table in TABLES:
        db.execute(f"DROP TABLE [{table}]")
    start = time.perf_counter()
    enable_summaries(db)
    counts = time.perf_counter() - start
    db.close()
    return {"search_index": search, "count_tables": counts}


def sizes(path: Path) -> dict:
    """Bytes per 1,000 posts, VACUUMed: as the archive is, with the trigram index it had before
    instead, and with no full-text index at all."""
    from sqlite_utils import Database

    from pipelines.search import SEARCH_COLUMNS

    result = {}
    with tempfile.TemporaryDirectory(prefix="ds-bench-", dir=path.parent) as tmp:
        copy = Path(tmp, "copy.db")
        conn = sqlite3.connect(path)
        posts = conn.execute("SELECT (SELECT count(*) FROM articles WHERE pid IS NOT NULL) + (SELECT count(*) FROM comments)").fetchone()[0]
        text = conn.execute("SELECT (SELECT sum(length(CAST(title AS BLOB)) + length(CAST(content_text AS BLOB))) FROM articles)"
                            " + (SELECT sum(length(CAST(content_text AS BLOB))) FROM comments)").fetchone()[0]
        conn.execute("VACUUM INTO ?", [str(copy)])
        conn.close()
        result["archive"] = copy.stat().st_size
        db = Database(copy)
        index = db.execute("SELECT sum(pgsize) FROM dbstat WHERE name LIKE '%\\_fts%' ESCAPE '\\'").fetchone()[0] if _has_dbstat(db) else None
        for table, columns in SEARCH_COLUMNS.items():
            for suffix in ("ai", "ad", "au"):
                db.execute(f"DROP TRIGGER IF EXISTS [{table}_{suffix}]")
            db.execute(f"DROP TABLE [{table}_fts]")
        db.execute("VACUUM")
        result["no_index"] = copy.stat().st_size
        for table, columns in SEARCH_COLUMNS.items():
            db[table].enable_fts(columns, tokenize="trigram", create_triggers=True)
        db.execute("VACUUM")
        result["trigram"] = copy.stat().st_size
        db.close()
    return {
        "posts": posts,
        "text_bytes": text,
        "index_bytes": index,
        **{f"{name}_per_1000": size / posts * 1000 for name, size in result.items()},
        **{f"{name}_index_to_text": (size - result["no_index"]) / text for name, size in result.items() if name != "no_index"},
    }


def _has_dbstat(db) -> bool:
    try:
        db.execute("SELECT 1 FROM dbstat LIMIT 1")
        return True
    except sqlite3.OperationalError:
        return False


SEARCHED = {  # words of the sample forum, by length: common ones, and absent ones
    "1 common": "的", "1 absent": "龘", "2 common": "主任", "2 absent": "龘龘",
    "3 common": "办公室", "3 absent": "龘龘龘", "4": "公文写作", "5 common": "办公室主任", "5 absent": "不存在的词语",
}


def pages(db: sqlite3.Connection, tid: int) -> dict[str, str]:
    """Every page metadata.yml offers, by label: path under the database."""
    forum = db.execute("SELECT forum_name FROM articles WHERE forum_name IS NOT NULL LIMIT 1").fetchone()[0]
    site = db.execute("SELECT site FROM articles WHERE tid = ?", [tid]).fetchone()[0]
    last = db.execute("SELECT max(floor) FROM comments WHERE tid = ?", [tid]).fetchone()[0]
    thread = f"/-/thread/{tid}?" + urllib.parse.urlencode({"site": site})
    result = {"database page": ""}
    for table in ("articles", "comments", "posts", "revisions", "pages", "users", "forums",
                  "author_counts", "month_counts", "month_authors", "forum_counts"):
        result[f"table {table}"] = f"/{table}"
    result["table comments, year 2020"] = "/comments?year=2020"
    result["table comments, next page"] = "/comments?_next=" + next_token(db, "SELECT posted_at, site, pid FROM comments")
    result["table articles, next page"] = "/articles?_next=" + next_token(db, "SELECT posted_at, site, tid FROM articles")
    common = urllib.parse.quote(SEARCHED["1 common"])
    token = next_token(db, f"SELECT posted_at, site, pid FROM comments WHERE rowid IN (SELECT rowid FROM comments_fts WHERE comments_fts MATCH '{phrase(SEARCHED['1 common'])}')")
    result["search box comments, 1 common, next page"] = f"/comments?_search={common}&_next={token}"
    result["table articles, forum facet"] = "/articles?" + urllib.parse.urlencode({"forum_name": forum})
    for name in ("top_authors", "activity_by_month", "threads_by_replies"):
        result[f"query {name}"] = f"/{name}"
    result["query threads_by_replies, forum"] = "/threads_by_replies?" + urllib.parse.urlencode({"forum": forum})
    result[f"query thread ({last - 1} replies), first 100"] = f"/thread?tid={tid}"
    result[f"query thread ({last - 1} replies), last 100"] = f"/thread?tid={tid}&after={last - 100}"
    for label, word in SEARCHED.items():
        result[f"search query, {label}"] = "/search?" + urllib.parse.urlencode({"q": word})
        for table in ("articles", "comments"):
            result[f"search box {table}, {label}"] = f"/{table}?" + urllib.parse.urlencode({"_search": word})
    result["thread page, first"] = thread
    result["thread page, middle"] = thread + f"&after={last // 2}"
    result["thread page, last"] = thread + f"&after={last - 50}"
    return result


def next_token(db: sqlite3.Connection, select: str) -> str:
    """Datasette's ``_next`` for the second page (100 rows) of ``select`` newest first: the
    100th row's posted_at and primary key."""
    from datasette.utils import tilde_encode

    row = db.execute(f"{select} ORDER BY 1 DESC, 2, 3 LIMIT 1 OFFSET 99").fetchone()
    return urllib.parse.quote(",".join(tilde_encode(str(value)) for value in row))


def fetch(url: str) -> tuple[int, float, bytes]:
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=120) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    return status, time.perf_counter() - start, body


def time_pages(path: Path, tid: int, rounds: int = 3) -> list[dict]:
    from bench.server import free_port

    conn = sqlite3.connect(path)
    offered = pages(conn, tid)
    conn.close()
    port = free_port()
    command, environment = datasette_command(path, "-m", str(ROOT / "metadata.yml"), port=port)
    log = open(path.parent / "datasette-bench.log", "wb")
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=environment)
    base = f"http://127.0.0.1:{port}/{path.stem}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                fetch(f"http://127.0.0.1:{port}/-/versions.json")
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("datasette did not start: " + (path.parent / "datasette-bench.log").read_text())
                time.sleep(0.2)
        results = []
        for label, page in offered.items():
            times, status = [], None
            for _ in range(rounds):
                status, seconds, body = fetch(base + page)
                times.append(seconds)
            notes = [] if status == 200 else [f"HTTP {status}"]
            if b"took too long" in body:
                notes.append("SQL took too long")
            if b'class="facets-timed-out"' in body:  # the HTML says it; the JSON does not
                notes.append("facets timed out")
            if b"the facets are left out" in body:
                notes.append("narrowed: not faceted")
            if not page.startswith("/-/") and page:
                path_part, _, query = page.partition("?")
                _, _, data = fetch(base + path_part + ".json" + ("?" + query if query else ""))
                data = json.loads(data or b"{}")
                if "filtered_table_rows_count" in data and data["filtered_table_rows_count"] is None:
                    planned = "counted in the search index" in (data.get("human_description_en") or "")
                    notes.append("counted in the search index, not faceted" if planned else "no count")
            results.append({"page": label, "path": page, "median_ms": statistics.median(times) * 1000,
                            "max_ms": max(times) * 1000, "notes": "; ".join(notes)})
            print(f"  {results[-1]['median_ms']:8.0f} ms  {label} {results[-1]['notes']}", file=sys.stderr, flush=True)
        return results
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()


def report(comments: int, build: dict, timings: list[dict], size: dict, index: dict) -> str:
    built = ", ".join(f"{name.replace('_', ' ')} {index[name]:.0f} s" for name in ("search_index", "count_tables", "indexes") if name in index)
    lines = [f"Archive: {size['posts']:,} posts ({comments:,} comments asked); copied by plain SQL in {build.get('seconds', 0):.0f} s.",
             "",
             f"Size per 1,000 posts (VACUUMed): {size['archive_per_1000'] / 1e6:.2f} MB as built; "
             f"{size['trigram_per_1000'] / 1e6:.2f} MB with the trigram index instead; "
             f"{size['no_index_per_1000'] / 1e6:.2f} MB with no full-text index. "
             f"Index to text: {size['archive_index_to_text']:.2f}x (trigram {size['trigram_index_to_text']:.2f}x).",
             f"Built from the copied rows (open_archive): {built or 'not timed'}.",
             "",
             "| page | median ms | max ms | notes |", "|---|---:|---:|---|"]
    for row in timings:
        lines.append(f"| {row['page']} | {row['median_ms']:.0f} | {row['max_ms']:.0f} | {row['notes']} |")
    searches = [row["median_ms"] for row in timings if row["page"].startswith("search")]
    lines += ["", f"Search (query and box, every length): median {statistics.median(searches):.0f} ms, worst {max(searches):.0f} ms; "
              f"pages over 1 s: {sum(row['max_ms'] > 1000 for row in timings)} of {len(timings)}."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.datasette_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--comments", type=int, default=1_000_000, help="comments to grow the archive to (default 1,000,000)")
    parser.add_argument("--work", type=Path, help="folder for the archive (kept); default a temporary one")
    parser.add_argument("--archive", type=Path, help="time this archive (made by an earlier run) instead of building one")
    parser.add_argument("--rounds", type=int, default=3, help="fetches of each page (the median is reported)")
    parser.add_argument("--no-sizes", action="store_true", help="skip the sizes (three VACUUMed copies; with --archive, also the timed index rebuild)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from pipelines.store import open_archive

    work = args.work or Path(tempfile.mkdtemp(prefix="ds-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    build = {}
    if args.archive:
        path = args.archive
    else:
        path = work / f"archive-{args.comments}.db"
        for old in work.glob(path.name + "*"):
            old.unlink()
        print(f"seeding {path} from the sample forum", file=sys.stderr)
        seed(path)
        open_archive(path).close()
        build = grow(path, args.comments - 5_000)
        long_thread(path)
    open_archive(path).close()  # what a crawl's open would add to an archive made before
    index = {name: build[name] for name in ("search_index", "count_tables", "indexes") if name in build}
    size = None
    if not args.no_sizes:
        if not index:  # an archive built before: rebuild its search indexes and count tables, timed
            index = index_build_seconds(path)
        size = sizes(path)
    timings = time_pages(path, LONG_TID, args.rounds)
    if size is None:
        conn = sqlite3.connect(path)
        posts = conn.execute("SELECT (SELECT count(*) FROM articles WHERE pid IS NOT NULL) + (SELECT count(*) FROM comments)").fetchone()[0]
        size = {"posts": posts, **{key: float("nan") for key in ("archive_per_1000", "trigram_per_1000", "no_index_per_1000", "archive_index_to_text", "trigram_index_to_text")}}
    (work / "datasette-bench.json").write_text(json.dumps({"build": build, "index": index, "size": size, "pages": timings}, indent=1))
    print(report(args.comments, build, timings, size, index))
    return 0


if __name__ == "__main__":
    sys.exit(main())
