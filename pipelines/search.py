"""Full-text search of any length: each CJK character is a word of its own.

FTS5's ``unicode61`` tokenizer reads a run of Chinese as a single word, and ``trigram``
cannot match fewer than 3 characters (and its index is bigger than the text it indexes). So the
index is fed the text with a space on each side of every character from U+3000 up (CJK
punctuation, kana, Han, Hangul, full-width forms): ``办公室主任`` is indexed as the five words
``办 公 室 主 任``, and a search is the phrase of the same words, which matches any length and
is exact for Chinese. Latin words stay words: ``hello`` matches the word, not ``othello``.

- The spaced text is made in plain SQL inside the triggers (``spaced_sql``), so rows that
  other programs write with plain SQL are indexed like crawled ones; no SQL function of
  ours is needed by a writer. That SQL walks the text byte by byte and is the dearest part
  of a write, so the archive's own connections (``index_here``, on every ``enable_search``)
  index through TEMP triggers with a Python function that spaces the same words, and attach
  an empty in-memory schema named ``discuz_search_here`` that tells the file's triggers to
  step aside there (their ``WHEN`` reads ``pragma_database_list``: the one connection-local
  fact a trigger can read; bench/README.md has the costs). Inside a write transaction of
  the archive's (``indexed_at_the_end``), the rows it inserts or gives another text are
  indexed when it ends, in one statement a table.
- The index is contentless (``content=''``): it holds the words' positions, not a copy of the
  text. Deleting an entry needs the old text, which the delete and update triggers have.
  A row replaced with ``INSERT OR REPLACE`` by a connection without ``recursive_triggers``
  loses its old row without a delete trigger (SQLite 3.40 fires none then, and no trigger can
  tell a REPLACE from an upsert or an INSERT OR IGNORE beforehand), so its old entry stays,
  under a rowid no row has any more: searches read rows through the index, so none finds it,
  but the index holds one entry more than the table has rows. ``enable_search`` (every
  ``open_archive``) compares the two counts and rebuilds an index that is out of step; the
  count tables, kept by the same kind of triggers, are refilled with it.
- ``phrase(words)`` turns what a reader typed into the FTS5 query; the datasette plugin
  gives the search box the same through ``escape_fts``.

Example::

    rowids = db.execute("SELECT rowid FROM comments_fts WHERE comments_fts MATCH ?", [phrase("主任")])
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager

from sqlite_utils import Database

log = logging.getLogger(__name__)

# table: the columns its search index covers
SEARCH_COLUMNS: dict[str, list[str]] = {
    "articles": ["title", "content_text"],
    "comments": ["content_text"],
    "post_comments": ["content_text"],  # 点评
    "portal_articles": ["title", "summary", "content_text"],
    "portal_comments": ["content_text"],
}
FIRST_SPACED = 0x3000  # CJK symbols and punctuation; everything above is a word of one character
TOKENIZER = "unicode61"
_TERMS = re.compile(r'\s+|(".*?")')


def spaced_sql(value: str) -> str:
    """SQL for ``value`` (a column or parameter) with every character from U+3000 up between
    spaces. It walks the UTF-8 bytes (substr of a BLOB is O(1); of TEXT, O(length)), one row
    per byte from a JSON array of that length, and copies each character that starts there."""
    data = f"CAST({value} AS BLOB)"
    byte = f"substr({data}, key + 1, 1)"
    return (
        f"(SELECT group_concat(CASE"
        f" WHEN {byte} < x'80' THEN CAST({byte} AS TEXT)"
        f" WHEN {byte} < x'E0' THEN CAST(substr({data}, key + 1, 2) AS TEXT)"
        f" WHEN {byte} < x'E3' THEN CAST(substr({data}, key + 1, 3) AS TEXT)"
        f" WHEN {byte} < x'F0' THEN ' ' || CAST(substr({data}, key + 1, 3) AS TEXT) || ' '"
        f" ELSE ' ' || CAST(substr({data}, key + 1, 4) AS TEXT) || ' ' END, '')"
        f" FROM json_each('[' || replace(hex(zeroblob(length({data}))), '00', '0,') || '0]')"
        f" WHERE key < length({data}) AND ({byte} < x'80' OR {byte} >= x'C0'))"
    )


_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


@functools.cache
def _spaced_bmp() -> list[str]:
    """What each character of the Basic Multilingual Plane becomes, by code point: itself
    below FIRST_SPACED, with its spaces from there, for str.translate, which looks each
    character up in C (the few above the plane are spaced one by one). A list rather than
    a dict: translate indexes it without hashing. Made on first use: a large table, which
    only a process that writes needs."""
    return [chr(code) for code in range(FIRST_SPACED)] + [f" {chr(code)} " for code in range(FIRST_SPACED, 0x10000)]


def spaced(text: str) -> str:
    """What ``spaced_sql`` makes of ``text``, in Python."""
    if text.isascii():
        return text
    if _ASTRAL.search(text):
        return "".join(f" {char} " if ord(char) >= FIRST_SPACED else char for char in text)
    return text.translate(_spaced_bmp())


def phrase(words: str) -> str:
    """One FTS5 phrase of ``words``: their characters in this order, whatever they are."""
    return '"' + spaced(words.strip()).replace('"', '""') + '"'


def escape_fts(query: str) -> str:
    """datasette's escape_fts for this index: each term (split at spaces; "quoted" terms kept
    together) becomes a phrase, all of them required."""
    if query.count('"') % 2:
        query += '"'
    terms = [term.strip('"') for term in _TERMS.split(query) if term and term != '""']
    return " ".join(phrase(term) for term in terms if term.strip())


def index_sql(table: str) -> str:
    columns = ", ".join(f"[{column}]" for column in SEARCH_COLUMNS[table])
    return f"CREATE VIRTUAL TABLE [{table}_fts] USING fts5({columns}, content='', tokenize='{TOKENIZER}')"


# Attached (empty, in memory) by a connection that indexes through index_here's triggers.
HERE = "discuz_search_here"
_ELSEWHERE = f"NOT EXISTS (SELECT 1 FROM pragma_database_list WHERE name = '{HERE}')"
# TEMP tables of such a connection: a row while indexed_at_the_end is on; each table's rows
# inserted or given another text meanwhile (by rowid), which it indexes at the end; and the
# entries those updates take out of the index (rowid and the text indexed), also at the end.
_QUEUEING_TABLE = "discuz_search_queueing"
_QUEUEING = f"EXISTS (SELECT 1 FROM temp.[{_QUEUEING_TABLE}])"
_QUEUE = "_fts_queue"
_UNINDEX = "_fts_unindex"


def trigger_sql(table: str, here: bool = False) -> dict[str, str]:
    """The three triggers that keep ``TABLE_fts`` in step, by name. sqlite-utils' names
    (``TABLE_ai``, ``_ad``, ``_au``), so that its own FTS triggers, where an archive had them,
    are replaced rather than left firing on an index that is gone. ``here``: the TEMP
    triggers of one of the archive's own connections instead (``index_here``), and two more
    that queue an inserted row, and an indexed row given another text, while
    ``indexed_at_the_end`` is on, which the others leave to them. A queued row's entry is
    not in the index, or leaves it at the end: a delete or another update of it waits too."""
    columns = SEARCH_COLUMNS[table]
    listed = ", ".join(f"[{column}]" for column in columns)
    space = (lambda value: f"discuz_spaced({value})") if here else spaced_sql
    old = ", ".join(space(f"old.[{column}]") for column in columns)
    new = ", ".join(space(f"new.[{column}]") for column in columns)
    insert = f"INSERT INTO [{table}_fts] (rowid, {listed}) VALUES (new.rowid, {new});"
    delete = f"INSERT INTO [{table}_fts] ([{table}_fts], rowid, {listed}) VALUES ('delete', old.rowid, {old});"
    changed = " OR ".join(f"old.[{column}] IS NOT new.[{column}]" for column in columns)
    if here:
        create, name, on = "CREATE TEMP TRIGGER IF NOT EXISTS", f"{table}_fts_here", f"main.[{table}]"
        queued = f"EXISTS (SELECT 1 FROM temp.[{table}{_QUEUE}] WHERE rowid = old.rowid)"
        guard, insert_guard, update_guard = [f"NOT {queued}"], [f"NOT {_QUEUEING}"], [f"NOT {_QUEUEING}"]
    else:
        create, name, on, guard = "CREATE TRIGGER", table, f"[{table}]", [_ELSEWHERE]
        insert_guard = update_guard = guard
    when = lambda *tests: f" WHEN {' AND '.join(tests)}" if tests else ""  # noqa: E731
    triggers = {
        f"{name}_ai": f"{create} [{name}_ai] AFTER INSERT ON {on}{when(*insert_guard)} BEGIN\n  {insert}\nEND",
        f"{name}_ad": f"{create} [{name}_ad] AFTER DELETE ON {on}{when(*guard)} BEGIN\n  {delete}\nEND",
        # most updates only stamp when a crawl saw the row: those leave the index alone
        f"{name}_au": f"{create} [{name}_au] AFTER UPDATE ON {on}{when(*update_guard, f'({changed})')} BEGIN\n"
        f"  {delete}\n  {insert}\nEND",
    }
    if here:
        queue = f"INSERT OR IGNORE INTO [{table}{_QUEUE}] (rowid) VALUES (new.rowid);"
        old_text = ", ".join(f"old.[{column}]" for column in columns)
        unindex = f"INSERT INTO [{table}{_UNINDEX}] (rowid, {listed}) SELECT old.rowid, {old_text} WHERE NOT {queued};"
        triggers[f"{name}_aq"] = f"{create} [{name}_aq] AFTER INSERT ON {on} WHEN {_QUEUEING} BEGIN\n  {queue}\nEND"
        triggers[f"{name}_auq"] = (f"{create} [{name}_auq] AFTER UPDATE ON {on} WHEN {_QUEUEING}"
                                   f" AND ({changed} OR old.rowid IS NOT new.rowid) BEGIN\n  {unindex}\n  {queue}\nEND")
    return triggers


def _spaced_or_null(text: str | None) -> str | None:
    return spaced(text) if text else None


def index_here(db: Database) -> None:
    """This connection indexes through Python: the function, its TEMP tables and triggers,
    then the schema that tells the file's triggers to step aside (in that order: never
    neither)."""
    # the same words as spaced_sql (a test holds them equal), several times faster
    db.conn.create_function("discuz_spaced", 1, _spaced_or_null, deterministic=True)
    db.execute(f"CREATE TEMP TABLE IF NOT EXISTS [{_QUEUEING_TABLE}] (on_since INTEGER)")
    for table, columns in SEARCH_COLUMNS.items():
        db.execute(f"CREATE TEMP TABLE IF NOT EXISTS [{table}{_QUEUE}] (rowid INTEGER PRIMARY KEY)")
        listed = ", ".join(f"[{column}]" for column in columns)
        db.execute(f"CREATE TEMP TABLE IF NOT EXISTS [{table}{_UNINDEX}] (rowid INTEGER PRIMARY KEY, {listed})")
        for sql in trigger_sql(table, here=True).values():
            db.execute(sql)
    if not any(row[1] == HERE for row in db.execute("PRAGMA database_list")):
        db.execute(f"ATTACH DATABASE ':memory:' AS [{HERE}]")


@contextmanager
def indexed_at_the_end(db: Database) -> Iterator[None]:
    """Inside one write transaction (begun by the caller, who ends it): the rows inserted or
    given another text are indexed when it ends, in one statement a table, rather than each
    by its trigger. FTS5 writes the words it holds out to its tables at the end of every
    statement that wrote to it (a segment each time, merged later), so one statement for a
    batch's rows costs far less than one a row. An indexed row's entry goes out, with the
    text it was made of, in one statement before. Rows deleted or given another text
    meanwhile are left to those statements, which read them as they are then. Where they do
    not run (an error: the caller rolls the transaction back), the queues go with the rest.
    Nothing is queued on a connection that does not index here."""
    if not db.conn.in_transaction:
        raise RuntimeError("indexed_at_the_end needs a transaction begun by its caller")
    queueing = db.execute("SELECT 1 FROM sqlite_temp_master WHERE name = ?", [_QUEUEING_TABLE]).fetchone()
    if queueing:
        db.execute(f"INSERT INTO temp.[{_QUEUEING_TABLE}] VALUES (1)")
    yield
    if queueing:
        db.execute(f"DELETE FROM temp.[{_QUEUEING_TABLE}]")
        for table in SEARCH_COLUMNS:
            if db.execute(f"SELECT 1 FROM temp.[{table}{_UNINDEX}] LIMIT 1").fetchone():
                db.execute(_unindex_sql(table))
                db.execute(f"DELETE FROM temp.[{table}{_UNINDEX}]")
            db.execute(_index_rows_sql(table, f"WHERE rowid IN (SELECT rowid FROM temp.[{table}{_QUEUE}])"))
            db.execute(f"DELETE FROM temp.[{table}{_QUEUE}]")


def _unindex_sql(table: str) -> str:
    """Take the queued entries out of the index: each with the text it was made of."""
    listed, values = _columns_spaced(table)
    return (f"INSERT INTO main.[{table}_fts] ([{table}_fts], rowid, {listed})"
            f" SELECT 'delete', rowid, {values} FROM temp.[{table}{_UNINDEX}]")


def _index_rows_sql(table: str, where: str = "") -> str:
    """Index the table's rows (``where``: those of them), spaced by Python."""
    listed, values = _columns_spaced(table)
    return f"INSERT INTO main.[{table}_fts] (rowid, {listed}) SELECT rowid, {values} FROM main.[{table}] {where}"


