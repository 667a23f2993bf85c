"""End to end: the real spider and pipeline crawl the sample forum (served on 127.0.0.1)
and the archive is compared with the forum's own database (TRUTH.json)."""

import json
import os
import re
import socket
from pathlib import Path

import pytest
from sqlite_utils import Database

from sample_forum import serve
from scraper.noise import looks_like_noise

ROOT = Path(__file__).parent.parent
TRUTH = json.loads((ROOT / "sample_forum/v1/TRUTH.json").read_text(encoding="utf-8"))
BOOKKEEPING = {"first_seen_at", "last_seen_at", "last_crawled_at", "fetched_at", "synced_at"}
# BBCode that renders as more than its text; posts using it are checked by other tests.
RICH = re.compile(r"\[(?:quote|hide|img|code|url|list|attach|media|flash)", re.I)


def seeds(base_url: str) -> list[str]:
    """Every thread of the forum (and two that do not exist), in both URL forms."""
    tids = [thread["tid"] for thread in TRUTH["threads"]] + TRUTH["deleted_tids"] + [9999]
    return [
        f"{base_url}thread-{tid}-1-1.html" if tid % 2 else f"{base_url}forum.php?mod=viewthread&tid={tid}"
        for tid in tids
    ]


def content_rows(db: Database) -> dict[str, list[dict]]:
    tables = ("articles", "comments", "users", "forums", "sites")
    return {
        table: [{k: v for k, v in row.items() if k not in BOOKKEEPING} for row in db[table].rows]
        for table in tables
    }


@pytest.fixture(scope="module")
def archive(tmp_path_factory, scrapy_crawl):
    db_path = tmp_path_factory.mktemp("crawl") / "archive.db"
    with serve("v1") as forum:
        url = "url=" + ",".join(seeds(forum.base_url))
        first = scrapy_crawl(db_path, url)
        before = content_rows(Database(db_path))
        scrapy_crawl(db_path, url, settings={"ARCHIVE_WORKER": 0})  # read and written in the crawl's process
        after = content_rows(Database(db_path))
    return Database(db_path), first, before, after


def test_the_first_command_crawls_the_sample_forum_and_prints_nothing_alarming(tmp_path, scrapy_crawl):
    """`scrapy crawl discuz`, no url, the project's own settings: the README's first command."""
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", 8080)) == 0:
            pytest.skip("port 8080 is taken: the sample forum would move (and rightly warn)")
    state = tmp_path / "state"  # where Scrapy's remote control would leave its port and token
    result = scrapy_crawl(tmp_path / "archive.db", fast=False, env=os.environ | {"PYTHONPATH": str(ROOT), "XDG_STATE_HOME": str(state)})
    assert not state.exists()  # it opens no port to run code on
    assert "No url given: crawling the bundled sample forum at http://127.0.0.1:8080/" in result.stderr
    assert "Warning" not in result.stderr and "WARNING" not in result.stderr, result.stderr[-3000:]
    assert Database(tmp_path / "archive.db")["articles"].count == len(TRUTH["threads"])


def visible_posts():
    for thread in TRUTH["threads"]:
        for post in thread["posts"]:
            if post["floor_displayed"] is not None:
                yield thread, post


def test_every_visible_post_is_archived_once_with_tid_floor_author_time(archive):
    db, *_ = archive
    stored = {row["pid"]: row for row in db.query("SELECT * FROM posts")}
    expected = {post["pid"]: (thread, post) for thread, post in visible_posts()}
    assert len(expected) == 344
    assert set(stored) == set(expected)
    count = db.execute("SELECT count(*), count(DISTINCT pid) FROM posts").fetchone()
    assert count == (344, 344)
    for pid, (thread, post) in expected.items():
        row = stored[pid]
        assert (row["tid"], row["floor"], row["author"], row["author_uid"]) == (
            thread["tid"], post["floor_displayed"], post["author"], post["authorid"],
        ), pid
        assert row["posted_at"] == post["dateline_iso"], pid
        assert row["is_article"] == post["first"]


