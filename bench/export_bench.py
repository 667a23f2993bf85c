"""Export at the size of a real forum: peak RSS, time and size of ``python -m export`` for each
export, on archives of two sizes (memory must not grow with the archive).

The archives are datasette_bench's: the sample forum crawled, then grown with plain SQL to N
comments. Each export runs as the user runs it, a process of its own; its peak RSS is the
kernel's high-water mark of the process's memory; its CPU time and wall time. Figures go to stdout as Markdown.

    python -m bench.export_bench --comments 100000 1000000 --work /tmp/export-bench
    python -m bench.export_bench --archive /tmp/ds-bench/archive-1000000.db   # an archive built before
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.datasette_bench import grow, long_thread, seed

ROOT = Path(__file__).resolve().parent.parent
RUNS = [(source, "parquet") for source in ("posts", "comments", "articles", "threads", "members", "revisions")]
RUNS += [("posts", "csv"), ("comments", "jsonl")]


def build(work: Path, comments: int) -> Path:
    """datasette_bench's archive of ``comments`` comments (kept in ``work`` for another run)."""
    from pipelines.store import open_archive

    path = work / f"archive-{comments}.db"
    if path.exists():
        return path
    print(f"building {path}", file=sys.stderr)
    seed(path)
    open_archive(path).close()
    grow(path, comments - 5_000)
    long_thread(path)
    open_archive(path).close()
    return path


# The export as ``python -m export`` runs it, saying its peak RSS and CPU time as it exits: the kernel's
# high-water mark of its own memory (VmHWM). os.wait4's ru_maxrss would count the bench's own
# memory too, which the child has mapped between fork and exec.
PEAK = (
    "import atexit, resource, runpy, sys\n"
    "def peak():\n"
    "    for line in open('/proc/self/status'):\n"
    "        if line.startswith('VmHWM:'): print(line.split()[1], 'peak_kb', file=sys.stderr)\n"
    "    usage = resource.getrusage(resource.RUSAGE_SELF)\n"
    "    print(usage.ru_utime + usage.ru_stime, 'cpu_seconds', file=sys.stderr)\n"
    "atexit.register(peak)\n"
    "sys.argv = ['export', *sys.argv[1:]]\n"
    "runpy.run_module('export', run_name='__main__', alter_sys=True)\n"
)


def run(archive: Path, source: str, fmt: str, out: Path) -> dict:
    """One export as a process of its own: rows, seconds, peak RSS, the file's size."""
    target = out / f"{source}.{fmt}"
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", PEAK, source, "--db", str(archive), "-o", str(target)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    if result.returncode:
        raise RuntimeError(f"{source} {fmt}: {result.stderr}")
    said = {line.split(" ", 1)[1]: line.split(" ", 1)[0] for line in result.stderr.splitlines() if " " in line}  # "N rows", "N peak_kb"
    rows = int(said["rows"])
    peak_kb = int(said["peak_kb"])
    size = target.stat().st_size
    target.unlink()
    return {"source": source, "format": fmt, "rows": rows, "seconds": seconds, "cpu_seconds": float(said["cpu_seconds"]),
            "peak_rss_mb": peak_kb / 1024,
            "mb": size / 1e6}


def report(results: dict[str, list[dict]]) -> str:
    names = list(results)
    lines = ["| export | " + " | ".join(f"{name}: rows, CPU s (wall s), peak RSS, file" for name in names) + " |",
             "|---|" + "---|" * len(names)]
    for i, (source, fmt) in enumerate(RUNS):
        cells = [f"{r['rows']:,}, {r['cpu_seconds']:.1f} ({r['seconds']:.1f}), {r['peak_rss_mb']:.0f} MB, {r['mb']:.1f} MB"
                 for r in (results[name][i] for name in names)]
        lines.append(f"| {source} → {fmt} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.export_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--comments", type=int, nargs="+", default=[100_000, 1_000_000],
                        help="archive sizes in comments (default 100,000 and 1,000,000)")
    parser.add_argument("--work", type=Path, help="folder for the archives (kept); default a temporary one")
    parser.add_argument("--archive", type=Path, nargs="+", help="measure these archives instead of building them")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    work = args.work or Path(tempfile.mkdtemp(prefix="export-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    archives = args.archive or [build(work, comments) for comments in args.comments]
    results = {}
    for archive in archives:
        results[archive.name] = []
        for source, fmt in RUNS:
            results[archive.name].append(run(archive, source, fmt, work))
            print(f"  {archive.name} {results[archive.name][-1]}", file=sys.stderr, flush=True)
    print(report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
