"""The SQLite archive: rows, upserts, the posts view and the Scrapy pipeline shell."""

import asyncio
import json
from collections import Counter

import pytest
from scrapy.utils.test import get_crawler
from sqlite_utils import Database

from pipelines.archive import ArchivePipeline
from pipelines.schema import create_schema
from pipelines.store import open_archive, save_in_one_transaction
from scraper.models import FetchedPage, ForumPage, ForumWalked, Post, ThreadPage, ThreadRow, ThreadSynced

SITE = "127.0.0.1:8080"
BOOKKEEPING = {"last_crawled_at", "last_seen_at", "fetched_at"}


def post(pid, floor, author="见习秘书", uid=2, text="", **extra):
    return Post(
        pid=pid,
        floor=floor,
        author=author,
        author_uid=uid,
        posted_at=f"2024-03-01T09:{pid % 60:02d}:00+08:00",
        content_html=f"<p>{text}</p>",
        content_text=text,
        **extra,
    )


ARTICLE = post(
    101,
    1,
    text="刚调任办公室主任，千头万绪，请各位前辈指点：如何当好办公室主任？",
    images=["http://127.0.0.1:8080/data/attachment/forum/202403/01/desk.jpg"],
    attachments=["http://127.0.0.1:8080/forum.php?mod=attachment&aid=MTIzfA"],
    edited_by="见习秘书",
    edited_at="2024-03-02T10:00:00+08:00",
    hidden=True,
)
PAGE_1_REPLIES = [
    post(102, 2, "老主任", 7, "首先要摆正位置，参谋不决策，到位不越位。"),
    post(103, 3, "笔杆子", 9, "> 首先要摆正位置\n补充一点：文稿要过三遍。", quote_pid=102, quote_author="老主任"),
]
PAGE_2_REPLIES = [
    post(104, 4, "老主任", 7, "还有协调，要会上下沟通。"),
    post(105, 5, "游客甲", 11, "学习了，收藏。", masked=True),
]


def thread(page, posts, **extra):
    first = page == 1
    fields = {
        "url": f"http://{SITE}/thread-1-{page}-1.html",
        "site": SITE,
        "tid": 1,
        "page": page,
        "page_count": 2,
        "title": "如何当好办公室主任",
        "fid": 2,
        "forum_name": "秘书之家",
        "views": 1234 if first else None,
        "replies": 4 if first else None,
        "generator": "Discuz! X3.5",
        "posts": posts,
    }
    return ThreadPage(**fields | extra)


def fetched(thread_page=None, url=None, at="2024-03-10T08:00:00+00:00", **extra):
    fields = {
        "url": url or thread_page.url,
        "site": SITE,
        "kind": "thread" if thread_page else "error",
        "status": 200,
        "fetched_at": at,
        "size": 48213,
        "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "charset": "gbk",
        "thread": thread_page,
    }
    return FetchedPage(**fields | extra)


PAGE_1 = fetched(thread(1, [ARTICLE, *PAGE_1_REPLIES]))
PAGE_2 = fetched(thread(2, PAGE_2_REPLIES))


@pytest.fixture
def db():
    database = Database(memory=True)
    create_schema(database)
    return database


def rows(db, table, ignore=BOOKKEEPING):
    return [
        {key: value for key, value in row.items() if key not in ignore}
        for row in db[table].rows_where(order_by="rowid")
    ]


def all_rows(db, ignore=BOOKKEEPING):
    return {table: rows(db, table, ignore) for table in db.table_names()}


