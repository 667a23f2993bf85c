"""python -m export: the archive's tables (articles, comments, posts, threads, members, revisions,
post_comments, ratings …) to CSV, JSON lines or Parquet; ``python -m export warc`` and the other
commands in COMMANDS have options of their own."""

from __future__ import annotations

import argparse
import contextlib
import os
import sqlite3
import sys
from pathlib import Path

from export import BATCH_SIZE, FORMATS, SOURCES, WITHOUT_FORUM, Filters, export, unreadable
from export.tables import EXPORTS

SUFFIXES = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}
EXAMPLES = """\
examples:
  python -m export comments -o comments.csv --bom          # UTF-8 with BOM: Excel shows Chinese right
  python -m export posts -o posts.parquet --site bbs.example.com
  python -m export threads -o threads.parquet               # one row per thread, tags as a list
  python -m export --describe posts                          # columns, Parquet types, descriptions
  python -m export articles --forum 2 --forum 职场交流 --since 2023 --until 2024-06 -o a.jsonl
  python -m export comments --db /data/example.db --format jsonl | gzip > comments.jsonl.gz
  python -m export warc -o forum.warc.gz                   # the kept raw pages and media as WARC 1.1
  python -m export wacz -o forum.wacz                      # the same as a WACZ, for ReplayWeb.page
  python -m export site -o mirror/                         # the forum as static pages, with search
  python -m export post_comments --forum 2 -o dianping.csv --bom
  python -m export portal_articles --since 2024 -o portal.jsonl

Columns are those of the table or view, in archive order (by site, thread, floor), with the
thread's fid and forum_name where a row belongs to a thread, without the crawler's bookkeeping
(url, first_seen_at, synced_at …: --all-columns keeps it). CSV and JSON lines hold the
archive's text (times as ISO 8601, lists as JSON); Parquet types them: times are UTC
timestamps in the forum's offset, lists are lists (a post's images and attachments: of
structs with what the archive knows of their files), flags booleans (--describe shows each).
--since/--until take YYYY, YYYY-MM or YYYY-MM-DD, both inclusive, against posted_at in the
forum's own time (ratings: rated_at; attachments: uploaded_at; members: registered_at;
revisions: replaced_at, in UTC; polls, poll_options and thread_tags: their thread's first
post); rows without that time are left out when either is given. portal_articles,
portal_comments and members belong to no forum: --forum is refused for them.
For any other query: sqlite-utils archive.db "select ..." --csv (or --nl).
"""


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(
        prog="python -m export",
        description="Export the archive's articles, comments, posts (the view of both), threads (one row "
        "each, with its counts and tags), members, revisions, 点评 (post_comments), ratings, polls, "
        "poll_options, thread_tags, attachments, portal_articles or portal_comments to CSV, JSON lines or "
        "typed Parquet, streaming, with filters by site, forum and date.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parse.add_argument("source", nargs="?", choices=list(SOURCES), help="what to export")
    parse.add_argument("--describe", metavar="SOURCE", choices=list(SOURCES),
                       help="print the source's columns, their Parquet types and descriptions, and stop")
    parse.add_argument("--all-columns", action="store_true",
                       help="also the crawler's bookkeeping columns (url, first_seen_at, synced_at …)")
    parse.add_argument("--db", default="archive.db", help="the archive (default: archive.db)")
    parse.add_argument("-o", "--output", default="-", help="file to write (default: standard output)")
    parse.add_argument(
        "-f", "--format", choices=FORMATS,
        help="csv, jsonl or parquet (default: from the output's suffix, else csv)",
    )  # fmt: skip
    parse.add_argument("--bom", action="store_true", help="CSV only: start with a UTF-8 byte order mark, for Excel")
    parse.add_argument("--site", action="append", default=[], help="only this site (repeat for several)")
    parse.add_argument("--forum", action="append", default=[], help="only this forum, by fid or name (repeat for several)")
    parse.add_argument("--since", help="posted on or after: YYYY, YYYY-MM or YYYY-MM-DD")
    parse.add_argument("--until", help="posted on or before: YYYY, YYYY-MM or YYYY-MM-DD")
    parse.add_argument(
        "--batch-size", type=int, default=BATCH_SIZE,
        help=f"rows read at a time, and rows per Parquet row group (default: {BATCH_SIZE})",
    )  # fmt: skip
    return parse


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] and argv[0] in COMMANDS:
        return COMMANDS[argv[0]](argv[1:])
    parse = parser()
    args = parse.parse_args(argv)
    if args.describe:
        from export.parquet import describe  # only Parquet needs pyarrow

        print(describe(EXPORTS[args.describe], args.all_columns))
        return 0
    if not args.source:
        parse.error("what to export? one of: " + ", ".join([*SOURCES, *COMMANDS]))
    fmt = args.format or SUFFIXES.get(Path(args.output).suffix.lower(), "csv")
    if args.bom and fmt != "csv":
        parse.error("--bom is for CSV only")
    try:
        filters = Filters(sites=args.site, forums=args.forum, since=args.since, until=args.until)
    except ValueError as error:
        parse.error(str(error))
    if not Path(args.db).is_file():
        parse.error(f"no archive at {args.db}")
    if args.forum and args.source in WITHOUT_FORUM:
        parse.error(f"--forum: {args.source} belong to no forum")
    try:
        with _output(args.output, fmt, args.bom) as out:
            count = export(args.db, args.source, fmt, out, filters, args.batch_size, args.all_columns)
    except BrokenPipeError:  # the reader stopped early (| head): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 0
    except sqlite3.OperationalError as error:
        if not (message := unreadable(args.db, error)):
            raise
        if args.output != "-":  # opened before the query failed: empty
            Path(args.output).unlink(missing_ok=True)
        parse.error(message)
    print(f"{count} rows", file=sys.stderr)
    return 0


