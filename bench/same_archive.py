"""Prove a behaviour-preserving change: the same pages give the same archive, table by table.

``build DIR`` archives the bundled sample forum with the code of the work tree, in the ways a
user does — v1 from its index with raw pages kept, then v2 incrementally, then v2 with
``refresh=all``; v1 through the mobile API; the first archive re-parsed offline — and writes
each archive to DIR. ``compare OLD NEW`` compares two such folders table by table and row by
row, leaving out only what differs from one run to the next whatever the code: the times a run
stamps (when a page was fetched, a row first seen, a run started) and the ``crawls`` rows'
clocks. Run ``build`` at the commit before the change and at the change, then ``compare``.

    git stash && python -m bench.same_archive build /tmp/before && git stash pop
    python -m bench.same_archive build /tmp/after
    python -m bench.same_archive compare /tmp/before /tmp/after
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PORT = 8093  # one fixed port, so that both builds archive the same site key
FAST = ["-s", "AUTOTHROTTLE_ENABLED=0", "-s", "DOWNLOAD_DELAY=0", "-s", "PROGRESS_INTERVAL=0"]
# Stamps of when something happened in a run, not of what the forum shows.
RUN_STAMPS = {
    "fetched_at", "first_seen_at", "last_seen_at", "last_crawled_at", "synced_at", "walk_started_at",
    "walk_finished_at", "seen_at", "replaced_at", "gone_since", "started_at", "finished_at",
}
# Tables whose id is a run's own counter; compared without it, in key order of the rest.
COUNTER_KEYS = {"crawls": "id", "revisions": "id"}


def _crawl(db: Path, url: str, arguments: tuple[str, ...] = (), settings: tuple[str, ...] = ()) -> None:
    command = [sys.executable, "-m", "scrapy", "crawl", "discuz", "-s", f"ARCHIVE_DB={db}", *FAST, "-a", f"url={url}"]
    command += [word for argument in arguments for word in ("-a", argument)]
    command += [word for setting in settings for word in ("-s", setting)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    if done.returncode:
        sys.exit(f"crawl failed ({' '.join(command)}):\n{done.stderr[-3000:]}")


def build(out: Path) -> None:
    sys.path.insert(0, str(ROOT))
    from sample_forum import serve

    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.db*"):
        old.unlink()
    with serve("v1", PORT) as forum:
        index = forum.base_url + "forum.php"
        raw = ("ARCHIVE_RAW_PAGES=1",)
        _crawl(out / "v1.db", index, settings=raw)
        _crawl(out / "recrawl.db", index, settings=raw)
        _crawl(out / "api.db", index, ("source=api",), ("ROBOTSTXT_OBEY=False",))
        forum.switch("v2")
        _crawl(out / "recrawl.db", index, settings=raw)
        _crawl(out / "recrawl.db", index, ("refresh=all",), raw)
    subprocess.run([sys.executable, "-m", "pipelines.reparse", out / "recrawl.db", out / "reparsed.db"],
                   cwd=ROOT, check=True, capture_output=True)
    _write_parses(out / "parses.jsonl")
    print(f"built {', '.join(sorted(p.name for p in out.glob('*.db')))} in {out}")


def _write_parses(path: Path) -> None:
    """Every fixture page and sample-forum page, read as a thread, a forum and an index page."""
    from scraper.models import FetchedPage
    from scraper.reading import fill_fetched_page

    pages = sorted((ROOT / "tests/fixtures/discuz").glob("*.html")) + sorted((ROOT / "sample_forum").glob("v*/*.html"))
    with path.open("w", encoding="utf-8") as out:
        for page in pages:
            body = page.read_bytes()
            for asked_as in ("thread", "forum", "index"):
                url = "http://127.0.0.1:8080/" + page.name.replace("@", "?")
                fetched = FetchedPage(url=url, site="http://127.0.0.1:8080/", kind=asked_as, status=200,
                                      fetched_at="2026-12-01T00:00:00+00:00", size=len(body), sha256="",
                                      asked_as=asked_as, content_type="text/html")
                fill_fetched_page(fetched, body)
                record = dataclasses.asdict(fetched)
                out.write(json.dumps([page.relative_to(ROOT).as_posix(), record], ensure_ascii=False, default=str) + "\n")


def _compare_parses(old: Path, new: Path) -> int:
    before, after = old.read_text(encoding="utf-8").splitlines(), new.read_text(encoding="utf-8").splitlines()
    if before == after:
        print(f"parses.jsonl: {len(before)} page reads, the same")
        return 0
    changed = [a for a, b in zip(before, after) if a != b]
    print(f"parses.jsonl: {len(before)} reads before, {len(after)} after, {len(changed)} differ")
    for line in changed[:3]:
        print("   ", line[:300])
    return 1


def _rows(db: sqlite3.Connection, table: str) -> list[tuple]:
    columns = [row[1] for row in db.execute(f"PRAGMA table_info([{table}])")]
    kept = [c for c in columns if c not in RUN_STAMPS and c != COUNTER_KEYS.get(table)]
    listed = ", ".join(f"[{c}]" for c in kept)
    rows = db.execute(f"SELECT {listed} FROM [{table}]")
    if "headers" in kept:  # the kept response headers: the server's Date is a run stamp too
        at = kept.index("headers")
        rows = (row[:at] + (_without_date(row[at]),) + row[at + 1:] for row in rows)
    return [tuple(kept)] + sorted(rows, key=repr)


def _without_date(headers: str | None) -> str | None:
    if not headers:
        return headers
    return json.dumps([pair for pair in json.loads(headers) if pair[0].lower() != "date"])


def _schema(db: sqlite3.Connection) -> dict[str, str]:
    return dict(db.execute("SELECT name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name"))


def compare(old_dir: Path, new_dir: Path) -> int:
    differences = 0
    for old_path in sorted(old_dir.glob("*.db")):
        new_path = new_dir / old_path.name
        if not new_path.exists():
            print(f"{old_path.name}: missing from {new_dir}")
            differences += 1
            continue
        old, new = sqlite3.connect(old_path), sqlite3.connect(new_path)
        old_schema, new_schema = _schema(old), _schema(new)
        for name in sorted(set(old_schema) | set(new_schema)):
            if old_schema.get(name) != new_schema.get(name):
                print(f"{old_path.name}: schema of {name} differs")
                differences += 1
        tables = [name for name, in old.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in sorted(tables):
            if table not in new_schema or "_fts" in table:  # the index's shadow tables follow the rows
                continue
            before, after = _rows(old, table), _rows(new, table)
            if before != after:
                differences += 1
                changed = len(set(before) ^ set(after))
                print(f"{old_path.name}: {table}: {len(before) - 1} rows before, {len(after) - 1} after, {changed} differ")
                for row in sorted(set(before) ^ set(after), key=repr)[:3]:
                    print("   ", "before" if row in before else "after ", repr(row)[:300])
            else:
                print(f"{old_path.name}: {table}: {len(before) - 1} rows, the same")
    if (old_dir / "parses.jsonl").exists():
        differences += _compare_parses(old_dir / "parses.jsonl", new_dir / "parses.jsonl")
    print("the same archives and parses" if not differences else f"{differences} differences")
    return 1 if differences else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.same_archive", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("build", help="archive the sample forum with the work tree's code").add_argument("out", type=Path)
    comparing = commands.add_parser("compare", help="compare two built folders table by table")
    comparing.add_argument("old", type=Path)
    comparing.add_argument("new", type=Path)
    args = parser.parse_args(argv)
    if args.command == "build":
        build(args.out)
        return 0
    return compare(args.old, args.new)


if __name__ == "__main__":
    sys.exit(main())