def test_page_one_creates_every_row(db):
    counts = save_in_one_transaction(db, [PAGE_1])

    assert counts == {"archive/pages": 1, "archive/articles": 1, "archive/comments": 2}
    article = db["articles"].get((SITE, 1))
    assert article["title"] == "如何当好办公室主任"
    assert article["pid"] == 101
    assert article["author"] == "见习秘书"
    assert article["author_uid"] == 2
    assert article["forum_name"] == "秘书之家"
    assert (article["views"], article["replies"], article["page_count"]) == (1234, 4, 2)
    assert article["url"] == PAGE_1.url
    assert article["first_seen_at"] == "2024-03-10T08:00:00+00:00"
    assert [c["pid"] for c in db["comments"].rows_where(order_by="floor")] == [102, 103]
    assert db["comments"].get((SITE, 103))["quote_author"] == "老主任"
    assert {(u["uid"], u["username"]) for u in db["users"].rows} == {
        (2, "见习秘书"),
        (7, "老主任"),
        (9, "笔杆子"),
    }
    assert [{k: v for k, v in row.items() if v is not None} for row in db["forums"].rows] == [
        {"site": SITE, "fid": 2, "name": "秘书之家", "first_seen_at": "2024-03-10T08:00:00+00:00"}
    ]
    assert db["sites"].get(SITE)["generator"] == "Discuz! X3.5"
    page_row = db["pages"].get(PAGE_1.url)
    assert (page_row["tid"], page_row["page"], page_row["bytes"], page_row["error"]) == (1, 1, 48213, None)


def test_later_page_adds_comments_and_keeps_the_article(db):
    save_in_one_transaction(db, [PAGE_1])
    article_before = db["articles"].get((SITE, 1))

    counts = save_in_one_transaction(db, [fetched(thread(2, PAGE_2_REPLIES), at="2024-03-10T08:00:05+00:00")])

    assert counts == {"archive/pages": 1, "archive/comments": 2}
    article = db["articles"].get((SITE, 1))
    unchanged = {key: value for key, value in article.items() if key != "last_crawled_at"}
    assert unchanged == {key: value for key, value in article_before.items() if key != "last_crawled_at"}
    assert article["last_crawled_at"] == "2024-03-10T08:00:05+00:00"
    assert db["comments"].count == 4
    assert db["users"].get((SITE, 11))["username"] == "游客甲"


def test_page_two_first_creates_a_thread_row_that_page_one_completes(db):
    save_in_one_transaction(db, [PAGE_2])
    article = db["articles"].get((SITE, 1))
    assert (article["title"], article["pid"], article["views"]) == ("如何当好办公室主任", None, None)
    assert article["url"] == PAGE_2.url

    counts = save_in_one_transaction(db, [PAGE_1])

    assert "archive/articles" not in counts
    article = db["articles"].get((SITE, 1))
    assert (article["pid"], article["views"], article["url"]) == (101, 1234, PAGE_1.url)


def test_page_count_follows_page_one_and_otherwise_only_grows(db):
    save_in_one_transaction(db, [fetched(thread(2, PAGE_2_REPLIES, page_count=3))])
    assert db["articles"].get((SITE, 1))["page_count"] == 3
    save_in_one_transaction(db, [fetched(thread(2, PAGE_2_REPLIES, page_count=2))])
    assert db["articles"].get((SITE, 1))["page_count"] == 3
    save_in_one_transaction(db, [PAGE_1])  # page 1 says 2 pages now: a post was deleted
    assert db["articles"].get((SITE, 1))["page_count"] == 2


@pytest.mark.parametrize("listing_first", [True, False])
def test_the_larger_view_count_stays_whichever_was_written_last(db, listing_first):
    # The sample forum's v2 lists thread 24 with 147 views and its own page shows 149: which
    # is written last depends on the crawl's timing, the archive must not.
    row = ThreadRow(tid=1, title="如何当好办公室主任", url=f"http://{SITE}/thread-1-1-1.html", replies=4, views=1236)
    listing = fetched(url=f"http://{SITE}/forum-2-1.html", kind="forum",
                      forum=ForumPage(url=f"http://{SITE}/forum-2-1.html", site=SITE, fid=2, page=1, page_count=1, threads=[row]))
    pages = [listing, PAGE_1] if listing_first else [PAGE_1, listing]
    save_in_one_transaction(db, pages)
    assert db.execute("SELECT views FROM articles WHERE tid = 1").fetchone()[0] == 1236
    save_in_one_transaction(db, [fetched(thread(1, [ARTICLE], views=1240))])
    assert db.execute("SELECT views FROM articles WHERE tid = 1").fetchone()[0] == 1240