def _columns_spaced(table: str) -> tuple[str, str]:
    """The table's searched columns, listed, and their values as spaced by Python."""
    columns = SEARCH_COLUMNS[table]
    return ", ".join(f"[{column}]" for column in columns), ", ".join(f"discuz_spaced([{column}])" for column in columns)


def enable_search(db: Database) -> list[str]:
    """Create or rebuild the indexes and their triggers when they are not as defined here
    (archives made before, with the trigram index, are converted on their first open), or
    when an index is out of step with its table; the tables whose index was out of step.
    Triggers of an earlier version over an index as defined are replaced, the index kept.
    Then this connection indexes through Python (``index_here``)."""
    out_of_step = []
    for table, columns in SEARCH_COLUMNS.items():
        triggers = trigger_sql(table)
        found = dict(db.execute("SELECT name, sql FROM sqlite_master WHERE tbl_name IN (?, ?)", [table, f"{table}_fts"]).fetchall())
        if found.get(f"{table}_fts") == index_sql(table):
            entries = db.execute(f"SELECT count(*) FROM [{table}_fts_docsize]").fetchone()[0]
            rows = db.execute(f"SELECT count(*) FROM [{table}]").fetchone()[0]
            if entries == rows:
                if any(found.get(name) != sql for name, sql in triggers.items()):
                    with db.conn:
                        for name, sql in triggers.items():
                            db.execute(f"DROP TRIGGER IF EXISTS [{name}]")
                            db.execute(sql)
                continue
            log.warning("The search index of %s has %d entries for %d rows (a row replaced with INSERT OR REPLACE"
                        " by another program leaves its old entry): rebuilding it, and the count tables", table, entries, rows)
            out_of_step.append(table)
        with db.conn:
            for name in triggers:
                db.execute(f"DROP TRIGGER IF EXISTS [{name}]")
            db.execute(f"DROP TABLE IF EXISTS [{table}_fts]")
            db.execute(index_sql(table))
            db.conn.create_function("discuz_spaced", 1, _spaced_or_null, deterministic=True)
            db.execute(_index_rows_sql(table))
            for sql in triggers.values():
                db.execute(sql)
    index_here(db)
    return out_of_step
