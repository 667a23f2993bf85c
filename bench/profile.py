"""Where a crawl's time goes, from py-spy's raw (collapsed) stacks: each sample is put in the
first of these that its stack passes through — parse (scraper/), storage (pipelines/),
spider logic (spiders/) — else Scrapy/Twisted/other; plus the functions with most samples.

    py-spy record --format raw -o crawl.txt -- python -m scrapy crawl discuz ...   (CPU samples only)
    python -m bench.profile crawl.txt
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

CATEGORIES = (  # py-spy names files by module path: "scraper/thread.py", "sqlite_utils/db.py"
    ("parse (scraper/)", ("scraper/",)),
    ("storage (pipelines/, sqlite_utils)", ("pipelines/", "sqlite_utils/")),
    ("spider logic (spiders/)", ("spiders/",)),
)
PROJECT = ("scraper/", "pipelines/", "spiders/", "bench/", "sqlite_utils/", "parsel/")
_PROCESS = re.compile(r"process (\d+):")
_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def _frames(stack: str) -> list[tuple[str, str]]:
    frames = []
    for part in stack.split(";"):
        match = _FRAME.match(part.strip())
        if match:
            frames.append((match["func"], match["file"]))
    return frames


def summarize(path: Path, top: int = 15) -> dict:
    """Shares of CPU samples, in %: by category, by function (self and inclusive), and by
    process ("crawl" is the one running Scrapy; any other is a worker)."""
    categories: Counter[str] = Counter()
    by_process: dict[str, Counter[str]] = {}
    crawl_pids: set[str] = set()
    leaves: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in Path(path).read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        # py-spy --subprocesses nests a child's stack under its parents' "process N:..." frames
        pids = _PROCESS.findall(stack)
        pid = pids[-1] if pids else "?"
        if len(pids) <= 1:
            crawl_pids.add(pid)
        frames = _frames(stack)
        files = [f for _, f in frames]
        category = next(
            (name for name, markers in CATEGORIES if any(f.startswith(markers) or any("/" + m in f for m in markers) for f in files)),
            "Scrapy/Twisted/other",
        )
        categories[category] += n
        by_process.setdefault(pid, Counter())[category] += n
        if frames:
            func, file = frames[-1]
            leaves[f"{func} ({Path(file).name})"] += n
        seen = set()
        for func, file in frames:
            if file.startswith(PROJECT):
                key = f"{func} ({file})"
                if key not in seen:
                    inclusive[key] += n
                    seen.add(key)
    share = lambda c: {k: round(v / total * 100, 1) for k, v in c.most_common(top)}  # noqa: E731
    processes = {}
    for pid, counter in sorted(by_process.items(), key=lambda item: -sum(item[1].values())):
        label = "crawl process" if pid in crawl_pids else f"child process {pid}"
        processes[label] = {k: round(v / total * 100, 1) for k, v in counter.most_common()}
    return {"samples": total, "categories_pct": share(categories), "by_process_pct": processes,
            "self_pct": share(leaves), "inclusive_pct": share(inclusive)}


if __name__ == "__main__":
    import json

    print(json.dumps(summarize(Path(sys.argv[1])), indent=1, ensure_ascii=False))