def test_same_page_twice_leaves_the_same_rows(db):
    save_in_one_transaction(db, [PAGE_1, PAGE_2])
    before = all_rows(db)

    later = "2024-03-11T08:00:00+00:00"
    counts = save_in_one_transaction(db, [fetched(PAGE_1.thread, at=later), fetched(PAGE_2.thread, at=later)])

    assert counts == {"archive/pages": 2}
    assert all_rows(db) == before  # first_seen_at included: it is never changed
    assert db["articles"].get((SITE, 1))["last_crawled_at"] == later
    assert db["comments"].get((SITE, 105))["last_seen_at"] == later


def test_a_batch_writes_what_its_items_written_one_by_one_write():
    """In one transaction the site, forum and author rows each page repeats are written once
    and a page's comments together: the archive holds the same as with one item a transaction."""
    later = "2024-03-10T09:00:00+00:00"
    items = [
        PAGE_1,
        fetched(thread(2, PAGE_2_REPLIES), at="2024-03-10T08:00:01+00:00"),
        ForumWalked(SITE, 2, "2024-03-10T07:59:00+00:00", "2024-03-10T08:00:02+00:00"),
        # later: an edited reply, a renamed author and forum, a new reply twice on one page
        fetched(thread(1, [ARTICLE, post(102, 2, "老主任二", 7, "改过了。"), PAGE_1_REPLIES[1]], forum_name="秘书之家二"), at=later),
        fetched(thread(2, [*PAGE_2_REPLIES, post(106, 6, text="新"), post(106, 6, text="又改了")]), at=later),
        ThreadSynced(SITE, 1, 5, None, later, complete=True, pids=[101, 102, 103, 104, 105, 106]),
        fetched(thread(2, PAGE_2_REPLIES), at="2024-03-10T09:00:01+00:00"),
    ]
    one_by_one, batch = Database(memory=True), Database(memory=True)
    create_schema(one_by_one)
    create_schema(batch)
    counts = sum((save_in_one_transaction(one_by_one, [item]) for item in items), Counter())

    assert save_in_one_transaction(batch, items) == counts
    assert counts["archive/updated_posts"] == 2
    assert batch["comments"].get((SITE, 106))["content_text"] == "又改了"  # the later on the page
    assert all_rows(batch, ignore=()) == all_rows(one_by_one, ignore=())


def test_page_past_the_end_repeating_the_last_page_changes_nothing(db):
    save_in_one_transaction(db, [PAGE_1, PAGE_2])
    before = all_rows(db)

    past_end = fetched(thread(3, PAGE_2_REPLIES, url=f"http://{SITE}/thread-1-3-1.html"))
    counts = save_in_one_transaction(db, [past_end])

    assert counts == {"archive/pages": 1}
    after = all_rows(db)
    assert [row["url"] for row in after.pop("pages")] == [PAGE_1.url, PAGE_2.url, past_end.url]
    before.pop("pages")
    assert after == before


def test_the_article_never_becomes_a_comment(db):
    save_in_one_transaction(db, [PAGE_1])
    # A repeat of page 1 whose first floor the parser could not number.
    unnumbered = post(101, None, text=ARTICLE.content_text)
    save_in_one_transaction(db, [fetched(thread(1, [unnumbered, *PAGE_1_REPLIES]), url=f"http://{SITE}/thread-1-9-1.html")])

    assert [c["pid"] for c in db["comments"].rows] == [102, 103]


