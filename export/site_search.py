"""The static mirror's search: any word, Chinese down to one character, offline, from disk too.

Pagefind (the extended build segments Chinese) was tried first and falls short twice: it cuts
Chinese into dictionary words and matches a query against the start of a word, so a character
inside a word finds nothing (Pagefind 1.5.2 extended: ``瓜`` does not find ``黄瓜``, nor ``水``
``浇水``); and its index is fetched with ``fetch()``, which browsers refuse for pages opened from
disk. This index is the archive's own: the full-text index the crawl keeps (pipelines/search.py:
each Chinese character a word, with its position) is read term by term through FTS5's
``fts5vocab`` table, in term order, straight into one small script per term under ``search/t/``;
the page loads the scripts of the query's words with ``<script>`` tags (which work from disk),
and keeps the posts where the words follow each other, as the archive's own phrase search does.
Each post's address, title and opening words are in ``search/d/``, a thousand posts a file.

Memory stays flat: terms come out of SQLite in order, one at a time.
"""

from __future__ import annotations

import heapq
import itertools
import json
from pathlib import Path

from browse import forum

HERE = Path(__file__).parent
SCRIPT = HERE / "site_search.js"
SHARD = 1000  # posts per file of search/d/
MAX_NAME = 24  # longer terms (addresses, hashes) are left out of the index: nobody types them
# table -> (its letter in the index, how to read its posts' address, title and opening words)
TABLES = {
    "articles": ("a", "SELECT rowid, tid, pid, 1 AS floor, title, substr(content_text, 1, 80) AS text FROM articles"
                      " WHERE site = :site AND rowid >= :start AND rowid < :end"),
    "comments": ("c", "SELECT c.rowid, c.tid, c.pid, c.floor, a.title, substr(c.content_text, 1, 80) AS text"
                      " FROM comments c LEFT JOIN articles a ON a.site = c.site AND a.tid = c.tid"
                      " WHERE c.site = :site AND c.rowid >= :start AND c.rowid < :end"),
    "post_comments": ("p", "SELECT m.rowid, m.tid, m.pid, coalesce((SELECT floor FROM comments c WHERE c.site = m.site"
                           " AND c.pid = m.pid), 1) AS floor, a.title, substr(m.content_text, 1, 80) AS text"
                           " FROM post_comments m LEFT JOIN articles a ON a.site = m.site AND a.tid = m.tid"
                           " WHERE m.site = :site AND m.rowid >= :start AND m.rowid < :end"),
    "portal_articles": ("r", "SELECT rowid, aid, title, substr(content_text, 1, 80) AS text FROM portal_articles"
                             " WHERE site = :site AND rowid >= :start AND rowid < :end"),
    "portal_comments": ("s", "SELECT m.rowid, m.aid, p.title, substr(m.content_text, 1, 80) AS text FROM portal_comments m"
                             " LEFT JOIN portal_articles p ON p.site = m.site AND p.aid = m.aid"
                             " WHERE m.site = :site AND m.rowid >= :start AND m.rowid < :end"),
}


def term_file(term: str) -> str | None:
    """The file of a term: its UTF-8 in hex (the page computes the same name)."""
    raw = term.encode("utf-8")
    return raw.hex() + ".js" if len(raw) <= MAX_NAME else None


def write_search(conn, site: str, out: Path, links, writer) -> dict:
    """The index of every post of ``site``: search/t/ (terms), search/d/ (posts), search.js."""
    tables = [table for table in TABLES if forum.has_table(conn, table) and forum.has_table(conn, f"{table}_fts")]
    for folder in ("t", "d"):
        (out / "search" / folder).mkdir(parents=True, exist_ok=True)
    writer.write("search.js", SCRIPT.read_text(encoding="utf-8"))
    documents = sum(_write_documents(conn, site, table, links, writer) for table in tables)
    terms = _write_terms(conn, tables, writer)
    return {"documents": documents, "terms": terms}


def _write_documents(conn, site: str, table: str, links, writer) -> int:
    letter, sql = TABLES[table]
    size = forum.posts_per_page(conn, site)
    last = conn.execute(f"SELECT max(rowid) FROM [{table}]").fetchone()[0] or 0
    written = 0
    for start in range(0, last + 1, SHARD):
        shard = {}
        for row in forum.rows(conn, sql, {"site": site, "start": start, "end": start + SHARD}):
            if "tid" in row:
                url = links.post(row["tid"], (max(row["floor"] or 1, 1) - 1) // size + 1, row["pid"])
            else:
                url = links.article(row["aid"])
            shard[row["rowid"]] = [url, row["title"] or "", row["text"] or ""]
        if shard:
            writer.write(f"search/d/{letter}{start // SHARD}.js",
                         f"discuzSearch.docs({json.dumps(letter + str(start // SHARD))},"
                         f"{json.dumps(shard, ensure_ascii=False, separators=(',', ':'))});\n")
            written += len(shard)
    return written


def _entries(cursor, letter: str, columns: dict[str, int]):
    for term, doc, column, offset in cursor:
        yield term, letter, doc, columns.get(column, 0), offset


def _term_script(term: str, entries):
    """``discuzSearch.term(TERM, {letter: [[rowid, column, offset, …], …], …});`` as it is read:
    a common word's postings are never all in memory. The merge keeps a term's entries from one
    table together (heapq.merge is stable), so each letter opens once."""
    yield f"discuzSearch.term({json.dumps(term, ensure_ascii=False)},{{"
    current = None
    for (_term, letter, doc, column), places in itertools.groupby(entries, key=lambda entry: entry[:4]):
        if letter != current:
            yield ("]," if current else "") + f'"{letter}":['
            current = letter
        else:
            yield ","
        yield json.dumps([doc, column, *(place[4] for place in places)], separators=(",", ":"))
    yield ("]" if current else "") + "});\n"


def _write_terms(conn, tables: list[str], writer) -> int:
    """One file per term: for each table, [rowid, column, offset, offset, …] of each post holding it."""
    streams = []
    for table in tables:
        conn.execute(f"DROP TABLE IF EXISTS temp.[vocab_{table}]")
        conn.execute(f"CREATE VIRTUAL TABLE temp.[vocab_{table}] USING fts5vocab(main, '{table}_fts', 'instance')")
        columns = {name: number for number, name in enumerate(
            row[1] for row in conn.execute(f"PRAGMA table_info([{table}_fts])"))}
        letter = TABLES[table][0]
        cursor = conn.cursor().execute(f"SELECT term, doc, col, offset FROM temp.[vocab_{table}]")
        streams.append(_entries(cursor, letter, columns))
    count = 0
    for term, entries in itertools.groupby(heapq.merge(*streams, key=lambda entry: entry[0]), key=lambda entry: entry[0]):
        name = term_file(term)
        if name is None:
            continue
        writer.write_stream(f"search/t/{name}", _term_script(term, entries))
        count += 1
    for table in tables:
        conn.execute(f"DROP TABLE IF EXISTS temp.[vocab_{table}]")
    return count

