"""Measured proposals for scraper/ and pipelines/ (which bench/ must not edit): each is applied
here as a monkeypatch, checked to give exactly the same results as the code it replaces, and
timed before and after. The diffs to apply are in the README's Benchmarks section.

    python -m bench.proposals            # parse: P1, P2; storage: S1

P1  markup._shows_anything: ask lxml for a boolean instead of wrapping every element of the
    body in a parsel Selector (about 1,000 per page) to see whether there is one.
P2  discuz._post_roots/_holds_message: find the candidates with one compiled XPath instead of
    a Python loop over every element, and test "holds a message" with the five XPaths of its
    union one at a time, compiled once, stopping at the first that finds one.
S1  sqlite._get/_put: plain SQL on the known schema instead of sqlite-utils' Table.get/insert/
    upsert, which read the schema (PRAGMA table_info, sqlite_master) on every call.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
from pathlib import Path

from lxml import etree

from bench import parse_bench
from pipelines import sqlite as storage
from scraper import discuz, markup


# -- P1 -------------------------------------------------------------------------------------
# markup._shows_anything as the work tree has it (not yet committed), and the proposal.
_CONTENT = "//body//*[not(self::script or self::style or self::noscript)]"
_VISIBLE = "//body//text()[not(ancestor::script or ancestor::style or ancestor::noscript)]"
_ANY_CONTENT = etree.XPath("boolean(" + _CONTENT + ")")
_VISIBLE_TEXT = etree.XPath(_VISIBLE)


def shows_anything_now(sel) -> bool:
    return bool(sel.xpath(_CONTENT) or markup.squash("".join(sel.xpath(_VISIBLE).getall())))


def shows_anything(sel) -> bool:
    return bool(_ANY_CONTENT(sel.root)) or bool(markup.squash("".join(_VISIBLE_TEXT(sel.root))))


def p1_micro(seconds: float = 2.0) -> dict:
    """P1 alone, on every page's Selector: the work tree's check against the proposal."""
    from parsel import Selector

    from scraper.encoding import decode_html

    pages = parse_bench.fixture_pages() + parse_bench.sample_pages()
    selectors = [Selector(text=decode_html(body).text) for body, _ in pages]
    same = all(shows_anything_now(sel) == shows_anything(sel) for sel in selectors)
    before = parse_bench._best_round(lambda: [shows_anything_now(sel) for sel in selectors], seconds)
    after = parse_bench._best_round(lambda: [shows_anything(sel) for sel in selectors], seconds)
    return {"pages": len(pages), "before_ms_page": before / len(pages) * 1000,
            "after_ms_page": after / len(pages) * 1000, "same_results": same}


# -- P2 -------------------------------------------------------------------------------------
_CANDIDATES = etree.XPath("//*[starts-with(@id, 'post_') or starts-with(@id, 'pid')]")
# The same five tests as the union, compiled once, tried one by one, cheapest and likeliest first:
# a union evaluates all five descendant scans (four with string functions) for every candidate.
_HOLDS_MESSAGE = [etree.XPath(x) for x in (
    ".//*[starts-with(@id, 'postmessage_')]",
    ".//*[" + markup.has_class("message") + "]",
    ".//" + discuz.LOCKED,
    ".//*[" + markup.has_class("t_f") + "]",
    ".//*[" + markup.has_class("t_msgfont") + "]",
)]
_original_post_roots = discuz._post_roots


def holds_message(element) -> bool:
    return any(test(element) for test in _HOLDS_MESSAGE)


def post_roots(sel):
    roots = {}
    for element in _CANDIDATES(sel.root):
        match = discuz._POST_ID.match(element.get("id") or "")
        if match and int(match[1]) not in roots and holds_message(element):
            roots[int(match[1])] = element
    if roots:
        return list(roots.items())
    return _original_post_roots(sel)  # older templates: the message-id fallback, unchanged


# -- S1 -------------------------------------------------------------------------------------
def _pks(name: str) -> tuple[str, ...]:
    pk = storage.TABLES[name][1]
    return (pk,) if isinstance(pk, str) else tuple(pk)


def _value(value):
    return json.dumps(value, default=repr, ensure_ascii=False) if isinstance(value, (dict, list, tuple)) else value


def get(table, key):
    pks = _pks(table.name)
    cursor = table.db.conn.execute(
        f"SELECT * FROM [{table.name}] WHERE " + " AND ".join(f"[{k}] = ?" for k in pks), list(key)
    )
    row = cursor.fetchone()
    return None if row is None else dict(zip([d[0] for d in cursor.description], row))


def put(table, row, stamp) -> bool:
    name, pks = table.name, _pks(table.name)
    conn = table.db.conn
    where = " AND ".join(f"[{k}] = ?" for k in pks)
    key = [row[k] for k in pks]
    if conn.execute(f"SELECT 1 FROM [{name}] WHERE {where}", key).fetchone() is None:
        values = {column: _value(value) for column, value in row.items()} | {"first_seen_at": stamp}
        columns = ", ".join(f"[{c}]" for c in values)
        conn.execute(f"INSERT INTO [{name}] ({columns}) VALUES ({', '.join('?' for _ in values)})", list(values.values()))
        return True
    sets = [column for column in row if column not in pks]
    if sets:
        conn.execute(
            f"UPDATE [{name}] SET " + ", ".join(f"[{c}] = ?" for c in sets) + f" WHERE {where}",
            [_value(row[c]) for c in sets] + key,
        )
    return False


PARSE_PATCHES = {"P2": [(discuz, "_post_roots", post_roots), (discuz, "_holds_message", holds_message)]}
STORAGE_PATCHES = {"S1": [(storage, "_get", get), (storage, "_put", put)]}


class patched:
    def __init__(self, *patches):
        self.patches = [p for group in patches for p in group]

    def __enter__(self):
        self.saved = [(module, name, getattr(module, name)) for module, name, _ in self.patches]
        for module, name, value in self.patches:
            setattr(module, name, value)

    def __exit__(self, *exc):
        for module, name, value in self.saved:
            setattr(module, name, value)


def _parse_results(pages):
    out = []
    for body, url in pages:
        try:
            out.append(discuz.parse_thread_page(body, url))
        except Exception as exc:  # noqa: BLE001
            out.append(repr(exc))
    return out


def parse_proposals(seconds: float = 3.0) -> dict:
    pages = parse_bench.fixture_pages() + parse_bench.sample_pages()
    baseline = _parse_results(pages)
    result = {"before": parse_bench.measure(pages, seconds)}
    applied = []
    for name, patch in PARSE_PATCHES.items():
        applied.append(patch)
        with patched(*applied):
            same = _parse_results(pages) == baseline
            result[f"+{name}"] = parse_bench.measure(pages, seconds) | {"same_results": same}
    return result


def _dump(path: Path) -> dict:
    conn = sqlite3.connect(path)
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE '%fts%'")]
    dump = {t: sorted(map(repr, conn.execute(f"SELECT * FROM [{t}]"))) for t in tables}
    conn.close()
    return dump


def storage_proposals(forum: Path, base: str, pages: int = 200) -> dict:
    from bench.storage import _page_items, _time_writes

    items = _page_items(forum, base, pages, keep_body=False)
    result = {}
    with tempfile.TemporaryDirectory(prefix="bench-proposals-") as tmp:
        result["before"] = _time_writes(Path(tmp, "before.db"), items, fts=True)
        with patched(STORAGE_PATCHES["S1"]):
            result["+S1"] = _time_writes(Path(tmp, "after.db"), items, fts=True)
        result["+S1"]["same_rows"] = _dump(Path(tmp, "before.db")) == _dump(Path(tmp, "after.db"))
    return result


def main() -> None:
    import argparse

    from bench import synth

    parser = argparse.ArgumentParser(description="Measure the proposed changes to scraper/ and pipelines/.")
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    out = {"P1": p1_micro(args.seconds), "parse": parse_proposals(args.seconds)}
    with tempfile.TemporaryDirectory(prefix="bench-forum-") as tmp:
        base = "http://127.0.0.1:8081/"
        synth.build(tmp, 300, base)
        out["storage"] = storage_proposals(Path(tmp), base, 300)
    p1 = out["P1"]
    print(f"P1 alone: _shows_anything {p1['before_ms_page']:.2f} -> {p1['after_ms_page']:.2f} ms/page, same results: {p1['same_results']}")
    for step, p in out["parse"].items():
        print(f"parse {step:6} {p['parser_ms_page']:6.2f} ms/page  {p['parser_pages_s']:6.1f} pages/s  "
              f"ratio to lxml {p['ratio']:.3f}  same results: {p.get('same_results', '-')}")
    for step, s in out["storage"].items():
        print(f"store {step:6} {s['rows_s']:7.0f} rows/s  {s['pages_s']:6.1f} thread pages/s  same rows: {s.get('same_rows', '-')}")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