def test_articles_and_threads_match_the_forum(archive):
    db, *_ = archive
    articles = {row["tid"]: row for row in db["articles"].rows}
    assert set(articles) == {thread["tid"] for thread in TRUTH["threads"]}
    for thread in TRUTH["threads"]:
        article = articles[thread["tid"]]
        assert article["title"] == thread["subject"]
        assert article["fid"] == thread["fid"]
        assert article["replies"] == thread["replies"]
        assert thread["views_before_snapshot"] <= article["views"] <= thread["views_after_snapshot"]
        assert article["page_count"] == max(1, -(-len([p for p in thread["posts"] if p["floor_displayed"]]) // 10))
    forums = {row["fid"]: row["name"] for row in db["forums"].rows}
    assert forums == {forum["fid"]: forum["name"] for forum in TRUTH["forums"]}


def test_no_noise_reaches_the_archive(archive):
    db, *_ = archive
    for row in db.query("SELECT pid, content_text, content_html FROM posts JOIN (SELECT site AS s, pid AS p, content_html FROM comments UNION ALL SELECT site, pid, content_html FROM articles) ON s = site AND p = pid"):
        assert not looks_like_noise(row["content_text"]), row
        assert "jammer" not in row["content_html"] and "display:none" not in row["content_html"]


def test_plain_posts_keep_exactly_their_text(archive):
    """Posts of plain text and simple formatting: the stored text is the author's, to the character."""
    db, *_ = archive
    stored = {row["pid"]: row for row in db.query("SELECT pid, content_text, flags FROM posts")}
    checked = 0
    for thread, post in visible_posts():
        if RICH.search(post["message"]) or post["guest_sees_masked"]:
            continue
        message = re.sub(r"\[i=s\].*?\[/i\]", "", post["message"], flags=re.S)
        message = re.sub(r"\[/?\w+(?:=[^\]]*)?\]", "", message)
        assert re.sub(r"\s", "", stored[post["pid"]]["content_text"]) == re.sub(r"\s", "", message), post["pid"]
        checked += 1
    assert checked > 250


def test_flags_for_masked_blocked_and_hidden_posts(archive):
    db, *_ = archive
    flags = {row["pid"]: json.loads(row["flags"]) for row in db.query("SELECT pid, flags FROM posts")}
    for thread, post in visible_posts():
        if post["guest_sees_masked"] == "banned_author":
            assert "masked" in flags[post["pid"]], post["pid"]
        elif post["guest_sees_masked"] == "post_blocked":
            assert "blocked" in flags[post["pid"]], post["pid"]
        elif post["has_hide"]:
            assert "hidden" in flags[post["pid"]], post["pid"]
        else:
            assert flags[post["pid"]] == [], post["pid"]


def test_quotes_point_at_the_quoted_post(archive):
    db, *_ = archive
    quoting = db.execute("SELECT pid, quote_pid, quote_author FROM comments WHERE quote_pid IS NOT NULL").fetchall()
    truth = {}
    for thread, post in visible_posts():
        if match := re.search(r"findpost&pid=(\d+)&ptid=\d+\]\[color=#999999\](.+?) 发表于", post["message"]):
            truth[post["pid"]] = (int(match[1]), match[2])
    assert {pid: (quote_pid, author) for pid, quote_pid, author in quoting} == truth


def test_missing_threads_are_recorded_with_their_error(archive):
    db, first, *_ = archive
    errors = {row["url"].rsplit("/", 1)[-1]: row for row in db.query("SELECT * FROM pages WHERE error IS NOT NULL")}
    assert set(errors) == {"thread-7-1-1.html", "thread-9999-1-1.html"}
    for row in errors.values():
        assert row["status"] == 404 and row["kind"] == "missing"
        assert "抱歉，指定的主题不存在或已被删除或正在被审核" in row["error"]
    assert "'archive/errors': 2" in first.stderr


def test_a_second_crawl_changes_no_row(archive):
    """The second crawl reads and writes in its own process (ARCHIVE_WORKER=0), the first in
    the archive's worker process: the same rows either way."""
    _, _, before, after = archive
    assert before == after
    assert len(before["comments"]) == 314 and len(before["articles"]) == 30


def test_the_mobile_api_fills_the_archive_as_the_pages_do(archive, tmp_path, scrapy_crawl):
    """source=api reads Discuz's mobile API (JSON) instead of the pages: the same posts, floors,
    authors, times and flags, no noise. (Discuz's robots.txt disallows /api/: the user decides.)"""
    pages_db, *_ = archive
    db_path = tmp_path / "api.db"
    with serve("v1") as forum:
        urls = [f"{forum.base_url}thread-{tid}-1-1.html" for tid in (14, 20, 27)]
        scrapy_crawl(db_path, "url=" + ",".join(urls), "source=api", settings={"ROBOTSTXT_OBEY": False})
        assert all("api/mobile/index.php" in path for path in forum.requests)
    columns = "tid, pid, floor, author, author_uid, posted_at, flags"
    sql = f"SELECT {columns} FROM posts WHERE tid IN (14, 20, 27) AND floor <= 10 ORDER BY tid, floor"
    api = list(Database(db_path).query(sql))
    assert len(api) == 3 + 10 + 7
    assert api == list(pages_db.query(sql))
    for row in Database(db_path).query("SELECT content_text FROM posts"):
        assert not looks_like_noise(row["content_text"])
    urls = [row["url"] for row in Database(db_path)["articles"].rows]
    assert all("forum.php?mod=viewthread" in url for url in urls)  # the thread's page, not the API's
