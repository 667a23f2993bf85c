"""The media store's cost: a crawl of one thread whose first image is a 40 MB file, with the
store on and off, on 127.0.0.1. Prints the crawl process's peak RSS both ways (the difference
is what holding the file costs), the time both ways and the file's throughput (its bytes over
the extra time).

    python -m bench.media [--size-mb 40]

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


class BigFileForum(SampleForum):
    def __init__(self, body: bytes):
        super().__init__(str(FIXTURE), saved_at="http://127.0.0.1:8082/")
        self.big = body

    def respond(self, target):
        if target == BIG:
            return 200, {"Content-Type": "image/jpeg", "Content-Length": str(len(self.big))}, self.big
        return super().respond(target)


def crawl(forum: BigFileForum, work: Path, media: bool) -> dict:
    db = work / f"media-{'on' if media else 'off'}.db"
    argv = [sys.executable, "-m", "scrapy", "crawl", "discuz", "-a", f"url={forum.base_url}thread-4-1-1.html",
            "-s", f"ARCHIVE_DB={db}", "-s", "AUTOTHROTTLE_ENABLED=0", "-s", "DOWNLOAD_DELAY=0",
            "-s", f"LOG_FILE={db}.log"] + (["-a", "media=images"] if media else [])  # fmt: skip
    start = time.perf_counter()
    process = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with ProcessTree(process.pid) as tree:
        os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "processes": tree.by_role(), "db": db}


def main(argv: list[str] | None = None) -> int:
    parse = argparse.ArgumentParser(prog="python -m bench.media", description=__doc__.split("\n\n")[0])
    parse.add_argument("--size-mb", type=int, default=40)
    args = parse.parse_args(argv)
    body = os.urandom(args.size_mb * 1024 * 1024)
    with tempfile.TemporaryDirectory(prefix="bench-media-") as work, BigFileForum(body) as forum:
        off = crawl(forum, Path(work), media=False)
        on = crawl(forum, Path(work), media=True)
        stored = Path(f"{on['db']}.media") / hashlib.sha256(body).hexdigest()[:2] / hashlib.sha256(body).hexdigest()
        ok = stored.is_file() and stored.stat().st_size == len(body)
    extra = on["seconds"] - off["seconds"]
    result = {
        "file_mb": args.size_mb,
        "stored_byte_for_byte": ok,
        "crawl_peak_rss_mb": {"media off": off["processes"]["crawl"]["peak_rss_mb"], "media on": on["processes"]["crawl"]["peak_rss_mb"]},
        "seconds": {"media off": round(off["seconds"], 2), "media on": round(on["seconds"], 2)},
        "media_mb_per_s": round(args.size_mb / extra, 1) if extra > 0 else None,
    }
    print(json.dumps(result, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
