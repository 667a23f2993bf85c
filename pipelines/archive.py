"""The Scrapy item pipeline that writes the archive: ``ArchivePipeline``.

It owns the run: the archive's lock, the run's record in the crawls table, and where pages are
read and written (the archive's worker process, or this process). The writes themselves are
pipelines.store's.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlite_utils import Database

from pipelines.lock import ArchiveLock
from pipelines.reader import InProcessReader, keeps_raw_pages, register_page_reader
from pipelines.runs import finish_crawl, run_figures, start_crawl, summary_line
from pipelines.store import BATCH_SIZE, BUSY_TIMEOUT, ITEMS, WRITE_ATTEMPTS, open_archive, save_retrying_while_locked
from pipelines.worker import WORKER_FAILED, ArchiveWorker
from scraper.dates import utc_now_iso

logger = logging.getLogger(__name__)

if TYPE_CHECKING:  # the pipeline runs without Scrapy too (tests)
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector


class ArchivePipeline:
    """Scrapy item pipeline: buffer items, write them in batches with save_retrying_while_locked().

    Settings: ``ARCHIVE_DB`` (path, default "archive.db"), ``ARCHIVE_BATCH_SIZE``,
    ``ARCHIVE_BUSY_TIMEOUT`` (seconds SQLite waits for a lock another program holds) and
    ``ARCHIVE_WRITE_ATTEMPTS`` (defaults: pipelines.store): a batch that still finds the archive
    locked is kept and tried again with the next one; the error says which program to look for.
    Batching keeps one transaction per N pages instead of per page; the rest is written at
    close. Under Scrapy it also locks the archive for the run and keeps the run's record in
    the crawls table (outcome in the stats as ``archive/outcome``).

    ``ARCHIVE_WORKER`` (default on): the reading of pages and all the writing happen in a
    worker process (pipelines.worker), whose ``read`` is registered as the crawl's page reader
    (pipelines.reader); this pipeline then sends the items there. Off, both stay in this
    process. ``ARCHIVE_RAW_PAGES``: the reader keeps each page's bytes for raw_pages.
    """

    def __init__(
        self,
        db: str | Path | Database,
        stats: StatsCollector | None = None,
        batch_size: int = BATCH_SIZE,
        crawler: Crawler | None = None,
        busy_timeout: float = BUSY_TIMEOUT,
        write_attempts: int = WRITE_ATTEMPTS,
        worker: bool = False,
        keep_raw_pages: bool = False,
    ) -> None:
        self.target = db
        self.busy_timeout = busy_timeout
        self.write_attempts = write_attempts
        self.stats = stats
        self.batch_size = batch_size
        self.crawler = crawler
        self.db: Database | None = None
        self.buffer: list[Any] = []
        self.lock = None if isinstance(db, Database) else ArchiveLock(db)
        self.crawl_id: int | None = None
        self.use_worker = worker
        self.keep_raw_pages = keep_raw_pages
        self.worker: ArchiveWorker | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ArchivePipeline:
        from scrapy import signals

        settings = crawler.settings
        pipeline = cls(
            settings.get("ARCHIVE_DB", "archive.db"),
            stats=crawler.stats,
            batch_size=settings.getint("ARCHIVE_BATCH_SIZE", BATCH_SIZE),
            crawler=crawler,
            busy_timeout=settings.getfloat("ARCHIVE_BUSY_TIMEOUT", BUSY_TIMEOUT),
            write_attempts=settings.getint("ARCHIVE_WRITE_ATTEMPTS", WRITE_ATTEMPTS),
            worker=settings.getbool("ARCHIVE_WORKER", True),
            keep_raw_pages=keeps_raw_pages(settings),
        )
        crawler.signals.connect(pipeline.spider_closed, signal=signals.spider_closed)
        return pipeline

    def open_spider(self) -> None:
        if self.lock:
            self.lock.acquire()
        self.db = open_archive(self.target, self.busy_timeout)
        if self.crawler is not None:
            # the crawl's other components (the media store) hand their records here: one writer
            self.crawler.archive_store = self.process_item
            spider = self.crawler.spider
            self.crawl_id = start_crawl(
                self.db, getattr(spider, "seeds", []), getattr(spider, "arguments", {}), utc_now_iso()
            )
            if self.use_worker:
                self.worker = ArchiveWorker(
                    self.target, self.stats, self.batch_size, self.busy_timeout, self.write_attempts, self.keep_raw_pages
                )
                register_page_reader(self.crawler, self.worker.read)
            else:
                register_page_reader(self.crawler, InProcessReader(self.keep_raw_pages))

    def process_item(self, item: Any) -> Any:
        if self.worker is not None:
            self.worker.store(item)
        elif isinstance(item, ITEMS):
            self.buffer.append(item)
            if len(self.buffer) >= self.batch_size:
                self.flush()
        return item

    def close_spider(self) -> None:
        if self.worker is not None:
            self.worker.close()
        else:
            self.flush()
        if self.crawl_id is None:  # without Scrapy: done; under Scrapy spider_closed finishes
            self.close()

    def spider_closed(self, spider: Any, reason: str) -> None:
        """After the last item: close the run's record with Scrapy's finish reason (failed,
        whatever the reason, when the archive's worker failed)."""
        if self.db is None:
            return
        if self.worker is not None and self.worker.failure is not None:
            reason = WORKER_FAILED
        if self.crawl_id is not None:
            stats = self.stats.get_stats()
            outcome = finish_crawl(self.db, self.crawl_id, stats, reason, utc_now_iso())
            self.stats.set_value("archive/outcome", outcome)
            logger.info(summary_line(run_figures(stats), stats.get("downloader/request_count", 0), outcome))
        self.close()

    def close(self) -> None:
        if not isinstance(self.target, Database):  # a Database handed in belongs to the caller
            self.db.close()
        self.db = None
        if self.lock:
            self.lock.release()

    def flush(self) -> None:
        """Write the buffered items in one transaction and add their counts to the stats.

        A transaction that fails leaves the archive as it was and the items in the buffer.
        """
        counts = save_retrying_while_locked(self.db, self.buffer, self.write_attempts, self.busy_timeout)
        self.buffer.clear()
        if self.stats is not None:
            for key, value in counts.items():
                self.stats.inc_value(key, value)
