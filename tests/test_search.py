"""Chinese full-text search (FTS5 trigram) and the year columns that open_archive() adds,
and the canned `search` query of metadata.yml run straight against SQLite."""

import sqlite3
from pathlib import Path

import pytest
import yaml
from sqlite_utils import Database

from pipelines.query import enable_queries
from pipelines.schema import create_schema
from pipelines.store import open_archive

ROOT = Path(__file__).parent.parent
QUERIES = yaml.safe_load((ROOT / "metadata.yml").read_text(encoding="utf-8"))["databases"]["archive"]["queries"]
SITE = "bbs.example.com"
ARTICLES = [
    {"tid": 1, "pid": 10, "title": "如何当好办公室主任", "content_text": "请各位前辈指点。", "posted_at": "2013-02-18T22:17:00+08:00"},
    {"tid": 2, "pid": 20, "title": "公文写作中常见的十个错误", "content_text": "100% 的人都犯过 a_b 这种错", "posted_at": "2024-03-01T09:00:00+08:00"},
    {"tid": 3, "pid": None, "title": "只在列表里见过的主任帖", "content_text": None, "posted_at": None},
]
COMMENTS = [
    {"pid": 11, "tid": 1, "floor": 2, "content_text": "首先要摆正位置，参谋不决策。", "posted_at": "2013-02-19T08:00:00+08:00"},
    {"pid": 12, "tid": 1, "floor": 3, "content_text": "当好办公室主任，文稿要过三遍。", "posted_at": "2024-12-31T23:59:00+08:00"},
    {"pid": 21, "tid": 2, "floor": 2, "content_text": 'He said "主任" twice: 主任。', "posted_at": "2025-01-01T00:00:00+08:00"},
]


@pytest.fixture
def db():
    database = open_archive(Database(memory=True))
    database["articles"].insert_all([row | {"site": SITE} for row in ARTICLES])
    database["comments"].insert_all([row | {"site": SITE} for row in COMMENTS])
    return database


def matches(db, table, words):
    return sorted(row[0] for row in db.execute(
        f"SELECT pid FROM {table} WHERE rowid IN (SELECT rowid FROM {table}_fts WHERE {table}_fts MATCH ?)",
        [f'"{words}"'],
    ))  # fmt: skip


def canned_search(db, q, site=""):
    return [(row["tid"], row["pid"]) for row in db.query(QUERIES["search"]["sql"], {"q": q, "site": site})]


def schema(db):
    return sorted(db.execute("SELECT type, name, sql FROM sqlite_master").fetchall(), key=str)


def test_this_sqlite_has_the_trigram_tokenizer():
    assert sqlite3.sqlite_version_info >= (3, 34), "FTS5 trigram needs SQLite 3.34 or later"
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE t USING fts5(x, tokenize='trigram')")


def test_three_or_more_characters_match_anywhere_in_titles_and_text(db):
    assert matches(db, "articles", "办公室主任") == [10]
    assert matches(db, "comments", "办公室主任") == [12]
    assert matches(db, "comments", "参谋不决策") == [11]
    assert matches(db, "articles", "十个错") == [20]  # inside a word: no segmentation needed


def test_one_or_two_characters_are_beyond_trigram_and_the_canned_query_covers_them(db):
    assert matches(db, "comments", "主任") == []
    assert canned_search(db, "主任") == [(2, 21), (1, 12), (1, 10)]  # newest first
    assert canned_search(db, "错") == [(2, 20)]


def test_canned_search_uses_the_index_for_three_characters_and_matches_like_exactly(db):
    assert canned_search(db, "办公室主任") == [(1, 12), (1, 10)]
    assert canned_search(db, " 办公室主任 ") == [(1, 12), (1, 10)]
    assert canned_search(db, "") == []
    assert canned_search(db, "办公室主任", site="other.example.com") == []


def test_canned_search_takes_like_and_fts_syntax_literally(db):
    assert canned_search(db, "%") == [(2, 20)]  # a LIKE wildcard is searched as itself
    assert canned_search(db, "_") == [(2, 20)]
    assert canned_search(db, "a_b") == [(2, 20)]
    assert canned_search(db, '"主任"') == [(2, 21)]  # FTS5 quotes are searched as themselves
    assert canned_search(db, "主任 OR 错误") == []


def test_the_index_follows_inserts_updates_and_deletes(db):
    comments = db["comments"]
    comments.upsert({"site": SITE, "pid": 11, "content_text": "改成了谈协调的办法。"}, pk=("site", "pid"))
    comments.insert({"site": SITE, "pid": 13, "tid": 1, "floor": 4, "content_text": "协调的办法很多"})
    assert matches(db, "comments", "参谋不决策") == []
    assert matches(db, "comments", "协调的办法") == [11, 13]
    comments.delete((SITE, 13))
    assert matches(db, "comments", "协调的办法") == [11]
    assert_index_matches_table(db, "comments")


def assert_index_matches_table(db, table):
    """FTS5's integrity-check with rank 1 also compares the index with the table's rows."""
    db.execute(f"INSERT INTO {table}_fts({table}_fts, rank) VALUES ('integrity-check', 1)")


def test_an_update_reindexes_a_row_only_when_its_indexed_text_changed(db):
    changes = db.conn.total_changes
    db.execute("UPDATE comments SET last_seen_at = '2026-11-27T00:00:00+00:00' WHERE pid = 11")
    assert db.conn.total_changes - changes == 1  # the row alone: its index entries stay
    changes = db.conn.total_changes
    db.execute("UPDATE comments SET content_text = '先当好参谋' WHERE pid = 11")
    assert db.conn.total_changes - changes > 1  # the row, and its index entries out and in
    db.execute("UPDATE articles SET title = '如何当好秘书长', views = 9 WHERE tid = 1")
    assert matches(db, "comments", "摆正位置") == [] and matches(db, "comments", "当好参谋") == [11]
    assert matches(db, "articles", "秘书长") == [10] and matches(db, "articles", "办公室主任") == []
    assert_index_matches_table(db, "comments")
    assert_index_matches_table(db, "articles")


def test_enabling_again_changes_nothing(db):
    before = schema(db)
    enable_queries(db)
    open_archive(db)
    assert schema(db) == before
    assert_index_matches_table(db, "comments")
    assert db["comments_fts_docsize"].count == len(COMMENTS)  # indexed once, not once per open


def test_an_archive_from_before_search_is_indexed_when_opened():
    db = Database(memory=True)
    create_schema(db)
    db["comments"].insert_all([row | {"site": SITE} for row in COMMENTS])
    open_archive(db)
    assert matches(db, "comments", "参谋不决策") == [11]


def test_an_index_with_another_definition_is_rebuilt(db):
    db["comments"].disable_fts()
    db["comments"].enable_fts(["content_text"], create_triggers=True)
    assert matches(db, "comments", "摆正位置") == []  # unicode61: a run of Chinese is one token
    enable_queries(db)
    assert "trigram" in db["comments_fts"].schema
    assert matches(db, "comments", "摆正位置") == [11]


def test_year_is_the_local_year_of_posted_at(db):
    years = dict(db.execute("SELECT pid, year FROM comments").fetchall())
    assert years == {11: 2013, 12: 2024, 21: 2025}  # 2024-12-31T23:59+08:00 stays in 2024
    assert db.execute("SELECT year FROM articles WHERE tid = 3").fetchone() == (None,)
    assert "year" not in db["articles"].columns_dict  # generated: nothing writes it
