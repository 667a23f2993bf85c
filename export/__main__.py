"""python -m export: the archive's tables (articles, comments, posts, post_comments, ratings …) to
CSV, JSON lines or Parquet."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path

from export import BATCH_SIZE, FORMATS, SOURCES, WITHOUT_FORUM, Filters, export

SUFFIXES = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}
EXAMPLES = """\
examples:
  python -m export comments -o comments.csv --bom          # UTF-8 with BOM: Excel shows Chinese right
  python -m export posts -o posts.parquet --site bbs.example.com
  python -m export articles --forum 2 --forum 职场交流 --since 2023 --until 2024-06 -o a.jsonl
  python -m export comments --db /data/example.db --format jsonl | gzip > comments.jsonl.gz
  python -m export warc -o forum.warc.gz                   # the kept raw pages and media as WARC 1.1
  python -m export post_comments --forum 2 -o dianping.csv --bom
  python -m export portal_articles --since 2024 -o portal.jsonl

Columns are those of the table or view, in archive order (by site, thread, floor).
--since/--until take YYYY, YYYY-MM or YYYY-MM-DD, both inclusive, against posted_at in the
forum's own time (ratings: rated_at; attachments: uploaded_at; polls, poll_options and
thread_tags: their thread's first post); rows without that time are left out when either is
given. portal_articles and portal_comments belong to no forum: --forum is refused for them.
For any other query: sqlite-utils archive.db "select ..." --csv (or --nl).
"""


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(
        prog="python -m export",
        description="Export the archive's articles, comments, posts (the view of both), 点评 "
        "(post_comments), ratings, polls, poll_options, thread_tags, attachments, portal_articles "
        "or portal_comments to CSV, JSON lines or Parquet, streaming, with filters by site, forum and date.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parse.add_argument("source", choices=list(SOURCES), help="what to export")
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
    if argv[:1] == ["warc"]:
        return warc_main(argv[1:])
    if argv[:1] == ["site"]:
        from export.site import main as site_main  # the static mirror (its own module: browse/ renders it)

        return site_main(argv[1:])
    parse = parser()
    args = parse.parse_args(argv)
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
            count = export(args.db, args.source, fmt, out, filters, batch_size=args.batch_size)
    except BrokenPipeError:  # the reader stopped early (| head): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 0
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
