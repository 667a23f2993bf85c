"""The counts per month, forum and author that triggers keep (pipelines/summary.py): after
inserts, updates and deletes by plain SQL, each table holds what counting the posts gives."""

import sqlite3

import pytest
from sqlite_utils import Database

from pipelines.store import open_archive
from pipelines.summary import FILL, TABLES

SITE = "bbs.example.com"


def counted(db, table):
    return sorted(db.execute(f"SELECT * FROM {table}").fetchall())


def recounted(db, table):
    return sorted(row for row in db.execute(FILL[table]).fetchall() if any(row[TABLES_COUNTS[table]]))


TABLES_COUNTS = {  # where each table's counts are in its rows: a row of zeros is not kept
    "month_counts": slice(2, 4), "month_authors": slice(3, 4), "author_counts": slice(3, 5), "forum_counts": slice(2, 4),
    "facet_counts": slice(3, 4),
}


def assert_counts_right(db):
    for table in TABLES:
        assert counted(db, table) == recounted(db, table), table


@pytest.fixture
def db(tmp_path):
    database = open_archive(tmp_path / "archive.db")
    database["articles"].insert_all([
        {"site": SITE, "tid": 1, "fid": 2, "pid": 10, "author": "甲", "author_uid": 1, "posted_at": "2013-02-18T22:17:00+08:00"},
        {"site": SITE, "tid": 2, "fid": 2, "pid": 20, "author": "乙", "author_uid": 2, "posted_at": "2024-03-01T09:00:00+08:00"},
        {"site": SITE, "tid": 3, "fid": 5, "pid": None, "title": "只在列表里见过"},
    ])  # fmt: skip
    database["comments"].insert_all([
        {"site": SITE, "pid": 11, "tid": 1, "floor": 2, "author": "乙", "author_uid": 2, "posted_at": "2013-02-19T08:00:00+08:00"},
        {"site": SITE, "pid": 12, "tid": 1, "floor": 3, "author": "甲", "author_uid": 1, "posted_at": "2024-03-31T23:59:00+08:00"},
        {"site": SITE, "pid": 21, "tid": 2, "floor": 2, "author": "丙", "author_uid": None, "posted_at": None},
        {"site": SITE, "pid": 31, "tid": 3, "floor": 2, "author": "甲", "author_uid": 1, "posted_at": "2024-04-01T00:00:00+08:00"},
    ])  # fmt: skip
    return database


def test_counts_after_inserts(db):
    assert_counts_right(db)
    assert counted(db, "forum_counts") == [(SITE, 2, 2, 5), (SITE, 5, 1, 1)]
    assert counted(db, "author_counts") == [(SITE, 1, "甲", 3, 1), (SITE, 2, "乙", 2, 1)]
    assert {row[1:] for row in counted(db, "month_counts")} == {("", 1, 0, 0), ("2013-02", 2, 1, 2), ("2024-03", 2, 1, 2), ("2024-04", 1, 0, 1)}
    # the facets of the comments page: each author and year, as datasette would group them
    assert [row[1:] for row in counted(db, "facet_counts") if row[0] == "comments"] == [
        ("author", "丙", 1), ("author", "乙", 1), ("author", "甲", 2), ("year", 2013, 1), ("year", 2024, 2)]


def test_counts_follow_updates_and_deletes_by_another_program(db, tmp_path):
    other = sqlite3.connect(tmp_path / "archive.db")
    with other:
        other.execute("UPDATE articles SET pid = 30, author_uid = 3, author = '丁', posted_at = '2024-04-02T00:00:00+08:00' WHERE tid = 3")
        other.execute("UPDATE articles SET fid = 5 WHERE tid = 1")  # the thread moves, its comments with it
        other.execute("UPDATE comments SET posted_at = '2025-01-01T00:00:00+08:00', author_uid = 3 WHERE pid = 21")
        other.execute("UPDATE comments SET last_seen_at = 'now' WHERE pid = 11")  # counts nothing
        other.execute("DELETE FROM comments WHERE pid = 12")
        other.execute("DELETE FROM articles WHERE tid = 2")
        other.execute("INSERT INTO comments (site, pid, tid, floor, author_uid, posted_at) VALUES (?, 41, 9, 2, 4, '2026-01-01')", [SITE])
    other.close()
    db = Database(tmp_path / "archive.db")
    assert_counts_right(db)
    assert (SITE, 2) not in {row[:2] for row in counted(db, "author_counts") if row[3] == 0}  # no zero rows
    assert counted(db, "forum_counts") == [(SITE, 5, 2, 4)]  # tid 2 is gone, tid 9 has no article: no forum


def test_an_archive_made_before_gets_its_counts_when_opened(db, tmp_path):
    for table in TABLES:
        db.execute(f"DROP TABLE {table}")
    db.close()
    assert_counts_right(open_archive(tmp_path / "archive.db"))
