"""Reading and writing off the crawl's core: one worker process reads every page and writes
the archive (setting ``ARCHIVE_WORKER``, on by default; ``0`` keeps both in the crawl's process).

Scrapy's download loop fills one core; decoding, parsing and storing cost several times as
much again. So the crawl's process only downloads and decides, and one worker process decodes
and parses every page (``scraper.reading.fill_fetched_page``) and is the archive's only writer, in
transactions of ``ARCHIVE_BATCH_SIZE`` items. Each spider callback awaits the worker's reading
of its page (the reactor keeps downloading meanwhile) and gets back what its decisions need:
the page without its bytes, a thread's posts reduced to pid and floor. The worker queues the
page for writing as it reads it; the pipeline sends the spider's other items (ThreadSynced,
ForumWalked, network failures) down the same socket, first in, first out, so the archive is
written in the order the spider gave. The crawl's process keeps the lock and the ``crawls``
record (``pipelines.archive.ArchivePipeline``, which owns the worker and registers its ``read``
as the crawl's page reader, pipelines.reader, the coroutine the spider awaits). When the
worker has a queue of pages to read, the crawl's process reads the next ones itself and sends
them to be written.

``ArchiveWorker`` is the crawl's side; the functions after it run in the worker process.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import logging.handlers
import multiprocessing
import os
import pickle
import signal
import socket
import struct
import threading
import traceback
from collections import Counter, deque
from dataclasses import fields, replace
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any

from pipelines.lock import ArchiveLocked
from pipelines.store import BATCH_SIZE, BUSY_TIMEOUT, ITEMS, WRITE_ATTEMPTS, open_archive, save_retrying_while_locked
from scraper.models import FetchedPage, Post
from scraper.reading import fill_fetched_page_with_traceback

logger = logging.getLogger(__name__)
FRAME = struct.Struct("!Q")  # each task and each reply: its length, then the pickle
# Pages waiting in the worker to be read, beyond which the crawl's process reads the next one.
# Fewer would leave the worker idle while the crawl's process reads; more, the crawl's process
# idle while the worker catches up (bench/README.md has the measured curve). A polite crawl
# never has that many waiting.
READ_HERE_AFTER = 12
# The close reason of a crawl whose archive worker failed: the pipeline records the run failed.
WORKER_FAILED = "archive_worker_failed"


class QueuedPage(FetchedPage):
    """A page the worker read and queued for writing, as the spider gets it back (no bytes, a
    thread's posts with their pid and floor only). The pipeline lets it pass: it is queued."""


class ArchiveWorker:
    """The crawl's side of the worker process: ``read`` pages there, ``store`` the spider's
    other items there, ask for a write every ``batch_size`` items, and add what each write
    counted to the stats. A locked archive is reported and its batch kept for the next write,
    as in the crawl's own process. Any other error, or the worker's end, is the worker's
    failure: it is logged once, the next ``read`` stops the crawl, and ``failure`` tells the
    pipeline to record the run as failed.

    Tasks and replies go through one socket, in order, sent and received by the event loop:
    no thread of this process stands between the reactor and the worker, and the worker
    always has the tasks sent so far to work on (a process pool's queue holds two)."""

    def __init__(
        self,
        path: str | Path,
        stats,
        batch_size: int = BATCH_SIZE,
        busy_timeout: float = BUSY_TIMEOUT,
        write_attempts: int = WRITE_ATTEMPTS,
        keep_raw_pages: bool = False,
    ):
        self.stats = stats
        self.batch_size = batch_size
        self.keep_raw_pages = keep_raw_pages  # pages keep their bytes for raw_pages
        self.loop = asyncio.get_running_loop()
        context = multiprocessing.get_context("spawn")  # a fresh interpreter: no reactor, no threads forked
        logs = context.Queue()
        self.logs = logging.handlers.QueueListener(logs, _LogHere())
        self.logs.start()
        self.socket, theirs = socket.socketpair()
        level = logging.getLogger().getEffectiveLevel()
        self.process = context.Process(
            target=_serve, args=(theirs, str(path), busy_timeout, write_attempts, logs, level), name="archive worker"
        )
        self.process.start()
        theirs.close()
        atexit.register(self.socket.close)  # a crawl that ends without closing the pipeline lets it go too
        self.socket.setblocking(False)
        self.loop.add_reader(self.socket, self._receive)
        self.outgoing: deque[memoryview] = deque()  # what the socket did not take yet
        self.incoming = bytearray()
        self.replies: deque = deque()  # for each task sent, oldest first: what to do with its reply
        self.since_write = 0  # items sent since the last write was asked for
        self.unwritten = 0  # items sent and not yet written
        self.reading = 0  # pages sent to be read, not yet read
        self.failure: BaseException | None = None

    async def read(self, fetched: FetchedPage, body: bytes, **parse_kwargs: Any) -> tuple[FetchedPage, str | None]:
        """Read ``body`` into ``fetched`` in the worker, which queues the page for writing.
        Returns the page as the spider needs it, and a parser crash's traceback (or None).

        When the worker already has ``READ_HERE_AFTER`` pages to read, it is the slower of the
        two processes: the page is read here instead, and the spider's item goes to the worker
        to be written, as its other items do. The two processes so share the reading by how
        busy each one is, and the crawl's core does not idle while the worker has a queue."""
        if self.keep_raw_pages:
            fetched.body = body
        if self.failure is None and self.reading >= READ_HERE_AFTER:
            self.stats.inc_value("archive/pages_read_in_crawl_process")
            return fill_fetched_page_with_traceback(fetched, body, **parse_kwargs)
        if self.failure is None:
            answer = self.loop.create_future()

            def on_reply(ok: bool, value: Any) -> None:
                self.reading -= 1
                _settle(answer, ok, value)

            self.reading += 1
            self._queue_item(_read, (fetched, body, parse_kwargs), on_reply)
            try:
                return await answer
            except Exception as error:  # the worker ended, or could not answer
                self._fail(error)
        else:
            self.unwritten += 1  # fetched, not read
        # Imported here: the worker process imports this module too, and needs no Scrapy.
        from scrapy.exceptions import CloseSpider

        raise CloseSpider(WORKER_FAILED)

    def store(self, item: Any) -> None:
        """Queue one of the spider's items for writing (the pages the worker read are queued)."""
        if isinstance(item, QueuedPage) or not isinstance(item, ITEMS):
            return
        if self.failure is None:
            self._queue_item(_store, (item,), self._stored)
        else:
            self.unwritten += 1

    def close(self) -> None:
        """Write what is left and wait for it (blocking: the crawl is over), then stop the worker."""
        if self.failure is None and self.unwritten:
            self._ask(_write, (), self._written)
        self.loop.remove_reader(self.socket)
        self.loop.remove_writer(self.socket)
        self.socket.setblocking(True)
        try:
            while self.outgoing:
                self.socket.sendall(self.outgoing.popleft())
            while self.replies and self._take(self.socket.recv(1 << 20)):
                pass
        except OSError:
            self._ended()
        self.socket.close()  # the worker's end of file: it stops
        atexit.unregister(self.socket.close)
        self.process.join()
        self.logs.stop()
        if self.unwritten:
            logger.error(
                "%d pages and items of this run are not in the archive (the next run fetches them again)",
                self.unwritten,
            )

    def _queue_item(self, task, args: tuple, on_reply) -> None:
        """Send a task that puts one item in the worker's next write; ask for the write when due."""
        self.unwritten += 1
        self._ask(task, args, on_reply)
        self.since_write += 1
        if self.since_write >= self.batch_size:
            self._ask(_write, (), self._written)
            self.since_write = 0

    def _ask(self, task, args: tuple, on_reply) -> None:
        data = pickle.dumps((task, args), protocol=pickle.HIGHEST_PROTOCOL)
        self.replies.append(on_reply)
        self.outgoing.append(memoryview(FRAME.pack(len(data)) + data))
        self._send()

    def _send(self) -> None:
        """Send what the socket takes now; the event loop sends the rest when it can."""
        try:
            while self.outgoing:
                sent = self.socket.send(self.outgoing[0])
                if sent < len(self.outgoing[0]):
                    self.outgoing[0] = self.outgoing[0][sent:]
                    break
                self.outgoing.popleft()
        except BlockingIOError:
            pass
        except OSError:
            self._ended()
            return
        if self.outgoing:
            self.loop.add_writer(self.socket, self._send)
        else:
            self.loop.remove_writer(self.socket)

    def _receive(self) -> None:
        try:
            self._take(self.socket.recv(1 << 20))
        except BlockingIOError:
            pass
        except OSError:
            self._ended()

    def _take(self, data: bytes) -> bool:
        """Hand each complete reply to what waits for it; False at the worker's end of file."""
        if not data:
            self._ended()
            return False
        self.incoming += data
        while len(self.incoming) >= FRAME.size:
            (size,) = FRAME.unpack_from(self.incoming)
            if len(self.incoming) < FRAME.size + size:
                break
            ok, value = pickle.loads(self.incoming[FRAME.size : FRAME.size + size])
            del self.incoming[: FRAME.size + size]
            self.replies.popleft()(ok, value)
        return True

    def _stored(self, ok: bool, value: Any) -> None:
        if not ok:
            self._fail(value)

    def _written(self, ok: bool, value: Any) -> None:
        """A write's reply: its counts for the stats; a locked archive keeps the batch."""
        if ok:
            written, counts = value
            self.unwritten -= written
            for key, count in counts.items():
                self.stats.inc_value(key, count)
        elif isinstance(value, ArchiveLocked):
            logger.error("%s", value)
        else:
            self._fail(value)

    def _ended(self) -> None:
        """The worker is gone (killed, crashed): every task still waiting fails with that."""
        self.loop.remove_reader(self.socket)
        self.loop.remove_writer(self.socket)
        self.process.join(timeout=5)
        ended = RuntimeError(f"the worker process ended (exit code {self.process.exitcode})")
        self._fail(ended)
        while self.replies:
            self.replies.popleft()(False, ended)

    def _fail(self, error: BaseException) -> None:
        if self.failure is None:
            self.failure = error
            logger.error(
                "The archive worker failed; the crawl stops (what was written stays consistent): %s",
                "".join(traceback.format_exception_only(error)).strip(),
            )


def _settle(answer: asyncio.Future, ok: bool, value: Any) -> None:
    if not answer.done():  # a callback cancelled meanwhile (Scrapy closing) no longer waits
        answer.set_result(value) if ok else answer.set_exception(value)


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


def _serve(connection: socket.socket, path: str, busy_timeout: float, write_attempts: int, logs, level: int) -> None:
    """The worker's loop: each task in the order sent, each reply in the same order, until the
    crawl's process closes its end. Log records go to the crawl's log. Ctrl-C and SIGTERM are
    for the crawl's process, which writes what is left and then stops the worker; a crawl
    killed outright (kill -9) takes the worker along."""
    global _archive
    to_the_crawl = logging.handlers.QueueHandler(logs)
    to_the_crawl.setFormatter(logging.Formatter("%(message)s"))  # the crawl's log adds time, name, level
    logging.getLogger().addHandler(to_the_crawl)
    logging.getLogger().setLevel(level)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    threading.Thread(target=_exit_with_the_crawl, daemon=True).start()
    _archive = _Archive(path, busy_timeout, write_attempts)
    tasks = connection.makefile("rb")
    while len(header := tasks.read(FRAME.size)) == FRAME.size:
        task, args = pickle.loads(tasks.read(FRAME.unpack(header)[0]))
        try:
            reply = pickle.dumps((True, task(*args)), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as error:  # noqa: BLE001 - the crawl's process decides what it means
            reply = _failure_reply(error)
        connection.sendall(FRAME.pack(len(reply)) + reply)


def _failure_reply(error: Exception) -> bytes:
    """The error as it crosses to the crawl's process, with the worker's traceback as a note
    (an error that does not pickle travels as its text)."""
    where = "".join(traceback.format_exception(error)).rstrip()
    error.add_note(f"In the archive worker:\n{where}")
    try:
        return pickle.dumps((False, error), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # noqa: BLE001
        return pickle.dumps((False, RuntimeError(where)), protocol=pickle.HIGHEST_PROTOCOL)


def _exit_with_the_crawl() -> None:
    """Its batch is then lost (the write in progress rolls back), as the crawl's own would be:
    the archive stays consistent and the next run fetches what is missing."""
    wait([multiprocessing.parent_process().sentinel])
    os._exit(1)


def _read(fetched: FetchedPage, body: bytes, parse_kwargs: dict[str, Any]) -> tuple[QueuedPage, str | None]:
    page, crash = fill_fetched_page_with_traceback(fetched, body, **parse_kwargs)
    _archive.items.append(page)
    return _as_queued(page), crash


def _as_queued(page: FetchedPage) -> QueuedPage:
    """What the spider needs of a page: all but the bytes, the posts' text and authors' names
    (their uids say whose profile to read), and
    the extras but their links (comments_more, ratings_more, pagers) and 点评 (whose keys
    tell a read of every 点评 of a post, pipelines.store_extras); the posts' images and the
    attachments stay for the media store (pipelines.media), which asks for their files."""
    queued = QueuedPage(**{field.name: getattr(page, field.name) for field in fields(page)})
    queued.body = None
    if page.thread is not None:
        extras = page.thread.extras and replace(page.thread.extras, ratings=[], poll=None)
        posts = [Post(pid=post.pid, floor=post.floor, author_uid=post.author_uid, images=post.images) for post in page.thread.posts]
        queued.thread = replace(page.thread, posts=posts, extras=extras)
    if page.portal_article is not None:
        queued.portal_article = replace(page.portal_article, content_html="", content_text="", comments=[])
    return queued


def _store(item: Any) -> None:
    _archive.items.append(item)


def _write() -> tuple[int, Counter[str]]:
    """Write the waiting items in one transaction: how many, and their ``archive/*`` counts."""
    counts = save_retrying_while_locked(_archive.db, _archive.items, _archive.write_attempts, _archive.busy_timeout)
    written = len(_archive.items)
    _archive.items.clear()
    return written, counts
