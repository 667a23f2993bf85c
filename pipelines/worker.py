"""Reading and writing off the crawl's core: one worker process reads every page and writes
the archive (setting ``ARCHIVE_WORKER``, on by default; ``0`` keeps both in the crawl's process).

Scrapy's download loop fills one core; decoding, parsing and storing cost several times as
much again. So the crawl's process only downloads and decides, and one worker process decodes
and parses every page (``scraper.reading.read_page_into``) and is the archive's only writer, in
transactions of ``ARCHIVE_BATCH_SIZE`` items. Each spider callback awaits the worker's reading
of its page (the reactor keeps downloading meanwhile) and gets back what its decisions need:
the page without its bytes, a thread's posts reduced to pid and floor. The worker queues the
page for writing as it reads it; the pipeline sends the spider's other items (ThreadSynced,
ForumWalked, network failures) through the same first-in, first-out queue, so the archive is
written in the order the spider gave. The crawl's process keeps the lock and the ``crawls``
record (``pipelines.sqlite.ArchivePipeline``, which owns the worker and registers its ``read``
as ``crawler.page_reader``, the coroutine the spider awaits).

``ArchiveWorker`` is the crawl's side; the functions after it run in the worker process.
"""

from __future__ import annotations

import asyncio
import logging
import logging.handlers
import multiprocessing
import os
import signal
import threading
import traceback
from collections import Counter, deque
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import fields, replace
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any

from scrapy.exceptions import CloseSpider

from pipelines.sqlite import ITEMS, WORKER_FAILED, ArchiveLocked, open_archive, save_batch
from scraper.models import FetchedPage, Post
from scraper.reading import read_page_into

logger = logging.getLogger(__name__)


class QueuedPage(FetchedPage):
    """A page the worker read and queued for writing, as the spider gets it back (no bytes, a
    thread's posts with their pid and floor only). The pipeline lets it pass: it is queued."""


class ArchiveWorker:
    """The crawl's side of the worker process: ``read`` pages there, ``store`` the spider's
    other items there, ask for a write every ``batch_size`` items, and add what each write
    counted to the stats. A locked archive is reported and its batch kept for the next write,
    as in the crawl's own process. Any other error, or the worker's death, is the worker's
    failure: it is logged once, the next ``read`` stops the crawl, and ``failure`` tells the
    pipeline to record the run as failed."""

    def __init__(self, path: str | Path, stats, batch_size: int = 20, busy_timeout: float = 30, write_attempts: int = 3):
        self.stats = stats
        self.batch_size = batch_size
        context = multiprocessing.get_context("spawn")  # a fresh interpreter: no reactor, no threads forked
        logs = context.Queue()
        self.logs = logging.handlers.QueueListener(logs, _LogHere())
        self.logs.start()
        level = logging.getLogger().getEffectiveLevel()
        self.pool = ProcessPoolExecutor(
            1, mp_context=context, initializer=_start, initargs=(str(path), busy_timeout, write_attempts, logs, level)
        )
        self.pool.submit(os.getpid)  # start it now, while the crawl's first requests go out
        self.writes: deque[Future] = deque()  # writes asked for and not yet counted, oldest first
        self.since_write = 0  # items sent since the last write was asked for
        self.unwritten = 0  # items sent and not yet written
        self.failure: BaseException | None = None

    async def read(self, fetched: FetchedPage, body: bytes, **parse_kwargs: Any) -> tuple[FetchedPage, str | None]:
        """Read ``body`` into ``fetched`` in the worker, which queues the page for writing.
        Returns the page as the spider needs it, and a parser crash's traceback (or None)."""
        future = self._send(_read, fetched, body, parse_kwargs)
        if future is not None:
            try:
                return await asyncio.wrap_future(future)
            except Exception as error:  # the worker died, or could not answer
                self._fail(error)
        raise CloseSpider(WORKER_FAILED)

    def store(self, item: Any) -> None:
        """Queue one of the spider's items for writing (the pages the worker read are queued)."""
        if isinstance(item, ITEMS) and not isinstance(item, QueuedPage):
            self._send(_store, item)

    def close(self) -> None:
        """Write what is left, count every write, and stop the worker."""
        if self.failure is None and self.unwritten:
            self._ask_for_write()
        self._count_writes(wait=True)
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.logs.stop()
        if self.unwritten:
            logger.error(
                "%d pages and items read in this run are not in the archive (the next run fetches them again)",
                self.unwritten,
            )

    def _send(self, task, *args) -> Future | None:
        """Queue a task for the worker; None once the worker has failed."""
        self._count_writes()
        self.unwritten += 1
        if self.failure is None:
            try:
                future = self.pool.submit(task, *args)
            except Exception as error:  # BrokenProcessPool: the worker is gone
                self._fail(error)
            else:
                self.since_write += 1
                if self.since_write >= self.batch_size:
                    self._ask_for_write()
                return future
        return None

    def _ask_for_write(self) -> None:
        try:
            self.writes.append(self.pool.submit(_write))
        except Exception as error:
            self._fail(error)
        self.since_write = 0

    def _count_writes(self, wait: bool = False) -> None:
        """Add the counts of the writes done (``wait``: of every write asked for) to the stats."""
        while self.writes and (wait or self.writes[0].done()):
            try:
                written, counts = self.writes.popleft().result()
            except ArchiveLocked as error:  # the batch stays in the worker for the next write
                logger.error("%s", error)
                continue
            except Exception as error:
                self._fail(error)
                continue
            self.unwritten -= written
            for key, value in counts.items():
                self.stats.inc_value(key, value)

    def _fail(self, error: BaseException) -> None:
        if self.failure is None:
            self.failure = error
            logger.error(
                "The archive worker failed: %s: %s. The crawl stops; what was written stays consistent.",
                type(error).__name__, error, exc_info=error,
            )


