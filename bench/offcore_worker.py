"""The worker process of the bench/offcore.py prototype: it reads (decodes and parses) pages
and is the archive's only writer, in batches; the crawl's process only downloads and decides.

Functions here run in the worker (one process, tasks in FIFO order); each returns the
``archive/*`` counts of the batch it flushed (if any) so the crawl adds them to its stats.
"""

from __future__ import annotations

import dataclasses
from collections import Counter

from pipelines.sqlite import open_archive, save_items
from scraper.models import FetchedPage, Post
from scraper.reading import read_page_into

_db = None
_buffer: list = []
_batch = 20
_utc_offset: str | None = None


def init(path: str, batch: int, utc_offset: str | None) -> None:
    global _db, _batch, _utc_offset
    _db = open_archive(path)
    _batch, _utc_offset = batch, utc_offset


def _flush(force: bool = False) -> dict:
    if not _buffer or (len(_buffer) < _batch and not force):
        return {}
    counts: Counter = save_items(_db, _buffer)
    _buffer.clear()
    return dict(counts)


def read(fetched: FetchedPage, body: bytes, kwargs: dict) -> tuple[FetchedPage, str | None, dict]:
    """Read one page, queue it for writing; return it (a thread's posts without their text:
    the crawl needs only pids and floors), the parser's crash if any, and flushed counts."""
    bug = read_page_into(fetched, body, utc_offset=_utc_offset, **kwargs)
    _buffer.append(fetched)
    counts = _flush()
    answer = dataclasses.replace(fetched, body=None)
    if fetched.thread is not None:
        slim = [Post(pid=p.pid, floor=p.floor) for p in fetched.thread.posts]
        answer.thread = dataclasses.replace(fetched.thread, posts=slim)
    return answer, (f"{type(bug).__name__}: {bug}" if bug else None), counts


def store(items: list) -> dict:
    _buffer.extend(items)
    return _flush()


def flush() -> dict:
    counts = _flush(force=True)
    return counts
