"""Chinese full-text search of any length (FTS5, one word per Chinese character) and the year
columns that open_archive() adds, and the canned `search` query of metadata.yml run straight
against SQLite."""

import sqlite3
from pathlib import Path

import pytest
import yaml
from sqlite_utils import Database

from pipelines.query import enable_queries
from pipelines.schema import create_schema
from pipelines.search import SEARCH_COLUMNS, escape_fts, indexed_at_the_end, phrase, spaced, spaced_sql
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
        [phrase(words)],
    ))  # fmt: skip


def canned_search(db, q, site=""):
    return [(row["tid"], row["pid"]) for row in db.query(QUERIES["search"]["sql"], {"q": q, "site": site})]


def schema(db):
    return sorted(db.execute("SELECT type, name, sql FROM sqlite_master").fetchall(), key=str)


@pytest.mark.parametrize("text", ["", "如何当好办公室主任", "hello 世界, Ünïcode ü!", "a_b 100% 「引号」", "𠀀𠀁 emoji 😀 end", "ｆｕｌｌ 한국어"])
def test_the_triggers_space_text_as_python_does(text):
    conn = sqlite3.connect(":memory:")
    assert conn.execute(f"SELECT {spaced_sql(':text')}", {"text": text}).fetchone()[0] == (spaced(text) or None)


def test_python_spaces_every_character_from_u3000_up_and_no_other():
    text = "".join(chr(code) for code in range(0x20, 0x10000) if not 0xD800 <= code < 0xE000) + "𠀀a"
    assert spaced(text) == "".join(f" {char} " if ord(char) >= 0x3000 else char for char in text)


def test_words_of_any_length_match_anywhere_in_titles_and_text(db):
    assert matches(db, "articles", "办公室主任") == [10]
    assert matches(db, "comments", "办公室主任") == [12]
    assert matches(db, "comments", "参谋不决策") == [11]
    assert matches(db, "articles", "十个错") == [20]  # inside a word: no segmentation needed
    assert matches(db, "comments", "主任") == [12, 21]
    assert matches(db, "comments", "谋") == [11]
    assert matches(db, "comments", "任主") == []  # a phrase: the characters in this order
    assert matches(db, "comments", "twice") == [21] and matches(db, "comments", "twic") == []  # Latin: whole words


def test_one_or_two_characters_through_the_canned_query(db):
    assert canned_search(db, "主任") == [(2, 21), (1, 12), (1, 10)]  # newest first
    assert canned_search(db, "错") == [(2, 20)]
    assert canned_search(db, "当好") == [(1, 12), (1, 10)]


def test_the_search_box_takes_each_term_as_a_phrase():
    assert escape_fts("办公室主任") == '" 办  公  室  主  任 "'
    assert escape_fts('主任 "a b" 错') == '" 主  任 " "a b" " 错 "'
    assert escape_fts('"主任') == '" 主  任 "'  # an unbalanced quote
    assert escape_fts("  ") == ""


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
    """The index is sound and holds exactly the words of the table's rows, spaced by Python:
    every (word, row, column, position) of a contentless index built afresh."""
    db.execute(f"INSERT INTO {table}_fts({table}_fts) VALUES ('integrity-check')")
    columns = SEARCH_COLUMNS[table]
    listed = ", ".join(columns)
    conn = db.conn
    conn.execute(f"CREATE VIRTUAL TABLE temp.expected USING fts5({listed}, content='', tokenize='unicode61')")
    try:
        rows = conn.execute(f"SELECT rowid, {listed} FROM {table}").fetchall()
        conn.executemany(
            f"INSERT INTO temp.expected(rowid, {listed}) VALUES (?{', ?' * len(columns)})",
            [[row[0], *(spaced(value) if value else value for value in row[1:])] for row in rows],
        )
        conn.execute(f"CREATE VIRTUAL TABLE temp.found_words USING fts5vocab(main, {table}_fts, instance)")
        conn.execute("CREATE VIRTUAL TABLE temp.expected_words USING fts5vocab(temp, expected, instance)")
        found = conn.execute("SELECT * FROM temp.found_words ORDER BY 1, 2, 3, 4").fetchall()
        expected = conn.execute("SELECT * FROM temp.expected_words ORDER BY 1, 2, 3, 4").fetchall()
        assert found == expected and (found or not rows)
    finally:
        for name in ("found_words", "expected_words", "expected"):
            conn.execute(f"DROP TABLE IF EXISTS temp.{name}")


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


