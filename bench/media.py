"""The media store's cost: a crawl of one thread whose first image is a 40 MB file, with the
store off, and on against three servers: one that honours Range (the file comes in pieces of
ARCHIVE_MEDIA_PIECE), one that sends from the Range's start to the end of the file (Discuz's
attachment module: each piece's download is stopped at its end), one that ignores Range (the
file comes whole). Prints the crawl process's peak RSS each way (the difference from "off" is
what the file costs in memory), the time and the file's throughput (its bytes over the time
added to the crawl without the store).

    python -m bench.media [--size-mb 40] [--piece-mb 8]

The thread is the features snapshot's tid 4 (tests/fixtures/discuz-x-features/media); its
first image answers with SIZE random bytes instead of the JPEG.
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

from bench.crawl import ProcessTree
from sample_forum.server import SampleForum

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests/fixtures/discuz-x-features/media"
BIG = "/data/attachment/forum/202612/02/092652ua1y6aak3yyyiyww.jpg"


SERVERS = {"media off": None, "Range honoured": "bytes", "Range to the end": "start", "Range ignored": None}


class BigFileForum(SampleForum):
    def __init__(self, body: bytes):
        super().__init__(str(FIXTURE), saved_at="http://127.0.0.1:8082/")
        self.big = body
        self.first_asked: float | None = None  # when the run asked for the file first

    def answer(self, target, headers):
        if target == BIG and self.first_asked is None:
            self.first_asked = time.perf_counter()
        return super().answer(target, headers)

    def respond(self, target):
        if target == BIG:
            return 200, {"Content-Type": "image/jpeg", "Content-Length": str(len(self.big))}, self.big
        return super().respond(target)


def crawl(forum: BigFileForum, work: Path, name: str, piece_mb: int, stored_as: str) -> dict:
    """One run: its time, its processes' peaks, and the seconds from the file's first request
    to its name in the store (the download, hashed and written)."""
    media = name != "media off"
    forum.ranges, forum.first_asked = SERVERS[name], None
    db = work / f"{name.replace(' ', '-')}.db"
    argv = [sys.executable, "-m", "scrapy", "crawl", "discuz", "-a", f"url={forum.base_url}thread-4-1-1.html",
            "-s", f"ARCHIVE_DB={db}", "-s", "AUTOTHROTTLE_ENABLED=0", "-s", "DOWNLOAD_DELAY=0",
            "-s", f"ARCHIVE_MEDIA_PIECE={piece_mb * 1024 * 1024}", "-s", f"ARCHIVE_MEDIA_MAXSIZE={2 * len(forum.big)}",
            "-s", f"LOG_FILE={db}.log"] + (["-a", "media=images"] if media else [])  # fmt: skip
    start = time.perf_counter()
    stored, stored_at = Path(f"{db}.media") / stored_as[:2] / stored_as, []
    process = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with ProcessTree(process.pid) as tree:
        while process.poll() is None:
            if not stored_at and stored.exists():
                stored_at.append(time.perf_counter())
            time.sleep(0.01)
    seconds = time.perf_counter() - start
    download = stored_at[0] - forum.first_asked if stored_at and forum.first_asked else None
    return {"seconds": seconds, "download": download, "processes": tree.by_role(), "db": db, "stored": stored}


def main(argv: list[str] | None = None) -> int:
    parse = argparse.ArgumentParser(prog="python -m bench.media", description=__doc__.split("\n\n")[0])
    parse.add_argument("--size-mb", type=int, default=40)
    parse.add_argument("--piece-mb", type=int, default=8, help="ARCHIVE_MEDIA_PIECE in MB (default 8)")
    args = parse.parse_args(argv)
    body = os.urandom(args.size_mb * 1024 * 1024)
    sha256 = hashlib.sha256(body).hexdigest()
    runs, ok = {}, True
    with tempfile.TemporaryDirectory(prefix="bench-media-") as work, BigFileForum(body) as forum:
        for name in SERVERS:
            runs[name] = crawl(forum, Path(work), name, args.piece_mb, sha256)
            if name != "media off":
                stored = runs[name]["stored"]
                ok = ok and stored.is_file() and hashlib.sha256(stored.read_bytes()).hexdigest() == sha256
    result = {
        "file_mb": args.size_mb,
        "piece_mb": args.piece_mb,
        "stored_byte_for_byte": ok,
        "crawl_peak_rss_mb": {name: run["processes"]["crawl"]["peak_rss_mb"] for name, run in runs.items()},
        "seconds": {name: round(run["seconds"], 2) for name, run in runs.items()},
        "download_seconds": {name: round(run["download"], 2) for name, run in runs.items() if run["download"]},
        "media_mb_per_s": {name: round(args.size_mb / run["download"], 1) for name, run in runs.items() if run["download"]},
    }
    print(json.dumps(result, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
