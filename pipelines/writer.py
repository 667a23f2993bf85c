"""The one writer of a distributed crawl: drain the workers' items from Redis into the archive.

Each crawl of the fleet (from its first item to the moment nothing is queued, no worker is alive
and no item waits) gets its row in the crawls table and its summary line, with the workers'
counters summed (spiders.distributed.ReliableScheduler hands them over as each worker stops).

Items move from the queue to a "writing" list before the batch is written, and leave it only
once the transaction committed; a writer killed mid-batch finds them there when it starts
again and writes them then. Upserts are idempotent, so an item written twice changes nothing.
After each batch the writer publishes what the archive now holds for the workers.

Example:

    python -m pipelines.writer --redis redis://127.0.0.1:6379/0 --db archive.db
"""

from __future__ import annotations

import argparse
import json
import logging
import pickle
import sys
import time
from collections import Counter

from pipelines.lock import ArchiveLock, ArchiveLocked
from pipelines.runs import finish_crawl, run_figures, start_crawl, summary_line
from pipelines.shared import DEFAULT_KEY, Keys, connect, publish_extras, publish_state
from pipelines.store import open_archive, save_in_one_transaction
from scraper.dates import utc_now_iso
from scraper.models import FetchedPage, ThreadSynced

logger = logging.getLogger("pipelines.writer")
BATCH = 50  # items per transaction, unless --batch says
# At INFO the writer says how far it is once a minute, as Scrapy's LogStats does (each batch,
# often of one item, is a DEBUG line)
PROGRESS_SECONDS = 60.0


def write(redis_url: str, db_path: str, prefix: str = DEFAULT_KEY, batch: int = BATCH, until_done: bool = False) -> Counter:
    """Write items as they come; with ``until_done``, return the counts once the crawl is over
    (items came, and no worker is alive, nothing is queued or waiting); else run until stopped."""
    server, keys = connect(redis_url), Keys(prefix)
    lock = ArchiveLock(db_path)
    lock.acquire()
    db = open_archive(db_path)
    counts: Counter = Counter()
    try:
        while server.lmove(keys.writing, keys.items, "RIGHT", "LEFT"):
            pass  # a batch a killed writer did not commit goes first
        publish_state(db, server, keys)
        publish_extras(db, server, keys)
        started = False  # a writer started before its workers waits for them
        said_at = time.monotonic()
        while True:
            first = server.blmove(keys.items, keys.writing, 1.0, "LEFT", "RIGHT")
            if first is None:
                if started and keys.fleet_done(server):
                    record_run(db, server, keys, counts)
                    if until_done:
                        return counts
                    started, counts = False, Counter()
                continue
            started = True
            raw = [first]
            while len(raw) < batch and (more := server.lmove(keys.items, keys.writing, "LEFT", "RIGHT")):
                raw.append(more)
            items = [pickle.loads(data) for data in raw]
            counts += save_in_one_transaction(db, items)
            server.delete(keys.writing)  # committed: the batch is no longer needed
            publish_state(db, server, keys, _touched(items))
            publish_extras(db, server, keys, items)
            logger.debug("Wrote %d items (%s)", len(items), dict(counts))
            if time.monotonic() - said_at >= PROGRESS_SECONDS:
                said_at = time.monotonic()
                logger.info("Written so far in this crawl: %s", dict(counts))
    finally:
        db.close()
        lock.release()


def record_run(db, server, keys: Keys, counts: Counter) -> None:
    """The fleet's crawl is over: its row in crawls, and its summary line."""
    meta = json.loads(server.get(keys.run_seeds) or "{}")
    seeds = meta.get("seeds", [])
    joined = [raw.decode() for raw in server.lrange(keys.run_joined, 0, -1)]  # seeders that joined the crawl
    seeds += [seed for seed in dict.fromkeys(joined) if seed not in seeds]
    stats = {key.decode(): int(value) for key, value in server.hgetall(keys.run).items()} | dict(counts)
    crawl_id = start_crawl(db, seeds, meta.get("arguments", {}), meta.get("started_at") or utc_now_iso())
    outcome = finish_crawl(db, crawl_id, stats, "finished", utc_now_iso())
    logger.info(summary_line(run_figures(stats), stats.get("downloader/request_count", 0), outcome))
    server.delete(keys.run, keys.run_seeds, keys.run_joined)


def _touched(items: list) -> list[tuple[str, int]]:
    touched = []
    for item in items:
        if isinstance(item, ThreadSynced):
            touched.append((item.site, item.tid))
        elif isinstance(item, FetchedPage):
            if item.thread:
                touched.append((item.site, item.thread.tid))
            if item.forum:
                touched.extend((item.site, row.tid) for row in item.forum.threads)
    return touched


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipelines.writer",
        description="Write a distributed crawl's items from Redis into the archive (run exactly one).",
        epilog="Example: python -m pipelines.writer --redis redis://127.0.0.1:6379/0 --db archive.db",
    )
    parser.add_argument("--redis", required=True, help="the Redis URL the workers use (REDIS_URL)")
    parser.add_argument("--db", default="archive.db", help="the archive (default: archive.db)")
    parser.add_argument(
        "--key", default=DEFAULT_KEY, help=f"the crawl's key prefix (DISTRIBUTED_KEY, default: {DEFAULT_KEY})"
    )
    parser.add_argument("--batch", type=int, default=BATCH, help=f"items per transaction (default: {BATCH})")
    parser.add_argument(
        "--until-done", action="store_true", help="stop when the crawl is over (no worker alive, nothing queued)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s [%(name)s] %(levelname)s: %(message)s")
    try:
        counts = write(args.redis, args.db, args.key, args.batch, args.until_done)
    except ArchiveLocked as error:
        print(f"writer: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 1
    logger.info("Done: %s", dict(counts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