def test_failed_fetch_keeps_its_error_until_a_success(db):
    url = f"http://{SITE}/thread-1-1-1.html"
    failed = fetched(url=url, error="HTTP 502 Bad Gateway", status=502)

    assert save_in_one_transaction(db, [failed]) == {"archive/pages": 1, "archive/errors": 1}
    row = db["pages"].get(url)
    assert (row["kind"], row["status"], row["error"], row["tid"]) == ("error", 502, "HTTP 502 Bad Gateway", None)
    assert db["sites"].get(SITE)["generator"] is None
    assert db["articles"].count == 0

    save_in_one_transaction(db, [PAGE_1])
    row = db["pages"].get(url)
    assert (row["kind"], row["status"], row["error"], row["tid"]) == ("thread", 200, None, 1)


def test_posts_view_lists_article_then_comments_in_floor_order(db):
    save_in_one_transaction(db, [PAGE_2, PAGE_1])

    posts = list(db.query("select * from posts"))

    assert [(p["pid"], p["floor"], p["is_article"]) for p in posts] == [
        (101, 1, 1),
        (102, 2, 0),
        (103, 3, 0),
        (104, 4, 0),
        (105, 5, 0),
    ]
    assert {p["title"] for p in posts} == {"如何当好办公室主任"}
    assert list(posts[0]) == [
        "site", "tid", "pid", "floor", "is_article", "author", "author_uid",
        "posted_at", "content_text", "flags", "title",
    ]  # fmt: skip


def test_lists_round_trip_as_json(db):
    save_in_one_transaction(db, [PAGE_1, PAGE_2])

    article = db["articles"].get((SITE, 1))
    assert json.loads(article["flags"]) == ["hidden"]
    assert json.loads(article["images"]) == ARTICLE.images
    assert json.loads(article["attachments"]) == ARTICLE.attachments
    comment = db["comments"].get((SITE, 105))
    assert (json.loads(comment["flags"]), json.loads(comment["images"])) == (["masked"], [])


def test_schema_is_idempotent_and_links_every_table_to_sites(db):
    create_schema(db)  # the fixture already ran it once

    assert set(db.table_names()) == {
        "sites", "forums", "users", "articles", "comments", "pages", "revisions", "crawls", "raw_pages",
        "post_comments", "ratings", "polls", "poll_options", "thread_tags", "attachments",
        "portal_articles", "portal_article_pages", "portal_comments", "media", "post_images", "portal_images",
    }
    assert db.view_names() == ["posts"]
    for table in db.tables:
        if table.name not in ("sites", "crawls", "media"):  # a file is one whatever sites show it
            assert [(fk.column, fk.other_table, fk.other_column) for fk in table.foreign_keys] == [
                ("site", "sites", "site")
            ]
    indexed = {(t.name, tuple(i.columns)) for t in db.tables for i in t.indexes}
    assert {
        ("comments", ("site", "tid", "floor")),
        ("comments", ("site", "author_uid")),
        ("articles", ("site", "fid")),
        ("pages", ("site", "tid")),
    } <= indexed


def test_open_archive_uses_wal(tmp_path):
    db = open_archive(tmp_path / "a.db")
    assert db.journal_mode == "wal"
    assert db.execute("PRAGMA busy_timeout").fetchone()[0] > 0


def test_pipeline_without_scrapy_batches_and_passes_other_items_through(db):
    pipeline = ArchivePipeline(db, batch_size=2)
    pipeline.open_spider()

    assert pipeline.process_item({"not": "a page"}) == {"not": "a page"}
    assert pipeline.process_item(PAGE_1) is PAGE_1
    assert db["pages"].count == 0  # still buffered
    pipeline.process_item(PAGE_2)
    assert db["pages"].count == 2  # the batch is full: written
    pipeline.process_item(fetched(url=f"http://{SITE}/forum-2-1.html", error="timeout"))
    pipeline.close_spider()

    assert db["pages"].count == 3


