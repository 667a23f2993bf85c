"""The archive's worker process (pipelines.worker): it reads pages and writes the archive as the
crawl's own process would, keeps a batch that finds the archive locked, and when it fails the
run says so, is recorded as failed, exits 1, and the next run completes the archive."""

import asyncio
import logging
import sqlite3
from pathlib import Path

import pytest
from scrapy.utils.test import get_crawler
from sqlite_utils import Database

from pipelines.store import open_archive, save_in_one_transaction
from pipelines.worker import READ_HERE_AFTER, ArchiveWorker, QueuedPage
from sample_forum import serve
from scraper.models import FetchedPage, ForumWalked, ThreadSynced
from scraper.reading import fill_fetched_page
from test_failures import planted
from test_recrawl import V1, stored, visible

ROOT = Path(__file__).parent.parent
SAMPLE = ROOT / "sample_forum/v1"
BASE = "http://127.0.0.1:8080/"
PAGES = [("thread", "thread-2-1-1.html"), ("thread", "thread-2-2-1.html"), ("forum", "forum-2-1.html"), ("thread", "thread-2-3-1.html")]
OTHER_ITEMS = [
    ThreadSynced("127.0.0.1:8080", 2, 24, None, "2026-11-27T00:00:00+00:00", complete=True),
    ForumWalked("127.0.0.1:8080", 2, "2026-11-27T00:00:00+00:00", "2026-11-27T00:01:00+00:00"),
]
TABLES = ("articles", "comments", "users", "forums", "sites", "pages", "raw_pages")


def fetched(kind: str, name: str) -> tuple[FetchedPage, bytes]:
    body = (SAMPLE / name).read_bytes()
    page = FetchedPage(BASE + name, "127.0.0.1:8080", kind, 200, "2026-11-27T00:00:00+00:00", len(body), "x", asked_as=kind)
    page.body = body  # raw pages kept
    return page, body


def rows(db: Database) -> dict[str, list]:
    return {table: sorted(map(repr, db[table].rows)) for table in TABLES}


def test_the_worker_reads_and_writes_what_the_crawls_own_process_does(tmp_path):
    here = open_archive(tmp_path / "here.db")
    pages = []
    for kind, name in PAGES:
        page, body = fetched(kind, name)
        fill_fetched_page(page, body)
        pages.append(page)
    expected = save_in_one_transaction(here, pages + OTHER_ITEMS)

    crawler = get_crawler()
    open_archive(tmp_path / "worker.db").close()

    async def through_the_worker():
        worker = ArchiveWorker(tmp_path / "worker.db", crawler.stats, batch_size=2)
        answers = [await worker.read(*fetched(kind, name)) for kind, name in PAGES]
        for item in answers + OTHER_ITEMS:  # what the pipeline sends: the pages are queued already
            worker.store(item)
        worker.close()
        return answers

    answers = asyncio.run(through_the_worker())
    assert rows(Database(tmp_path / "worker.db")) == rows(here)
    assert {key: crawler.stats.get_value(key) for key in expected} == dict(expected)
    # the spider gets what its decisions need, not the posts' text nor the bytes
    assert all(isinstance(page, QueuedPage) and page.body is None for page, crash in answers)
    thread = answers[0][0].thread
    assert [(post.pid, post.floor) for post in thread.posts] == [(post.pid, post.floor) for post in pages[0].thread.posts]
    assert {post.content_text for post in thread.posts} == {""} and answers[2][0].forum == pages[2].forum


def test_a_locked_archive_is_retried_in_the_worker_then_reported_keeping_the_batch(tmp_path, caplog):
    path = tmp_path / "a.db"
    open_archive(path).close()
    crawler = get_crawler()
    other = sqlite3.connect(path)
    other.execute("BEGIN IMMEDIATE")  # another program holds the write lock

    async def locked_then_free():
        worker = ArchiveWorker(path, crawler.stats, batch_size=1, busy_timeout=0.2, write_attempts=2)
        await worker.read(*fetched(*PAGES[0]))  # a write is asked for: it finds the archive locked
        await worker.read(*fetched(*PAGES[1]))  # replies come in order: the write's has come
        other.rollback()  # the other program lets go
        worker.close()  # the batch was kept: a later write has it

    with caplog.at_level(logging.WARNING, logger="pipelines"):
        asyncio.run(locked_then_free())
    other.close()
    messages = [record.getMessage() for record in caplog.records]
    assert "The archive is locked by another program; trying again (1/2)" in messages
    assert any("stayed locked by another program for 2 x 0.2 s" in message for message in messages)
    assert Database(path)["pages"].count == crawler.stats.get_value("archive/pages") == 2


