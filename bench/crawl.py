"""Run one crawl as a subprocess and measure it: wall time, CPU time and peak RSS (from the
child's own rusage, ``os.wait4``), the requests the server saw, and Scrapy's final stats."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def crawl_settings(db: Path, log: Path, concurrency: int, extra: dict | None = None) -> list[str]:
    settings = {
        "ARCHIVE_DB": str(db),
        "AUTOTHROTTLE_ENABLED": "0",
        "DOWNLOAD_DELAY": "0",
        "CONCURRENT_REQUESTS_PER_DOMAIN": str(concurrency),
        "CONCURRENT_REQUESTS": str(max(16, concurrency)),
        "LOG_FILE": str(log),
    } | (extra or {})
    args = []
    for name, value in settings.items():
        args += ["-s", f"{name}={value}"]
    return args


def remove_archive(db: Path) -> None:
    for suffix in ("", "-wal", "-shm", ".lock"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)


def kind_of(target: str) -> str:
    path = target.split("?", 1)[0]
    if path == "/robots.txt":
        return "robots"
    if path in ("/", "/forum.php"):
        return "index"
    if re.match(r"^/forum-\d+-\d+\.html$", path):
        return "listing"
    if re.match(r"^/thread-\d+-\d+-\d+\.html$", path):
        return "thread"
    return "other"


def run(name: str, command: list[str], log: Path, server, profile: Path | None = None) -> dict:
    """Run ``python -m scrapy <command>`` from the project folder; return its measures."""
    seen = len(server.requests())
    argv = [sys.executable, "-m", "scrapy", *command]
    if profile is not None:  # py-spy samples the crawl (and any child) at 100 Hz
        argv = ["py-spy", "record", "--format", "raw", "--rate", "100", "--subprocesses", "-o", str(profile), "--", *argv]
    start = time.perf_counter()
    process = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=open(f"{log}.stderr", "w"))
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    requests = server.requests()[seen:]
    kinds = Counter(kind_of(line.split(" ", 1)[0]) for line in requests)
    stats = scrapy_stats(log)
    return {
        "name": name,
        "exit": process.returncode,
        "seconds": seconds,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "peak_rss_mb": usage.ru_maxrss / 1024,  # kilobytes on Linux
        "requests": len(requests),
        "by_kind": dict(kinds),
        "pages": kinds.get("thread", 0) + kinds.get("listing", 0) + kinds.get("index", 0),
        "thread_pages": kinds.get("thread", 0),
        "scrapy_seconds": stats.get("elapsed_time_seconds"),
        "stats": {k: v for k, v in stats.items() if k.startswith(("archive/", "downloader/request_count", "item_scraped"))},
    }


def scrapy_stats(log: Path) -> dict:
    """The stats dict Scrapy logs when the spider closes ("Dumping Scrapy stats:")."""
    try:
        text = Path(log).read_text(errors="replace")
    except FileNotFoundError:
        return {}
    start = text.rfind("Dumping Scrapy stats:")
    if start < 0:
        return {}
    body = text[text.index("{", start) : text.index("}", start) + 1]
    body = re.sub(r"datetime\.datetime\([^)]*\)", "None", body)
    try:
        return ast.literal_eval(body)
    except (ValueError, SyntaxError):
        return {}
