"""The static mirror (``python -m export site``) of a big archive: time, peak memory and size of
a first export, of a second one into the same folder (nothing changed), and of a third after
one thread changed. Peak memory at two archive sizes shows whether it grows with the archive.

The archive is bench/datasette_bench.py's: the sample forum crawled, then grown with plain SQL
to N comments (or an archive it made earlier, ``--archive``). Figures go to stdout as Markdown.

    python -m bench.site_bench --comments 100000 --work /tmp/site-bench
    python -m bench.site_bench --archive /tmp/ds-bench/archive-1000000.db --work /tmp/site-bench
"""

from __future__ import annotations

import argparse
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_export(archive: Path, out: Path) -> dict:
    """One ``python -m export site`` run: wall seconds, peak RSS (MB) and its report line.

    The peak is the process's own VmHWM, read while it runs: the maximum RSS that wait4 reports
    keeps what the forked copy of this process held before exec, which is big once
    ``folder_size`` has listed a mirror's 200,000 files."""
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "export", "site", "--db", str(archive), "-o", str(out)],
                               cwd=ROOT, stderr=subprocess.PIPE, text=True)
    peak = [0]

    def watch() -> None:
        status = Path(f"/proc/{process.pid}/status")
        while process.poll() is None:
            try:
                found = re.search(r"VmHWM:\s+(\d+) kB", status.read_text())
            except OSError:
                break
            if found:
                peak[0] = max(peak[0], int(found[1]))
            time.sleep(0.2)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    report = process.stderr.read()
    process.wait()
    watcher.join()
    assert process.returncode == 0, report
    result = {"seconds": round(time.perf_counter() - started, 1), "peak_mb": round(peak[0] / 1024),
              "report": report.strip().splitlines()[-1]}
    print(result, file=sys.stderr, flush=True)
    return result


def folder_size(out: Path) -> dict:
    files = sizes = 0
    search = 0
    for path in out.rglob("*"):
        if path.is_file():
            files += 1
            sizes += path.stat().st_size
            if "search" in path.relative_to(out).parts[:1]:
                search += path.stat().st_size
    return {"files": files, "mb": round(sizes / 2**20), "search_mb": round(search / 2**20)}


def change_one_thread(archive: Path) -> None:
    conn = sqlite3.connect(archive)
    with conn:
        tid = conn.execute("SELECT tid FROM comments ORDER BY rowid DESC LIMIT 1").fetchone()[0]
        conn.execute("UPDATE comments SET content_text = content_text || '（改）', content_html = content_html || '（改）'"
                     " WHERE rowid = (SELECT max(rowid) FROM comments WHERE tid = ?)", [tid])
    conn.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.site_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--comments", type=int, default=100_000, help="comments to grow the archive to (default 100,000)")
    parser.add_argument("--archive", type=Path, help="export this archive (a copy of it) instead of building one")
    parser.add_argument("--work", type=Path, help="folder for the archive copy and the mirror; default a temporary one")
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="site-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    archive = work / "archive.db"
    if args.archive:
        shutil.copyfile(args.archive, archive)  # the third run changes a thread: never the original
    else:
        from bench.datasette_bench import grow, long_thread, seed
        from pipelines.store import open_archive

        for old in work.glob("archive.db*"):
            old.unlink()
        seed(archive)
        open_archive(archive).close()
        grow(archive, args.comments - 5_000)
        long_thread(archive)
        open_archive(archive).close()
    conn = sqlite3.connect(archive)
    posts = conn.execute("SELECT (SELECT count(*) FROM articles WHERE pid IS NOT NULL) + (SELECT count(*) FROM comments)").fetchone()[0]
    threads = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
    conn.close()
    out = work / "mirror"
    shutil.rmtree(out, ignore_errors=True)
    first = run_export(archive, out)
    size = folder_size(out)
    second = run_export(archive, out)
    change_one_thread(archive)
    third = run_export(archive, out)
    print(f"| {posts:,} posts ({threads:,} threads) | first export | again, nothing changed | one thread changed |")
    print("|---|---|---|---|")
    print(f"| time | {first['seconds']} s | {second['seconds']} s | {third['seconds']} s |")
    print(f"| peak memory | {first['peak_mb']} MB | {second['peak_mb']} MB | {third['peak_mb']} MB |")
    print(f"| written | {size['files']:,} files, {size['mb']:,} MB (search {size['search_mb']:,} MB) | "
          f"{second['report'].split(': ', 1)[1]} | {third['report'].split(': ', 1)[1]} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