# In the worker only (the crawl's own process never writes with a worker), the third write
# meets a fault: the process is killed, or the disk fails.
WORKER_FAULT = """
import multiprocessing, os, signal, sqlite3
import pipelines.store
_save, _writes = pipelines.store.save_in_one_transaction, []
def save_in_one_transaction(db, items):
    if multiprocessing.parent_process() is not None:
        _writes.append(len(items))
        if len(_writes) == 3:
            {fault}
    return _save(db, items)
pipelines.store.save_in_one_transaction = save_in_one_transaction
"""
FAULTS = {
    "killed": ("os.kill(os.getpid(), signal.SIGKILL)", "the worker process ended (exit code -9)"),
    "disk_error": ('raise sqlite3.DatabaseError("database disk image is malformed")', "database disk image is malformed"),
}


@pytest.mark.parametrize("fault", FAULTS)
def test_a_failed_worker_fails_the_run_clearly_and_the_next_run_completes_the_archive(tmp_path, fault, scrapy_crawl):
    code, said = FAULTS[fault]
    db_path = tmp_path / "archive.db"
    with serve("v1") as forum:
        url, batches = f"url={forum.base_url}forum.php", {"ARCHIVE_BATCH_SIZE": 5}
        env = planted(WORKER_FAULT.format(fault=code), tmp_path / "planted")
        failed = scrapy_crawl(db_path, url, settings=batches, check=False, env=env)
        db = Database(db_path)
        written = db["pages"].count
        integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
        again = scrapy_crawl(db_path, url, settings=batches, check=False)

    assert failed.returncode == 1, failed.stderr[-3000:]
    assert "The archive worker failed" in failed.stderr and said in failed.stderr
    assert "are not in the archive (the next run fetches them again)" in failed.stderr
    assert "Closing spider (archive_worker_failed)" in failed.stderr
    assert integrity == "ok" and 0 < written < 56  # two batches were written, and kept
    assert again.returncode == 0, again.stderr[-3000:]
    db = Database(db_path)
    assert stored(db) == visible(V1)
    assert [row["outcome"] for row in db.query("SELECT outcome FROM crawls ORDER BY id")] == ["failed", "finished"]


def test_a_busy_worker_has_the_crawls_process_read_the_next_pages_and_writes_them_all(tmp_path):
    """Pages arriving while READ_HERE_AFTER wait in the worker are read in the crawl's process;
    the spider then yields them whole, and the worker writes them with the others."""
    names = sorted(path.name for path in SAMPLE.glob("thread-*-1-1.html"))[: READ_HERE_AFTER + 3]
    here = open_archive(tmp_path / "here.db")
    pages = []
    for name in names:
        page, body = fetched("thread", name)
        fill_fetched_page(page, body)
        pages.append(page)
    save_in_one_transaction(here, pages)
    crawler = get_crawler()
    open_archive(tmp_path / "worker.db").close()

    async def all_at_once():
        worker = ArchiveWorker(tmp_path / "worker.db", crawler.stats, batch_size=3)
        answers = await asyncio.gather(*(worker.read(*fetched("thread", name)) for name in names))
        for page, crash in answers:  # what the pipeline sends
            worker.store(page)
        worker.close()
        return [page for page, crash in answers]

    answers = asyncio.run(all_at_once())
    assert [isinstance(page, QueuedPage) for page in answers] == [True] * READ_HERE_AFTER + [False] * 3
    assert answers[-1].thread == pages[-1].thread  # read here: the whole page
    assert crawler.stats.get_value("archive/pages_read_in_crawl_process") == 3
    assert rows(Database(tmp_path / "worker.db")) == rows(here)
