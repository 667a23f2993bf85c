"""A distributed crawl on scrapy-redis: three workers and one writer give the archive one
process gives, even when a worker is killed part-way (servers on 127.0.0.1 only)."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from sqlite_utils import Database

from sample_forum import serve

ROOT = Path(__file__).parent.parent
CONTENT = ("articles", "comments", "users", "forums", "sites")
BOOKKEEPING = {"first_seen_at", "last_seen_at", "last_crawled_at", "synced_at", "walk_started_at", "walk_finished_at"}

if shutil.which("redis-server") is None:
    if os.environ.get("CI"):
        raise RuntimeError("redis-server is missing: .ci/run installs Debian's redis-server")
    pytest.skip("redis-server is not installed (apt-get install redis-server)", allow_module_level=True)


@pytest.fixture
def redis_url(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    server.terminate()
    server.wait(timeout=10)


def worker(redis_url: str, url: str | None = None, delay: str = "0", arguments: tuple[str, ...] = (),
           settings: dict | None = None) -> subprocess.Popen:
    """A worker; with ``url``, the one that seeds the crawl (and gives it its ``arguments``)."""
    command = [
        sys.executable, "-m", "scrapy", "crawl", "discuz", "-s", f"REDIS_URL={redis_url}",
        "-s", "AUTOTHROTTLE_ENABLED=0", "-s", f"DOWNLOAD_DELAY={delay}", "-s", "SCHEDULER_IDLE_BEFORE_CLOSE=2",
        "-s", "PROGRESS_INTERVAL=0",
    ]
    for name, value in (settings or {}).items():
        command += ["-s", f"{name}={value}"]
    for argument in ((f"url={url}",) if url else ()) + tuple(arguments):
        command += ["-a", argument]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def writer(redis_url: str, db_path: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "pipelines.writer", "--redis", redis_url, "--db", str(db_path), "--until-done"]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def content(db_path: Path) -> dict[str, list[dict]]:
    db = Database(db_path)
    return {
        table: sorted(({k: v for k, v in row.items() if k not in BOOKKEEPING} for row in db[table].rows), key=repr)
        for table in CONTENT
    }


@pytest.fixture
def single_process(tmp_path_factory):
    def crawl(base_url: str) -> dict:
        db_path = tmp_path_factory.mktemp("single") / "archive.db"
        command = [sys.executable, "-m", "scrapy", "crawl", "discuz", "-a", f"url={base_url}forum.php",
                   "-s", f"ARCHIVE_DB={db_path}", "-s", "AUTOTHROTTLE_ENABLED=0", "-s", "DOWNLOAD_DELAY=0"]
        subprocess.run(command, cwd=ROOT, check=True, capture_output=True, timeout=300)
        return content(db_path)

    return crawl


def run_fleet(redis_url: str, base_url: str, db_path: Path, kill: bool = False, delay: str = "0"):
    write = writer(redis_url, db_path)
    time.sleep(1.0)  # the writer publishes what the archive holds before workers decide
    seeder = worker(redis_url, base_url + "forum.php", delay)
    others = [worker(redis_url, delay=delay), worker(redis_url, delay=delay)]
    if kill:
        # kill a worker while it holds requests: they must go back to the queue
        server = redis.Redis.from_url(redis_url)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(
            server.hlen(key) for key in server.scan_iter(f"discuz:requests:inflight:*:{others[0].pid}:*")
        ):
            time.sleep(0.05)
        os.kill(others[0].pid, signal.SIGKILL)
        orphans = [key for key in server.scan_iter(f"discuz:requests:inflight:*:{others[0].pid}:*") if server.hlen(key)]
        assert orphans, "the killed worker held no request: the test did not exercise the re-queue"
    for process in [seeder, *others, write]:
        _, stderr = process.communicate(timeout=300)
        assert process.returncode in (0, -signal.SIGKILL), stderr[-3000:]
        assert "Traceback" not in stderr, stderr[-3000:]


def test_three_workers_and_a_writer_archive_what_one_process_does(redis_url, tmp_path, single_process):
    with serve("v1") as forum:
        expected = single_process(forum.base_url)
        forum.clear_requests()
        run_fleet(redis_url, forum.base_url, tmp_path / "archive.db")
        requests = forum.requests
    assert content(tmp_path / "archive.db") == expected
    assert len(expected["comments"]) == 314
    thread_pages = [path for path in requests if path.startswith("/thread-")]
    assert len(thread_pages) == len(set(thread_pages)) == 51  # each page once, fleet-wide


def test_a_worker_killed_part_way_loses_nothing(redis_url, tmp_path, single_process):
    with serve("v1") as forum:
        expected = single_process(forum.base_url)
        run_fleet(redis_url, forum.base_url, tmp_path / "archive.db", kill=True, delay="0.1")
    db = Database(tmp_path / "archive.db")
    assert content(tmp_path / "archive.db") == expected
    assert db.execute("SELECT count(*), count(DISTINCT pid) FROM comments").fetchone() == (314, 314)


def test_the_writer_killed_mid_batch_loses_no_item_and_a_redelivered_item_changes_nothing(redis_url, tmp_path):
    """Items a dead writer had taken but not committed sit in the 'writing' list; the next
    writer writes them first. The same item delivered twice leaves the same rows."""
    import pickle

    from pipelines.shared import Keys
    from pipelines.writer import write
    from scraper.thread import parse_thread_page
    from scraper.models import FetchedPage

    keys, server = Keys(), redis.Redis.from_url(redis_url)
    pages = []
    for page in (1, 2, 3):
        url = f"http://127.0.0.1:8080/thread-2-{page}-1.html"
        body = (ROOT / f"sample_forum/v1/thread-2-{page}-1.html").read_bytes()
        thread = parse_thread_page(body, url)
        pages.append(FetchedPage(url, "127.0.0.1:8080", "thread", 200, "2026-11-27T00:00:00+00:00", len(body), "x", thread=thread))
    for page in pages + pages[:1]:  # page 1 twice: a re-delivered item
        server.rpush(keys.items, pickle.dumps(page))
    server.lmove(keys.items, keys.writing, "LEFT", "RIGHT")  # a writer took page 1, then died
    server.lmove(keys.items, keys.writing, "LEFT", "RIGHT")  # and page 2

    write(redis_url, str(tmp_path / "archive.db"), until_done=True)
    db = Database(tmp_path / "archive.db")
    assert db.execute("SELECT count(*), count(DISTINCT pid) FROM posts").fetchone() == (29, 29)
    assert server.llen(keys.items) == server.llen(keys.writing) == 0


def test_a_page_that_got_no_response_reaches_the_writer_and_leaves_the_queue(redis_url):
    """An errback's item does not pass through Scrapy's spider middlewares: the worker still
    sends it to Redis, and only then lets go of the request."""
    import pickle

    from pipelines.shared import Keys

    url = "http://127.0.0.1:9/thread-1-1-1.html"  # nothing listens on port 9
    process = worker(redis_url, url)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr[-3000:]
    keys, server = Keys(), redis.Redis.from_url(redis_url)
    items = [pickle.loads(data) for data in server.lrange(keys.items, 0, -1)]
    assert [(item.url, item.kind, item.status) for item in items] == [(url, "network", 0)]
    assert not any(server.hlen(key) for key in server.scan_iter(f"{keys.requests}:inflight:*"))