def warc_main(argv: list[str]) -> int:
    """python -m export warc: the kept raw pages (ARCHIVE_RAW_PAGES) and media store as WARC 1.1."""
    parse = argparse.ArgumentParser(
        prog="python -m export warc",
        description="Write the archive's kept raw pages (ARCHIVE_RAW_PAGES=1) and media store as a "
        "WARC 1.1 file: each page with its capture time, status, headers and payload digest; a "
        "repeated payload as a revisit record.",
    )
    parse.add_argument("--db", default="archive.db", help="the archive (default: archive.db)")
    parse.add_argument("-o", "--output", required=True, help="the WARC file; .gz (forum.warc.gz) compresses each record")
    parse.add_argument("--media-dir", help="the media store (default: <archive>.media)")
    args = parse.parse_args(argv)
    if not Path(args.db).is_file():
        parse.error(f"no archive at {args.db}")
    from export.warc import summary, write_warc  # only WARC needs warcio

    with open(args.output, "wb") as out:
        counts = write_warc(args.db, out, gzip=args.output.endswith(".gz"), media_dir=args.media_dir)
    print(f"{args.output}: {summary(counts)} records", file=sys.stderr)
    return 0


# Commands besides the tables, with options of their own: name -> main(argv) -> exit status.
def wacz_main(argv: list[str]) -> int:
    """export/wacz.py: the WARC, its index and its pages, for ReplayWeb.page."""
    from export.wacz import main

    return main(argv)


def site_main(argv: list[str]) -> int:
    """export/site.py: the static mirror, rendered by browse/'s templates."""
    from export.site import main

    return main(argv)


COMMANDS = {"warc": warc_main, "wacz": wacz_main, "site": site_main}


def _output(path: str, fmt: str, bom: bool) -> contextlib.AbstractContextManager:
    """The file to write: standard output for "-"; Parquet files go to pyarrow by path."""
    if path != "-" and fmt == "parquet":
        return contextlib.nullcontext(path)  # pyarrow's own file writer
    target = sys.stdout.fileno() if path == "-" else path
    if fmt == "parquet":
        return open(target, "wb", closefd=False)
    return open(target, "w", encoding="utf-8-sig" if bom else "utf-8", newline="", closefd=path != "-")


if __name__ == "__main__":
    sys.exit(main())