def test_an_archive_with_the_earlier_trigram_index_is_converted(db):
    for name in ("comments_ai", "comments_ad", "comments_au"):
        db.execute(f"DROP TRIGGER {name}")
    db.execute("DROP TABLE comments_fts")
    db["comments"].enable_fts(["content_text"], tokenize="trigram", create_triggers=True, replace=True)
    assert matches(db, "comments", "主任") == []  # trigram: nothing under 3 characters
    enable_queries(db)
    assert "trigram" not in db["comments_fts"].schema
    assert matches(db, "comments", "主任") == [12, 21]
    db["comments"].insert({"site": SITE, "pid": 14, "tid": 1, "floor": 5, "content_text": "主任好"})
    assert matches(db, "comments", "主任") == [12, 14, 21]  # one entry: the old triggers are gone
    assert_index_matches_table(db, "comments")


def test_a_file_archive_keeps_its_temporary_files_in_memory_and_still_indexes_through_python(tmp_path):
    # temp_store drops a connection's TEMP triggers when it changes: open_archive makes them again
    archive = open_archive(tmp_path / "archive.db")
    open_archive(archive)
    assert archive.execute("PRAGMA temp_store").fetchone()[0] == 2
    here = {row[0] for row in archive.execute("SELECT name FROM sqlite_temp_master WHERE type = 'trigger'")}
    assert {f"{table}_fts_here_ai" for table in SEARCH_COLUMNS} <= here
    archive["comments"].insert_all([row | {"site": SITE} for row in COMMENTS])
    assert matches(archive, "comments", "主任") == [12, 21]
    assert_index_matches_table(archive, "comments")


def test_rows_a_write_transaction_inserts_or_updates_are_indexed_at_its_end_as_they_are_then(tmp_path):
    archive = open_archive(tmp_path / "archive.db")
    conn = archive.conn  # plain SQL, as the archive's writes: sqlite-utils' table API commits as it goes

    def insert(pid, text):
        conn.execute("INSERT INTO comments (site, pid, tid, floor, content_text) VALUES (?, ?, 1, ?, ?)", [SITE, pid, pid, text])

    def update(pid, text):
        conn.execute("UPDATE comments SET content_text = ? WHERE site = ? AND pid = ?", [text, SITE, pid])

    with conn:
        insert(11, "首先要摆正位置，参谋不决策。")  # indexed at once
        insert(12, "当好办公室主任，文稿要过三遍。")
        for pid, text in ((26, "要改两次的回帖"), (27, "改了又删的回帖"), (28, "改了再删，位置又给了新帖")):
            insert(pid, text)
    conn.execute("BEGIN")
    with conn, indexed_at_the_end(archive):
        insert(13, "协调的办法很多")
        insert(14, "删掉的回帖")
        assert matches(archive, "comments", "协调") == []  # queued
        update(13, "改成了谈参谋的办法")  # queued: left to the end
        update(11, "先当好参谋")  # indexed before: its entry goes out, and the new text in, at the end
        assert matches(archive, "comments", "摆正位置") == [11] and matches(archive, "comments", "当好参谋") == []
        conn.execute("DELETE FROM comments WHERE pid = 14")
        insert(15, "新的回帖")  # 14's rowid again
        update(26, "第一次改")
        update(26, "第二次改")  # its entry goes out with the text indexed, not the first change's
        update(27, "改过")
        conn.execute("DELETE FROM comments WHERE pid = 27")
        update(28, "改过")
        rowid = conn.execute("SELECT rowid FROM comments WHERE pid = 28").fetchone()[0]
        conn.execute("DELETE FROM comments WHERE pid = 28")
        conn.execute("INSERT INTO comments (rowid, site, pid, tid, floor, content_text) VALUES (?, ?, 29, 1, 29, '占了位置的新帖')",
                     [rowid, SITE])
        conn.execute("UPDATE comments SET rowid = 100 WHERE pid = 12")  # the same text under another rowid
    assert matches(archive, "comments", "参谋") == [11, 13] and matches(archive, "comments", "协调") == []
    assert matches(archive, "comments", "回帖") == [15] and matches(archive, "comments", "主任") == [12]
    assert matches(archive, "comments", "改") == [13, 26] and matches(archive, "comments", "新帖") == [29]
    with pytest.raises(RuntimeError):  # the flag would be committed, and left on by an error
        with indexed_at_the_end(archive):
            pass
    conn.execute("BEGIN")
    with pytest.raises(ZeroDivisionError), conn, indexed_at_the_end(archive):
        insert(16, "没写成")
        1 / 0
    with conn:
        insert(17, "写成了")  # nothing queues any more
    assert matches(archive, "comments", "写成") == [17]
    assert_index_matches_table(archive, "comments")


