"""Run one crawl as a subprocess and measure it: wall time, CPU time and peak RSS (the whole
process tree's, from ``os.wait4``; each process's, sampled from /proc), the requests the
server saw, and Scrapy's final stats."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import threading
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


class ProcessTree:
    """Samples a process and its descendants every ``interval`` seconds (Linux /proc): each
    one's peak RSS (VmHWM) and CPU time as last seen, by role: the crawl (the process started),
    the archive's worker (multiprocessing's spawned child), multiprocessing's helper, other."""

    TICKS = os.sysconf("SC_CLK_TCK")

    def __init__(self, pid: int, interval: float = 0.2):
        self.pid, self.interval = pid, interval
        self.seen: dict[int, tuple[str, float, float]] = {}  # pid: (role, peak RSS MB, CPU s)
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._sample_until_done, daemon=True)

    def __enter__(self) -> ProcessTree:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.done.set()
        self.thread.join()

    def _sample_until_done(self) -> None:
        while not self.done.wait(self.interval):
            pending = [self.pid]
            while pending:
                pid = pending.pop()
                try:
                    pending += map(int, Path(f"/proc/{pid}/task/{pid}/children").read_text().split())
                    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                    status = Path(f"/proc/{pid}/status").read_text()
                    ticks = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[11:13]
                except (FileNotFoundError, ProcessLookupError):
                    continue
                peak = re.search(r"VmHWM:\s+(\d+) kB", status)
                if peak:  # a zombie has none: keep what it had
                    self.seen[pid] = (self._role(pid, cmdline), int(peak[1]) / 1024, sum(map(int, ticks)) / self.TICKS)

    def _role(self, pid: int, cmdline: str) -> str:
        if pid == self.pid:
            return "crawl"
        if "multiprocessing.spawn" in cmdline or "multiprocessing.forkserver" in cmdline:
            return "worker"
        return "helper" if "resource_tracker" in cmdline else "other"

    def by_role(self) -> dict[str, dict]:
        roles: dict[str, dict] = {}
        for role, peak, cpu in self.seen.values():
            entry = roles.setdefault(role, {"processes": 0, "peak_rss_mb": 0.0, "cpu_seconds": 0.0})
            entry["processes"] += 1
            entry["peak_rss_mb"] = max(entry["peak_rss_mb"], peak)
            entry["cpu_seconds"] += cpu
        return roles


def run(name: str, command: list[str], log: Path, server, profile: Path | None = None) -> dict:
    """Run ``python -m scrapy <command>`` from the project folder; return its measures."""
    seen = len(server.requests())
    argv = [sys.executable, "-m", "scrapy", *command]
    if profile is not None:  # py-spy samples the crawl (and any child) at 100 Hz
        argv = ["py-spy", "record", "--format", "raw", "--rate", "100", "--subprocesses", "-o", str(profile), "--", *argv]
    start = time.perf_counter()
    process = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=open(f"{log}.stderr", "w"))
    with ProcessTree(process.pid) as tree:
        _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    requests = server.requests()[seen:]
    kinds = Counter(kind_of(line.split(" ", 1)[0]) for line in requests)
    stats = scrapy_stats(log)
    cpu_seconds = usage.ru_utime + usage.ru_stime
    processes = tree.by_role()
    if "crawl" in processes:  # the total is exact; the others' last samples may miss their last 0.2 s
        others = sum(entry["cpu_seconds"] for role, entry in processes.items() if role != "crawl")
        processes["crawl"]["cpu_seconds"] = cpu_seconds - others
    return {
        "name": name,
        "exit": process.returncode,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,  # every process of the crawl
        "peak_rss_mb": usage.ru_maxrss / 1024,  # kilobytes on Linux: the largest process's
        "processes": processes,
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
