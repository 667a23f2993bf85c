"""The archive's plain-SQL writes (pipelines/sql.py): what they write is what sqlite-utils would."""

import sqlite3

from sqlite_utils import Database

from pipelines.schema import create_schema
from pipelines.sql import insert, unchanged_dropped, update_each

SITE = "bbs.example.com"


def test_an_update_sets_only_what_changed_and_tells_types_apart():
    stored = {"site": SITE, "pid": 1, "floor": 2, "author": "甲", "images": "[]", "flags": '["hidden"]', "edited_at": None}
    row = {"site": SITE, "pid": 1, "floor": True, "author": "甲", "images": [], "flags": [], "edited_at": None,
           "last_seen_at": "2026-12-07T00:00:00+00:00"}
    # True is stored as 1, not as the stored 2; a list as its JSON; a column the read lacks is written
    assert unchanged_dropped("comments", row, stored) == {
        "site": SITE, "pid": 1, "floor": True, "flags": [], "last_seen_at": "2026-12-07T00:00:00+00:00"}


def test_many_rows_go_in_as_many_statements_as_sqlite_takes_parameters_and_updates_keep_their_order():
    db = Database(memory=True)
    create_schema(db)
    db.conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 10)  # two rows of four columns a statement
    insert(db, "comments", *({"site": SITE, "pid": pid, "tid": 1, "images": [pid]} for pid in range(5)))
    assert db.execute("SELECT pid, images FROM comments ORDER BY pid").fetchall() == [(pid, f"[{pid}]") for pid in range(5)]
    update_each(db, "comments", [{"site": SITE, "pid": 1, "author": "乙"}, {"site": SITE, "pid": 1, "floor": 3},
                                 {"site": SITE, "pid": 1, "author": "丙"}])
    assert db.execute("SELECT author, floor FROM comments WHERE pid = 1").fetchone() == ("丙", 3)


def test_rows_with_other_columns_or_another_order_are_refused_not_shifted():
    db = Database(memory=True)
    create_schema(db)
    for other in ({"site": SITE, "pid": 2, "images": [2]}, {"site": SITE, "tid": 1, "pid": 2, "images": [2]}):
        try:
            insert(db, "comments", {"site": SITE, "pid": 1, "tid": 1, "images": [1]}, other)
        except ValueError as refused:
            assert "different columns" in str(refused)
        else:
            raise AssertionError(f"{other} went in")
    assert db.execute("SELECT count(*) FROM comments").fetchone() == (0,)