def test_rows_written_by_another_program_with_plain_sql_are_found(db, tmp_path):
    path = tmp_path / "archive.db"
    open_archive(path).close()
    other = sqlite3.connect(path)  # no function, no setting of ours
    with other:
        other.execute("INSERT INTO comments (site, pid, tid, floor, content_text) VALUES (?, 1, 1, 2, '别的程序写的回帖')", [SITE])
        other.execute("UPDATE comments SET content_text = '改过的回帖' WHERE pid = 1")
    other.close()
    archive = Database(path)
    assert matches(archive, "comments", "改过") == [1] and matches(archive, "comments", "程序") == []
    assert canned_search(archive, "回") == [(1, 1)]


def test_a_row_replaced_by_another_program_is_found_by_its_new_text_and_the_next_open_mends_index_and_counts(tmp_path, caplog):
    path = tmp_path / "archive.db"
    archive = open_archive(path)
    archive["articles"].insert_all([row | {"site": SITE} for row in ARTICLES])
    archive["comments"].insert_all([row | {"site": SITE} for row in COMMENTS])
    archive.close()
    other = sqlite3.connect(path)  # as sqlite3 and most programs connect: recursive_triggers off
    with other:
        other.execute("INSERT OR REPLACE INTO comments (site, pid, tid, floor, content_text, posted_at)"
                      " VALUES (?, 11, 1, 2, '换过的回帖', '2013-02-19T08:00:00+08:00')", [SITE])
    other.close()
    archive = Database(path)
    assert matches(archive, "comments", "换过") == [11] and matches(archive, "comments", "参谋") == []  # no row under the old entry
    assert archive["comments_fts_docsize"].count == len(COMMENTS) + 1  # but the index has it still
    assert archive.execute("SELECT sum(posts) FROM month_counts").fetchone()[0] == 2 + len(COMMENTS) + 1  # counted twice
    archive = open_archive(path)
    assert "The search index of comments has 4 entries for 3 rows" in caplog.text
    assert_index_matches_table(archive, "comments")
    assert archive.execute("SELECT sum(posts) FROM month_counts").fetchone()[0] == 2 + len(COMMENTS)
    assert matches(archive, "comments", "换过") == [11] and matches(archive, "comments", "参谋") == []
    open_archive(archive)
    assert_index_matches_table(archive, "comments")


def test_year_is_the_local_year_of_posted_at(db):
    years = dict(db.execute("SELECT pid, year FROM comments").fetchall())
    assert years == {11: 2013, 12: 2024, 21: 2025}  # 2024-12-31T23:59+08:00 stays in 2024
    assert db.execute("SELECT year FROM articles WHERE tid = 3").fetchone() == (None,)
    assert "year" not in db["articles"].columns_dict  # generated: nothing writes it
