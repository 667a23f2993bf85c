"""Distributed crawl throughput: pages/s with 1, 2 and 4 workers (and one writer) on this machine.

Each run: a fresh redis-server on 127.0.0.1, the writer (`python -m pipelines.writer
--until-done`), one worker with the seed and N-1 more, over the synthetic forum served by
nginx; the time is from the first worker's start to the writer's end, pages are the rows of
`pages` in the new archive. Per core: the machine's cores are shared by the workers, the
writer and nginx, so pages/s per core = pages/s / cores in use (at most nproc).

    python -m bench.fleet --pages 2000
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlite_utils import Database

from bench import synth
from bench.server import StaticServer, free_port

ROOT = Path(__file__).resolve().parent.parent


def fleet_run(base_url: str, workers: int, work: Path) -> dict:
    port = free_port()
    redis = subprocess.Popen(
        ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no", "--dir", str(work)],
        stdout=subprocess.DEVNULL,
    )
    time.sleep(0.5)
    url = f"redis://127.0.0.1:{port}/0"
    db = work / f"fleet-{workers}.db"
    writer = subprocess.Popen(
        [sys.executable, "-m", "pipelines.writer", "--redis", url, "--db", str(db), "--until-done"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    time.sleep(1.0)
    command = [
        sys.executable, "-m", "scrapy", "crawl", "discuz", "-s", f"REDIS_URL={url}", "-s", "AUTOTHROTTLE_ENABLED=0",
        "-s", "DOWNLOAD_DELAY=0", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=8", "-s", "SCHEDULER_IDLE_BEFORE_CLOSE=2",
        "-s", "PROGRESS_INTERVAL=0", "-s", "LOG_LEVEL=WARNING",
    ]
    started = time.monotonic()
    processes = [subprocess.Popen(command + ["-a", f"url={base_url}forum.php"], cwd=ROOT, stderr=subprocess.DEVNULL)]
    processes += [subprocess.Popen(command, cwd=ROOT, stderr=subprocess.DEVNULL) for _ in range(workers - 1)]
    for process in processes:
        process.wait()
    writer.wait()
    seconds = time.monotonic() - started
    redis.terminate()
    redis.wait()
    pages = Database(db)["pages"].count
    cores = min(os.cpu_count() or 1, workers + 1)
    return {"workers": workers, "pages": pages, "seconds": seconds, "pages_per_s": pages / seconds,
            "per_core": pages / seconds / cores, "cores": cores}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.fleet", description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000, help="thread pages in the synthetic forum (default 2000)")
    parser.add_argument("--workers", default="1,2,4", help="worker counts to run (default 1,2,4)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        port = free_port()
        base = f"http://127.0.0.1:{port}/"
        synth.build(work / "forum", args.pages, base)
        with StaticServer(work / "forum", port, work / "nginx") as server:
            print(f"| workers | pages | seconds | pages/s | cores used | pages/s per core |  ({server.version})")
            print("|---|---|---|---|---|---|")
            for workers in (int(n) for n in args.workers.split(",")):
                r = fleet_run(base, workers, work)
                print(f"| {r['workers']} | {r['pages']} | {r['seconds']:.1f} | {r['pages_per_s']:.1f} | {r['cores']} | {r['per_core']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