@pytest.mark.parametrize("worker", [True, False], ids=["in the archive worker", "in the crawl's process"])
def test_scrapy_pipeline_writes_the_file_and_counts_stats(tmp_path, worker):
    path = tmp_path / "a.db"
    crawler = get_crawler(settings_dict={"ARCHIVE_DB": str(path), "ARCHIVE_WORKER": worker})
    pipeline = ArchivePipeline.from_crawler(crawler)

    async def crawl():  # the worker talks to its process through the crawl's event loop
        pipeline.open_spider()
        for item in (PAGE_1, PAGE_2, fetched(url=f"http://{SITE}/thread-9-1-1.html", error="HTTP 404")):
            assert pipeline.process_item(item) is item
        pipeline.close_spider()

    asyncio.run(crawl())

    db = Database(path)
    assert (db["articles"].count, db["comments"].count, db["pages"].count) == (1, 4, 3)
    stats = crawler.stats.get_stats()
    assert {key: value for key, value in stats.items() if key.startswith("archive/")} == {
        "archive/pages": 3,
        "archive/articles": 1,
        "archive/comments": 4,
        "archive/errors": 1,
    }


def test_a_locked_archive_is_retried_then_fails_clearly_keeping_the_items(tmp_path):
    """Another program holding a write lock: the batch waits, retries, and is never lost."""
    import sqlite3
    import threading

    from pipelines.lock import ArchiveLocked

    path = tmp_path / "a.db"
    pipeline = ArchivePipeline(path, batch_size=10, busy_timeout=0.2, write_attempts=2)
    pipeline.open_spider()
    other = sqlite3.connect(path, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # holds the write lock
    pipeline.process_item(PAGE_1)
    with pytest.raises(ArchiveLocked, match="stayed locked by another program"):
        pipeline.flush()
    assert pipeline.buffer == [PAGE_1]

    threading.Timer(0.1, other.rollback).start()  # the other program lets go while we wait
    pipeline.busy_timeout = 5
    pipeline.db.execute("PRAGMA busy_timeout = 5000")
    pipeline.flush()
    assert pipeline.buffer == [] and pipeline.db["articles"].count == 1
    pipeline.close_spider()
    other.close()


def test_refresh_recent_compares_instants_not_strings(tmp_path):
    # last_post_at is in the forum's offset, the cutoff in UTC: as strings, 07:30+08:00 on the
    # 10th sorts after midnight UTC on the 10th, though it is 23:30 UTC on the 9th.
    from datetime import datetime, timezone

    from pipelines.state import ArchiveState

    db = open_archive(tmp_path / "archive.db")
    db["sites"].insert({"site": SITE})
    for tid, last in ((1, "2024-03-10T07:30:00+08:00"), (2, "2024-03-10T08:30:00+08:00")):
        db["articles"].insert({"site": SITE, "tid": tid, "title": "t", "last_post_at": last})
    db.close()
    state = ArchiveState(tmp_path / "archive.db")
    now = datetime(2024, 3, 11, tzinfo=timezone.utc)
    assert [t.tid for t in state.refresh_candidates(SITE, "recent:1", now)] == [2]


def test_a_guide_list_files_each_thread_under_its_own_forum(db):
    """A guide list (mod=guide) is no forum's: its rows name their forums, and those are kept."""
    url = f"http://{SITE}/forum.php?mod=guide&view=new"
    rows = [ThreadRow(tid=1, title="如何当好办公室主任", url=f"http://{SITE}/thread-1-1-1.html", fid=2, forum_name="公文写作"),
            ThreadRow(tid=7, title="周末", url=f"http://{SITE}/thread-7-1-1.html", fid=3, forum_name="闲聊")]
    guide = ForumPage(url=url, site=SITE, fid=None, page=1, page_count=1, threads=rows)
    save_in_one_transaction(db, [fetched(url=url, kind="forum", forum=guide)])
    assert db.execute("SELECT tid, fid, forum_name FROM articles ORDER BY tid").fetchall() == [(1, 2, "公文写作"), (7, 3, "闲聊")]
    assert db.execute("SELECT fid, name FROM forums ORDER BY fid").fetchall() == [(2, "公文写作"), (3, "闲聊")]
