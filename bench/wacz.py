"""The WACZ export's cost as the archive grows: synthetic archives of N and 4N threads whose first
pages are kept (each the sample forum's thread-1-1-1.html with its own tid in the title and the
text: distinct bytes, as a crawl keeps them) and a stored file per ten threads (20 KB of random
bytes), each exported with ``python -m export wacz``. Prints, for each: the time, the export
process's peak RSS (flat memory: the same at N and 4N), the archive's and the WACZ's sizes.

    python -m bench.wacz [--threads 20000]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import zstandard

from pipelines.media_store import MediaStore
from pipelines.store import open_archive

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = (ROOT / "sample_forum/v1/thread-1-1-1.html").read_text("utf-8")
BASE = "http://bbs.example.com/"
STAMP = "2026-01-01T00:00:00+00:00"
COMPRESSOR = zstandard.ZstdCompressor(level=4)  # as the crawl keeps raw pages
HEADERS = json.dumps([["Content-Type", "text/html; charset=utf-8"]])


def build(db_path: Path, threads: int) -> None:
    """An archive of ``threads`` threads, each with its first page kept, and their files."""
    db = open_archive(db_path)
    store = MediaStore(str(db_path) + ".media")
    conn = db.conn
    for tid in range(1, threads + 1):
        url = f"{BASE}thread-{tid}-1-1.html"
        body = TEMPLATE.replace("<title>", f"<title>{tid} ").replace("</body>", f"<p>thread {tid}</p></body>").encode()
        sha256 = hashlib.sha256(body).hexdigest()
        conn.execute("INSERT INTO articles (site, tid, fid, title) VALUES (?, ?, 2, ?)", ["bbs.example.com", tid, f"帖子 {tid}"])
        conn.execute("INSERT INTO pages (url, site, kind, status, fetched_at, sha256, tid, page) VALUES (?, ?, 'thread', 200, ?, ?, ?, 1)",
                     [url, "bbs.example.com", STAMP, sha256, tid])  # fmt: skip
        conn.execute("INSERT INTO raw_pages (url, sha256, site, fetched_at, asked_as, status, content_type, headers, tid, body) "
                     "VALUES (?, ?, ?, ?, 'thread', 200, 'text/html; charset=utf-8', ?, ?, ?)",
                     [url, sha256, "bbs.example.com", STAMP, HEADERS, tid, COMPRESSOR.compress(body)])  # fmt: skip
        if tid % 10 == 0:
            sha256, size, _ = store.put(os.urandom(20_000))
            conn.execute("INSERT INTO media (sha256, size, content_type, first_url, fetched_at) VALUES (?, ?, 'image/jpeg', ?, ?)",
                         [sha256, size, f"{BASE}data/attachment/forum/{tid}.jpg", STAMP])  # fmt: skip
    conn.commit()
    db.close()


def export(db_path: Path, wacz: Path) -> dict:
    """``python -m export wacz``, timed, with its peak RSS (os.wait4: this child's own)."""
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "export", "wacz", "--db", str(db_path), "-o", str(wacz)],
                               cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    assert status == 0, process.stderr.read().decode()[-2000:]
    return {"seconds": round(seconds, 1), "peak_rss_mb": round(usage.ru_maxrss / 1024), "wacz_mb": round(wacz.stat().st_size / 2**20, 1)}


def main() -> None:
    parse = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parse.add_argument("--threads", type=int, default=20_000)
    args = parse.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-wacz-") as work:
        for threads in (args.threads, 4 * args.threads):
            db_path = Path(work) / f"archive-{threads}.db"
            build(db_path, threads)
            result = {"threads": threads, "archive_mb": round(db_path.stat().st_size / 2**20, 1)}
            result |= export(db_path, Path(work) / f"forum-{threads}.wacz")
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
