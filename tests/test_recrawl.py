"""Whole-site crawls and scheduled re-crawls, end to end with the real spider and pipeline.

The sample forum exists at two times (sample_forum/v1 and v2; v2/CHANGES.json lists exactly
what changed). One server serves v1, then v2 at the same address, as a real forum would be.
"""

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
from sqlite_utils import Database

from pipelines.lock import ArchiveLock
from sample_forum import serve

ROOT = Path(__file__).parent.parent
V1 = json.loads((ROOT / "sample_forum/v1/TRUTH.json").read_text(encoding="utf-8"))
V2 = json.loads((ROOT / "sample_forum/v2/TRUTH.json").read_text(encoding="utf-8"))
CHANGES = json.loads((ROOT / "sample_forum/v2/CHANGES.json").read_text(encoding="utf-8"))


def visible(truth) -> dict[int, tuple]:
    return {
        post["pid"]: (thread["tid"], post["floor_displayed"], post["author"], post["dateline_iso"])
        for thread in truth["threads"]
        for post in thread["posts"]
        if post["floor_displayed"] is not None
    }


def stored(db: Database, only_present: bool = False) -> dict[int, tuple]:
    sql = """SELECT p.pid, p.tid, p.floor, p.author, p.posted_at FROM posts p
             LEFT JOIN comments c ON c.site = p.site AND c.pid = p.pid
             LEFT JOIN articles a ON a.site = p.site AND a.tid = p.tid"""
    if only_present:
        sql += " WHERE c.gone_since IS NULL AND a.gone_since IS NULL"
    return {pid: (tid, floor, author, at) for pid, tid, floor, author, at in db.execute(sql)}


def thread_requests(paths: list[str]) -> set[int]:
    return {int(path.split("-")[1]) for path in paths if path.startswith("/thread-")}


@pytest.fixture(scope="module")
def history(tmp_path_factory, scrapy_crawl):
    """v1 crawled from the index; then v2 incrementally; then v2 with refresh=all."""
    db_path = tmp_path_factory.mktemp("recrawl") / "archive.db"
    runs = {}
    with serve("v1") as forum:
        index = forum.base_url + "forum.php"
        scrapy_crawl(db_path, f"url={index}")
        runs["v1"] = (stored(Database(db_path)), forum.requests)
        forum.switch("v2")
        forum.clear_requests()
        runs["incremental"] = (scrapy_crawl(db_path, f"url={index}"), forum.requests)
        runs["after_incremental"] = stored(Database(db_path))
        forum.clear_requests()
        runs["refresh"] = (scrapy_crawl(db_path, f"url={index}", "refresh=all"), forum.requests)
    return Database(db_path), runs


def test_whole_site_from_its_index_matches_the_forum(history):
    db, runs = history
    posts, requests = runs["v1"]
    assert posts == visible(V1)
    listing = {row["tid"]: row for row in db["articles"].rows}
    for thread in V1["threads"]:
        assert listing[thread["tid"]]["last_poster"] == thread["lastposter"] or thread["tid"] in CHANGES["changed_tids"]
    assert {row["fid"]: row["name"] for row in db["forums"].rows} == {f["fid"]: f["name"] for f in V1["forums"]}
    first = next(db.query("SELECT * FROM crawls ORDER BY id"))
    assert (first["new_articles"], first["new_comments"], first["outcome"]) == (30, 314, "finished")
    # robots.txt, index, the portal's probe (this forum has none: 404), 4 listing pages, 51 thread pages
    assert first["requests"] == len(requests) == 58
    # a forum without a portal is a fact about it, not an error of every run
    probe = db.execute("SELECT kind, status, error FROM pages WHERE url LIKE '%/portal.php'").fetchone()
    assert tuple(probe) == ("no_portal", 404, None)
    assert first["errors"] == 0


def test_incremental_recrawl_fetches_only_what_changed(history):
    db, runs = history
    result, requests = runs["incremental"]
    # every new post of v2 is archived, in its thread at its floor
    new_pids = {pid for pids in CHANGES["new_pids_per_tid"].values() for pid in pids}
    new_pids |= {pid for thread in CHANGES["new_tids"] for pid in thread["pids"]}
    after = runs["after_incremental"]
    v2 = visible(V2)
    assert new_pids <= set(after)
    assert {pid: after[pid] for pid in new_pids} == {pid: v2[pid] for pid in new_pids}
    # threads whose listing did not change are not requested at all
    # (25 lost a reply: its count dropped, so it is read again from page 1)
    listing_changed = {1, 10, 16, 25, 26} | {thread["tid"] for thread in CHANGES["new_tids"]}
    assert thread_requests(requests) == listing_changed
    # the minimum: robots.txt, the index, one listing page per forum (each walk stops at its
    # first unchanged thread), and for each changed thread the pages from the one holding
    # its first new post: tid 1 pages 5-6, 16 pages 7-8, 26 page 4, 10 page 2, 32-34 page 1,
    # and 25 page 1; not the portal's probe (the first run found none; refresh=all asks again)
    assert len(requests) == 1 + 1 + 3 + (2 + 2 + 1 + 1 + 3 + 1), sorted(requests)
    assert "/portal.php" not in requests and "/portal.php" in runs["refresh"][1]
    crawl = list(db.query("SELECT * FROM crawls ORDER BY id"))[1]
    assert crawl["requests"] == len(requests) and crawl["outcome"] == "finished"
    assert crawl["requests_saved"] > 0
    assert "'archive/requests_saved'" in result.stderr