class _LogHere(logging.Handler):
    """The worker's log records go to the crawl's log, as if logged in the crawl's process."""

    def emit(self, record: logging.LogRecord) -> None:
        logging.getLogger(record.name).handle(record)


# -- in the worker process ------------------------------------------------------------------


class _Archive:
    """The worker's connection to the archive and the items waiting for the next write."""

    def __init__(self, path: str, busy_timeout: float, write_attempts: int):
        self.db = open_archive(path, busy_timeout)
        self.busy_timeout = busy_timeout
        self.write_attempts = write_attempts
        self.items: list[Any] = []


_archive: _Archive | None = None


def _start(path: str, busy_timeout: float, write_attempts: int, logs, level: int) -> None:
    """Log to the crawl's log; Ctrl-C and SIGTERM are for the crawl's process, which writes what
    is left and then stops the worker; a crawl killed outright (kill -9) takes the worker along."""
    global _archive
    to_the_crawl = logging.handlers.QueueHandler(logs)
    to_the_crawl.setFormatter(logging.Formatter("%(message)s"))  # the crawl's log adds time, name, level
    logging.getLogger().addHandler(to_the_crawl)
    logging.getLogger().setLevel(level)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    threading.Thread(target=_exit_with_the_crawl, daemon=True).start()
    _archive = _Archive(path, busy_timeout, write_attempts)


def _exit_with_the_crawl() -> None:
    """Its batch is then lost (the write in progress rolls back), as the crawl's own would be:
    the archive stays consistent and the next run fetches what is missing."""
    wait([multiprocessing.parent_process().sentinel])
    os._exit(1)


def _read(fetched: FetchedPage, body: bytes, parse_kwargs: dict[str, Any]) -> tuple[QueuedPage, str | None]:
    crash = read_page_into(fetched, body, **parse_kwargs)
    _archive.items.append(fetched)
    return _as_queued(fetched), None if crash is None else "".join(traceback.format_exception(crash))


def _as_queued(page: FetchedPage) -> QueuedPage:
    """What the spider needs of a page: all but the bytes and the posts' text and authors."""
    queued = QueuedPage(**{field.name: getattr(page, field.name) for field in fields(page)})
    queued.body = None
    if page.thread is not None:
        queued.thread = replace(page.thread, posts=[Post(pid=post.pid, floor=post.floor) for post in page.thread.posts])
    return queued


def _store(item: Any) -> None:
    _archive.items.append(item)


def _write() -> tuple[int, Counter[str]]:
    """Write the waiting items in one transaction: how many, and their ``archive/*`` counts."""
    counts = save_batch(_archive.db, _archive.items, _archive.write_attempts, _archive.busy_timeout)
    written = len(_archive.items)
    _archive.items.clear()
    return written, counts
