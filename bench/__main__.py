"""``python -m bench``: parse, crawl, memory, storage, re-parse and re-crawl figures on this
machine, in one run, as one table. See bench/README.md.

    python -m bench                  # 20,000 thread pages (55 min on a shared 2-core machine)
    python -m bench --quick          # 2,000 pages: a smoke run of every measure (~5 min)
    python -m bench --profile        # also py-spy a 2,000-page crawl (where its time goes)
    python -m bench --in-process     # also crawl with ARCHIVE_WORKER=0, right after discuz
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import crawl, floor, parse_bench, storage, synth
from bench.server import StaticServer, free_port

ROOT = Path(__file__).resolve().parent.parent
SMALL = 2000


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    import lxml.etree
    import scrapy
    import sqlite3

    git = os.environ.get("BENCH_GIT") or subprocess.run(
        ["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "scrapy": scrapy.__version__,
        "lxml": ".".join(map(str, lxml.etree.LXML_VERSION)),
        "sqlite": sqlite3.sqlite_version,
        "git": git,
        "load_before": os.getloadavg(),
    }


def reparse_available() -> bool:
    """Item 5 runs only where the re-parse command exists (not in commits before it, --commit)."""
    try:
        done = subprocess.run([sys.executable, "-m", "pipelines.reparse", "--help"], cwd=ROOT,
                              capture_output=True, timeout=60)
    except subprocess.TimeoutExpired:
        return False
    return done.returncode == 0


def run_reparse(source: Path, target: Path, raw_pages: int) -> dict:
    """Item 5: ``python -m pipelines.reparse SOURCE TARGET`` (SOURCE crawled with
    -s ARCHIVE_RAW_PAGES=1), timed."""
    crawl.remove_archive(target)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pipelines.reparse", str(source), str(target)], cwd=ROOT,
                          capture_output=True, text=True)
    seconds = time.perf_counter() - start
    return {"exit": done.returncode, "seconds": seconds, "pages": raw_pages,
            "pages_s": raw_pages / seconds if seconds else None, "stderr": done.stderr[-2000:]}


def discuz_command(forum: dict, db: Path, log: Path, concurrency: int, extra: dict | None = None) -> list[str]:
    return ["crawl", "discuz", "-a", f"url={forum['index']}", *crawl.crawl_settings(db, log, concurrency, extra)]


def bare_command(forum: dict, db: Path, log: Path, concurrency: int) -> list[str]:
    # Scrapy's own resolver: the project's refuses 127.0.0.1 to a spider that names no seeds
    # (spiders/addresses.py), and a spider's custom_settings come after the reactor has one.
    return ["runspider", str(ROOT / "bench" / "bare_spider.py"), "-a", f"url={forum['index']}",
            "-s", "TWISTED_DNS_RESOLVER=scrapy.resolver.CachingThreadedResolver",
            *crawl.crawl_settings(db, log, concurrency)]


SNAPSHOT = ("scraper", "spiders", "pipelines", "commands", "sample_forum", "tests/fixtures", "bench", "scrapy.cfg")


def snapshot(target: Path, commit: str | None) -> Path:
    """Copy the project: the files of ``commit`` (git archive), or the work tree as it is now
    when ``commit`` is None; bench/ always from the work tree. Other people edit the work tree
    while the bench runs, and a half-made edit must not end up in the figures."""
    target.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.db", "*.db-*")
    for name in SNAPSHOT:
        source = ROOT / name
        if commit is not None and name != "bench":
            archive = subprocess.run(["git", "archive", "--format=tar", commit, name], cwd=ROOT, capture_output=True)
            subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
        elif source.is_dir():
            shutil.copytree(source, target / name, ignore=ignore, dirs_exist_ok=True)
        elif source.exists():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def preflight(forum: Path, base: str) -> None:
    """Read one listing and one thread page of the synthetic forum, in-process: a parser that
    is broken right now (someone's edit in progress) stops the bench before it measures."""
    from scraper.thread import parse_thread_page
    from scraper.listing import parse_forum_page

    listing = parse_forum_page((forum / "forum-2-1.html").read_bytes(), base + "forum-2-1.html")
    thread = parse_thread_page((forum / "thread-1000-1-1.html").read_bytes(), base + "thread-1000-1-1.html")
    if len(listing.threads) != 10 or not thread.posts:
        raise SystemExit(f"preflight: the synthetic forum does not read right ({len(listing.threads)} rows, "
                         f"{len(thread.posts)} posts)")


def build_forum(work: Path, name: str, pages: int) -> tuple[dict, int]:
    port = free_port()
    start = time.perf_counter()
    manifest = synth.build(work / name, pages, f"http://127.0.0.1:{port}/")
    manifest["build_seconds"] = time.perf_counter() - start
    return manifest, port


def rate(run: dict) -> float:
    return run["pages"] / run["seconds"] if run["seconds"] else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=20000, help="thread pages of the large forum (default 20000)")
    parser.add_argument("--quick", action="store_true", help="2,000 pages only: a smoke run")
    parser.add_argument("--concurrency", type=int, default=16, help="CONCURRENT_REQUESTS_PER_DOMAIN (default 16)")
    parser.add_argument("--raw-pages", choices=("auto", "on", "off"), default="auto",
                        help="crawl with ARCHIVE_RAW_PAGES=1 (auto: when the reparse command exists)")
    parser.add_argument("--profile", action="store_true", help="py-spy a 2,000-page crawl (not a measured one)")
    parser.add_argument("--in-process", action="store_true",
                        help="also crawl with ARCHIVE_WORKER=0 (reading and writing in the crawl's process)")
    parser.add_argument("--no-nginx", action="store_true", help="serve with Python's http.server")
    parser.add_argument("--work", type=Path, help="where forums, archives and logs go (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the work dir")
    parser.add_argument("--parse-seconds", type=float, default=4.0)
    parser.add_argument("--commit", default="HEAD",
                        help="measure this commit's files (git archive; bench/ from the work tree); "
                             "'worktree' for a copy of the work tree as it is now (default HEAD)")
    parser.add_argument("--live", action="store_true", help="run on the work tree itself, not on a copy")
    args = parser.parse_args(argv)
    if not args.live:  # measure a copy of the project taken now, from inside it
        work = args.work or Path(tempfile.mkdtemp(prefix="discuz-bench-"))
        commit = None if args.commit == "worktree" else args.commit
        copy = snapshot(work / "project", commit)
        argv = [a for a in (sys.argv[1:] if argv is None else argv) if a != "--live"]
        if args.work is None:
            argv += ["--work", str(work)]
        if commit is None:
            git = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True)
            label = f"{git.stdout.strip()} (work tree copied at {time.strftime('%H:%M')})"
        else:
            label = subprocess.run(["git", "rev-parse", "--short", commit], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        env = os.environ | {"BENCH_GIT": label}
        code = subprocess.call([sys.executable, "-m", "bench", *argv, "--live"], cwd=copy, env=env)
        if args.work is None and not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        return code
    large = SMALL if args.quick else args.pages

    began = time.perf_counter()
    work = args.work or Path(tempfile.mkdtemp(prefix="discuz-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    results: dict = {"machine": machine(), "pages": large, "concurrency": args.concurrency}
    has_reparse = reparse_available()
    raw = args.raw_pages == "on" or (args.raw_pages == "auto" and has_reparse)
    results["raw_pages_kept"] = raw
    results["reparse_command"] = has_reparse
    extra = {"ARCHIVE_RAW_PAGES": "1"} if raw else {}
    say = lambda *a: print(*a, file=sys.stderr, flush=True)  # noqa: E731
    say(f"bench: work dir {work}; {large} pages; raw pages {'on' if raw else 'off'}")

    try:
        say("1. parse throughput")
        results["parse"] = parse_bench.run(args.parse_seconds)

        say("building forums")
        small, small_port = build_forum(work, "forum-small", SMALL)
        big, big_port = (small, small_port) if large == SMALL else build_forum(work, "forum-large", large)
        results["forums"] = {"small": small, "large": big}
        preflight(work / "forum-small", small["base"])

        say("4. storage write rate")
        results["storage_write"] = storage.write_rate(work / "forum-small", small["base"], 300)
        results["tree_ms"] = floor.tree_ms(work / ("forum-large" if large != SMALL else "forum-small"))

        if large != SMALL:
            say("3. memory: 2,000-page crawl")
            with StaticServer(work / "forum-small", small_port, work / "nginx-small", not args.no_nginx) as server:
                db = work / "small.db"
                crawl.remove_archive(db)
                results["small_crawl"] = crawl.run("discuz", discuz_command(small, db, work / "small.log", args.concurrency, extra),
                                                   work / "small.log", server)

        with StaticServer(work / ("forum-large" if large != SMALL else "forum-small"), big_port,
                          work / "nginx-large", not args.no_nginx) as server:
            results["server"] = server.version
            say(f"2. end-to-end ({server.version}): bare spider")
            db_bare = work / "bare.db"
            results["bare"] = crawl.run("bare", bare_command(big, db_bare, work / "bare.log", args.concurrency),
                                        work / "bare.log", server)
            say("2. end-to-end: discuz spider")
            db = work / "large.db"
            crawl.remove_archive(db)
            results["discuz"] = crawl.run("discuz", discuz_command(big, db, work / "large.log", args.concurrency, extra),
                                          work / "large.log", server)
            if large == SMALL:
                results["small_crawl"] = results["discuz"]
            if args.in_process:
                say("2. end-to-end: discuz spider, ARCHIVE_WORKER=0")
                db_here = work / "in-process.db"
                crawl.remove_archive(db_here)
                results["in_process"] = crawl.run(
                    "in_process", discuz_command(big, db_here, work / "in-process.log", args.concurrency,
                                                 extra | {"ARCHIVE_WORKER": "0"}), work / "in-process.log", server)
                results["in_process"]["same_rows"] = storage.counts(db_here) == storage.counts(db)
            say("6. re-crawl of the unchanged forum")
            results["recrawl"] = crawl.run("recrawl", discuz_command(big, db, work / "recrawl.log", args.concurrency, extra),
                                           work / "recrawl.log", server)

        if args.profile and shutil.which("py-spy"):
            say("profile: py-spy on a 2,000-page crawl (not a measured run)")
            from bench.profile import summarize

            with StaticServer(work / "forum-small", small_port, work / "nginx-profile", not args.no_nginx) as server:
                db_profile, profile = work / "profile-discuz.db", work / "profile-discuz.pyspy.txt"
                crawl.remove_archive(db_profile)
                log = work / "profile-discuz.log"
                crawl.run("discuz", discuz_command(small, db_profile, log, args.concurrency), log, server, profile)
                results["profile_discuz"] = summarize(profile)

        say("4. archive sizes")
        results["sizes"] = storage.sizes(db)
        if has_reparse and results["sizes"]["raw_pages"]:
            say("5. re-parse")
            results["reparse"] = run_reparse(db, work / "reparsed.db", results["sizes"]["raw_pages"])
    finally:
        results["seconds"] = time.perf_counter() - began
        results["machine"]["load_after"] = os.getloadavg()
        (work / "results.json").write_text(json.dumps(results, indent=1, default=str))
        say(f"results: {work / 'results.json'}")
    print(table(results))
    return 0


def cpu_ms(run: dict, role: str | None = None) -> float:
    """CPU ms per page fetched: of the whole crawl, or of one of its processes (crawl, worker)."""
    seconds = run["cpu_seconds"] if role is None else run.get("processes", {}).get(role, {}).get("cpu_seconds", 0.0)
    return seconds / max(run["pages"], 1) * 1000


def by_process(run: dict) -> str:
    """"crawl process 9.1 + worker 21.3" (CPU ms per page), or the total when it has no worker."""
    if "worker" not in run.get("processes", {}):
        return f"{cpu_ms(run):.1f} CPU ms/page"
    return f"{cpu_ms(run):.1f} CPU ms/page: crawl process {cpu_ms(run, 'crawl'):.1f} + worker {cpu_ms(run, 'worker'):.1f}"


def peak_rss(small: dict, big: dict, small_pages: int, big_pages: int) -> str:
    """Each process's peak RSS at both sizes, and how much it grew."""
    parts = []
    for role, label in (("crawl", "crawl process"), ("worker", "worker")):
        a, b = (run.get("processes", {}).get(role, {}).get("peak_rss_mb") for run in (small, big))
        if a and b:
            parts.append(f"{label} {a:.0f} MB at {small_pages:,} pages, {b:.0f} MB at {big_pages:,} (×{b / a:.2f})")
    return "; ".join(parts) or f"{small['peak_rss_mb']:.0f} MB at {small_pages:,} pages, {big['peak_rss_mb']:.0f} MB at {big_pages:,}"


def table(r: dict) -> str:
    m = r["machine"]
    lines = [
        f"Machine: {m['nproc']} cores, {m['cpu']}, {m['memory_gb']} GiB; Python {m['python']}, Scrapy {m['scrapy']}, "
        f"lxml {m['lxml']}, SQLite {m['sqlite']}; git {m['git']}; load avg before {m['load_before'][0]:.2f}, "
        f"after {m['load_after'][0]:.2f}",
        f"Server: {r.get('server', '?')}; concurrency {r['concurrency']} per domain; "
        f"raw pages kept: {'yes' if r.get('raw_pages_kept') else 'no'}; total run {r['seconds'] / 60:.1f} min",
        "",
        "| # | measure | result | goal |",
        "|---|---|---|---|",
    ]
    row = lambda *cells: lines.append("| " + " | ".join(str(c) for c in cells) + " |")  # noqa: E731
    for name, p in r.get("parse", {}).items():
        row("1", f"parse, {name} ({p['pages']} pages, {p['posts']} posts)",
            f"{p['parser_pages_s']:.1f} pages/s, {p['parser_posts_s']:.0f} posts/s ({p['parser_ms_page']:.1f} ms/page); "
            f"lxml alone {p['lxml_pages_s']:.0f} pages/s ({p['lxml_ms_page']:.1f} ms/page); **ratio {p['ratio']:.3f}**", "≥ 0.7")
    if "bare" in r and "discuz" in r:
        b, d = r["bare"], r["discuz"]
        big = r["forums"]["large"]
        row("2", f"end-to-end, {big['thread_pages']:,} thread + {big['listing_pages']:,} listing pages",
            f"bare Scrapy {rate(b):.0f} pages/s ({b['seconds']:.0f} s, {cpu_ms(b):.1f} CPU ms/page); "
            f"discuz {rate(d):.1f} pages/s ({d['seconds']:.0f} s, {by_process(d)}; "
            f"{d['stats'].get('archive/pages_read_in_crawl_process', 0):,} pages read in the crawl's process); "
            f"**ratio {rate(d) / rate(b):.3f}**", "≥ 0.9")
        errors = d["stats"].get("archive/errors", 0)
        if errors or d["exit"]:
            row("2", "**discuz crawl had errors**", f"exit {d['exit']}, archive/errors {errors}: see large.log", "0")
        if "tree_ms" in r:
            w = r["storage_write"]["fts_raw" if r.get("raw_pages_kept") and "fts_raw" in r["storage_write"] else "fts"]
            f = floor.floor(cpu_ms(b), r["tree_ms"], w["cpu_seconds"], round(w["pages_s"] * w["seconds"]))
            row("2", "the design's floor: the bare spider's CPU + lxml's tree of each page + its writes (item 4)",
                f"{f['bare_ms']:.1f} + {f['tree_ms']:.2f} + {f['writes_ms']:.2f} = {f['floor_ms']:.1f} CPU ms/page, "
                f"{f['ratio']:.2f}× the bare spider's (discuz: {cpu_ms(d) / cpu_ms(b):.2f}×)", "")
        if b["pages"] != d["pages"]:
            row("2", "requests differ", f"bare {b['by_kind']}, discuz {d['by_kind']}", "same set")
    if "in_process" in r and "bare" in r:
        i = r["in_process"]
        row("2", "the same, `-s ARCHIVE_WORKER=0` (reading and writing in the crawl's process)",
            f"{rate(i):.1f} pages/s ({i['seconds']:.0f} s, {cpu_ms(i):.1f} CPU ms/page); **ratio {rate(i) / rate(r['bare']):.3f}**; "
            f"same rows: {'yes' if i['same_rows'] else '**no**'}", "")
    small, big = r.get("small_crawl"), r.get("discuz")
    if small and big:
        row("3", "peak RSS of the discuz crawl",
            peak_rss(small, big, r["forums"]["small"]["thread_pages"], r["forums"]["large"]["thread_pages"]),
            "≤ ×1.10, < 250 MB")
    for name, w in r.get("storage_write", {}).items():
        label = {"fts": "with full-text index", "no_fts": "without full-text index", "fts_raw": "full-text index + raw pages"}[name]
        per_cpu = f"; {w['rows_cpu_s']:.0f} rows per CPU second" if w.get("rows_cpu_s") else ""
        row("4", f"save_in_one_transaction, {label}",
            f"{w['rows_s']:.0f} rows/s ({w['pages_s']:.0f} thread pages/s, {w['posts_s']:.0f} posts/s){per_cpu}", "")
    s = r.get("sizes")
    if s:
        for key, label in (("as_crawled", "as crawled"), ("fts_no_raw", "full-text index, no raw pages"),
                           ("no_fts_no_raw", "no full-text index, no raw pages")):
            v = s[key]
            flags = f"fts {'yes' if v['fts'] else 'no'}, raw pages {'yes' if v['raw'] else 'no'}"
            row("4", f"archive, {label} ({flags})", f"{v['bytes_per_1000_posts'] / 1e6:.2f} MB per 1,000 posts "
                f"({v['bytes'] / 1e6:.1f} MB, {s['posts']:,} posts)", "")
    rp = r.get("reparse")
    if rp:
        row("5", "re-parse of the kept pages", f"{rp['pages_s']:.1f} pages/s ({rp['pages']:,} pages, {rp['seconds']:.0f} s, exit {rp['exit']})", "")
    else:
        row("5", "re-parse", "skipped (no `python -m pipelines.reparse` in this commit, or no raw pages kept)", "")
    rc = r.get("recrawl")
    if rc:
        forums = len(r["forums"]["large"]["forums"])
        row("6", "re-crawl of the unchanged forum", f"{rc['requests']} requests {rc['by_kind']} in {rc['seconds']:.1f} s",
            f"robots + index + {forums} listing pages = {2 + forums}")
    if "profile_discuz" in r:
        p = r["profile_discuz"]
        lines += ["", f"Profile (discuz, py-spy, {p['samples']} CPU samples): where the CPU time goes, %",
                  "", "| category | % |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in p["categories_pct"].items()]
        lines += ["", "| process | category: % |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in p["by_process_pct"].items()]
        lines += ["", "| function (inclusive) | % |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in p["inclusive_pct"].items()]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