def test_refresh_keeps_history_flags_what_disappeared_and_removes_nothing(history):
    db, runs = history
    result, requests = runs["refresh"]
    # each edit's earlier text is in revisions; the row holds the newest
    for edit in CHANGES["edited_pids"]:
        old = [row["content_text"] for row in db.query("SELECT content_text FROM revisions WHERE pid = ?", [edit["pid"]])]
        assert [_squash(text) for text in old] == [_squash(edit["old_message"])]
        text, editor = db.execute(
            "SELECT content_text, edited_by FROM comments WHERE pid = :pid"
            " UNION ALL SELECT content_text, edited_by FROM articles WHERE pid = :pid",
            {"pid": edit["pid"]},
        ).fetchone()
        assert editor == edit["editor"]
        new_text = re.sub(r"\[/?\w+(?:=[^\]]*)?\]", "", re.sub(r"\[i=s\].*?\[/i\]", "", edit["new_message"]))
        assert _squash(text) == _squash(new_text)
    # the deleted thread and the deleted reply are flagged, not removed
    for thread in CHANGES["deleted_tids"]:
        row = db["articles"].get(("127.0.0.1:" + str(_port(db)), thread["tid"]))
        assert row["gone_since"] is not None
        kept = db.execute("SELECT count(*) FROM comments WHERE tid = ?", [thread["tid"]]).fetchone()[0]
        assert kept == len(thread["pids"]) - 1
    for post in CHANGES["deleted_pids"]:
        assert db.execute("SELECT gone_since FROM comments WHERE pid = ?", [post["pid"]]).fetchone()[0]
    # nothing removed: every post ever seen is still there; what the site still shows is v2
    assert set(stored(db)) == set(visible(V1)) | set(visible(V2))
    assert stored(db, only_present=True) == visible(V2)


def _squash(text: str) -> str:
    return re.sub(r"\s", "", text)


def _port(db: Database) -> int:
    return int(next(db["sites"].rows)["site"].rsplit(":", 1)[1])


def test_a_killed_crawl_loses_nothing_and_the_next_run_completes_it(tmp_path, scrapy_crawl):
    db_path = tmp_path / "archive.db"
    with serve("v1") as forum:
        index = forum.base_url + "forum.php"
        slow = {"DOWNLOAD_DELAY": 0.2, "CONCURRENT_REQUESTS": 1, "ARCHIVE_BATCH_SIZE": 1}
        command = scrapy_crawl.command(db_path, f"url={index}", settings=slow)
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            time.sleep(0.2)
            if db_path.exists() and _count(db_path, "comments") >= 60:
                break
        workers = _children(process.pid)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        assert workers and all(_gone(pid) for pid in workers)  # the archive worker goes with the crawl
        partial = _count(db_path, "comments")
        assert 60 <= partial < 314, f"the crawl was not killed part-way ({partial} comments)"
        assert Database(db_path).execute("PRAGMA integrity_check").fetchone()[0] == "ok"

        scrapy_crawl(db_path, f"url={index}")
    db = Database(db_path)
    assert stored(db) == visible(V1)
    assert db.execute("SELECT count(*), count(DISTINCT pid) FROM posts").fetchone() == (344, 344)
    assert [row["outcome"] for row in db.query("SELECT outcome FROM crawls ORDER BY id")] == ["interrupted", "finished"]


def _children(pid: int) -> list[int]:
    """The processes ``pid`` started (Linux): the archive's worker, multiprocessing's helper."""
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _gone(pid: int) -> bool:
    """The process ends within 10 seconds (a zombie has ended: it waits for init to reap it)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                return True
        except FileNotFoundError:
            return True
        time.sleep(0.1)
    return False


def _count(db_path: Path, table: str) -> int:
    db = Database(db_path)
    return db[table].count if table in db.table_names() else 0


def test_a_second_run_on_a_locked_archive_refuses(tmp_path, scrapy_crawl):
    db_path = tmp_path / "archive.db"
    lock = ArchiveLock(db_path)
    lock.acquire()
    try:
        with serve("v1") as forum:
            result = scrapy_crawl(db_path, f"url={forum.base_url}thread-1-1-1.html", check=False)
            assert forum.requests == []
    finally:
        lock.release()
    assert result.returncode != 0
    assert "is being written by another crawl" in result.stderr


def test_a_failed_run_exits_non_zero(tmp_path, scrapy_crawl):
    with serve("v1") as forum:
        dead = forum.base_url  # the port is free again once the server stops
    result = scrapy_crawl(tmp_path / "a.db", f"url={dead}thread-1-1-1.html", check=False, settings={"RETRY_TIMES": 0})
    assert result.returncode == 1
    db = Database(tmp_path / "a.db")
    assert [row["outcome"] for row in db["crawls"].rows] == ["failed"]
    assert next(db["pages"].rows)["kind"] == "network"
