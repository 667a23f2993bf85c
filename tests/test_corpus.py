"""The corpus of real pages (tests/corpus/README.md), each crawled as a page is crawled: served under
its own Discuz URL on 127.0.0.1, fetched by ``scrapy crawl discuz`` in one crawl of them all, and
checked in the archive against the truth read from its markup (tests/corpus/truth/)."""

from __future__ import annotations

import csv
import json
import re
import sqlite3
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from sample_forum.server import url_key
from scraper.portal import article_ref
from scraper.urls import site_of
from tests.corpus import grep_counts

TESTS = Path(__file__).parent
CORPUS = TESTS / "corpus"
# The floors the templates name instead of numbering them.
FLOOR_NAMES = {"楼主": 1, "沙发": 2, "板凳": 3, "地板": 4}
# Pages a check still fails on, and why (each an issue of its own, named in the README).
KNOWN_GAPS: dict[str, str] = {
    "d6era-metagbk-bytesutf8-shiftcn-wayback-thread-legacy": (
        "the first post's whole message is the placeholder '---===本内容被隐藏 跟帖回复才可浏览===---' in a <b>, "
        "with no div.locked: the archive keeps it as the post's text and does not flag the post hidden"
    ),
}


def corpus_sources() -> list[dict[str, str]]:
    with open(CORPUS / "SOURCES.tsv", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


SOURCES = corpus_sources()


def truth(name: str) -> dict:
    return json.loads((CORPUS / "truth" / f"{name}.json").read_text("utf-8"))


class _Pages(BaseHTTPRequestHandler):
    """Each corpus page at /SITE_KEY/URL, as its forum served it; anything else is a 404."""

    def do_GET(self):
        pages = self.server.pages  # Discuz ignores extra= (where the reader came from), and so does this
        body = pages.get(url_key(self.path)) or pages.get(url_key(self.path, drop={"extra"}))
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", "text/html")  # no charset: the page's own meta decides
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, format, *args):
        """Quiet: a crawl asks for hundreds of links the corpus does not hold."""


def served(row: dict, base: str) -> bytes:
    """The page's bytes as its forum sends them. The project's own forum was saved at one
    address (``saved_at``) and its links name it, so they are moved to where this one listens,
    as sample_forum.server does; the other sites' pages are served byte for byte."""
    body = (TESTS / row["file"]).read_bytes()
    if row["saved_at"] != "-":
        body = body.replace(row["saved_at"].encode(), f"{base}{row['site_key']}/".encode())
    return body


def fetched_row(connection, url: str):
    """The archive's record of the page at ``url``, however the crawl spelled its query."""
    key = url_key(urlsplit(url).path + "?" + urlsplit(url).query, drop={"extra"})
    for row in connection.execute("SELECT url, status, kind, error FROM pages WHERE site = ?", (site_of(url),)):
        parts = urlsplit(row["url"])
        if url_key(parts.path + "?" + parts.query, drop={"extra"}) == key:
            return row
    return None


@pytest.fixture(scope="session")
def corpus_crawl(tmp_path_factory, scrapy_crawl):
    """One crawl of every corpus page: (archive connection, the URL each page was served at)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    urls = {row["name"]: f"{base}{row['site_key']}/{row['url']}" for row in SOURCES}
    server.pages = {url_key(url[len(base) - 1:]): served(row, base) for row, url in zip(SOURCES, urls.values())}
    threading.Thread(target=server.serve_forever, daemon=True).start()
    db = tmp_path_factory.mktemp("corpus") / "corpus.db"
    try:
        # DEPTH_LIMIT: the pages' own links lead to pages the corpus does not hold
        scrapy_crawl(db, "url=" + " ".join(urls.values()), settings={"ROBOTSTXT_OBEY": False, "DEPTH_LIMIT": 1})
    finally:
        server.shutdown()
        server.server_close()
    connection = sqlite3.connect(db)
    connection.row_factory = sqlite3.Row
    yield connection, urls
    connection.close()


def squeezed(text: str | None) -> str:
    """Text compared without white space or the archive's quote marks ("> ")."""
    return re.sub(r"[\s>]+", "", text or "")


def tid_of(url: str) -> int:
    """The tid in a thread URL of the corpus: thread-T-P-1.html, threadT.html, tid=T."""
    found = re.search(r"thread-?(\d+)|tid=(\d+)", url)
    return int(found.group(1) or found.group(2))


def shown_numbers(shown: str) -> list[int]:
    return [int(n) for n in re.findall(r"\d+", shown)][:5]


def archived_numbers(iso: str | None) -> list[int]:
    return [int(n) for n in re.findall(r"\d+", iso or "")][:5]


def expected_floor(shown: str | None) -> int | None:
    if not shown:
        return None  # the robot view prints no floor
    if shown in FLOOR_NAMES:
        return FLOOR_NAMES[shown]
    number = re.search(r"\d+", shown)
    return int(number.group()) if number else None  # mcbbs marks its first post "#" alone


def count(connection, table: str, site: str, pid: int) -> int:
    return connection.execute(
        f"SELECT count(*) FROM {table} WHERE site = ? AND pid = ? AND gone_since IS NULL", (site, pid)
    ).fetchone()[0]


def row_of_post(connection, site: str, pid: int):
    """The post's row in its table (the posts view leaves out edits and quotes)."""
    for table in ("articles", "comments"):
        row = connection.execute(f"SELECT * FROM {table} WHERE site = ? AND pid = ?", (site, pid)).fetchone()
        if row is not None:
            return row
    return None


def post_problems(connection, site: str, expected: dict) -> list[str]:
    """What the archive got wrong about one post, as readable lines (empty when all is right)."""
    pid = expected["pid"]
    row = connection.execute("SELECT * FROM posts WHERE site = ? AND pid = ?", (site, pid)).fetchone()
    if row is None:
        return [f"pid {pid}: not in the archive"]
    problems = []
    flags = set(json.loads(row["flags"] or "[]"))

    def check(what, got, wanted):
        if got != wanted:
            problems.append(f"pid {pid} {what}: archived {got!r}, the page shows {wanted!r}")

    check("author", row["author"], expected["author"])
    if expected["author_uid"] is not None:
        check("author_uid", row["author_uid"], expected["author_uid"])
    # "floor" where the label is not the floor (a thread read newest first), else the label's
    if (floor := expected.get("floor", expected_floor(expected["floor_shown"]))) is not None:
        check("floor", row["floor"], floor)
    shown = expected["time_title"] or expected["time_shown"]
    if shown:
        check("time", archived_numbers(row["posted_at"]), shown_numbers(shown))
    text = squeezed(row["content_text"])
    if not text.startswith(squeezed(expected["text_head"])):
        problems.append(f"pid {pid} text: archived {row['content_text'][:40]!r}…, the page starts {expected['text_head']!r}")
    if not text.endswith(squeezed(expected["text_tail"])):
        problems.append(f"pid {pid} text: archived …{row['content_text'][-40:]!r}, the page ends {expected['text_tail']!r}")
    stored = row_of_post(connection, site, pid)
    note = expected["edit_note"]  # "本帖最后由 X 于 2018-10-4 19:28 编辑", or in the site's language
    if note is None:
        check("edited_by", stored["edited_by"], None)
    elif not stored["edited_by"] or stored["edited_by"] not in note or archived_numbers(stored["edited_at"]) != shown_numbers(note):
        problems.append(f"pid {pid} edit: archived {stored['edited_by']!r} at {stored['edited_at']!r}, the page shows {note!r}")
    check("quote_pid", stored["quote_pid"], expected["quote_pid"])
    header = expected["quote_header"]  # "见习秘书 发表于 2013-2-18 22:17"
    if (stored["quote_author"] is None) != (header is None) or (header and not header.startswith(stored["quote_author"])):
        problems.append(f"pid {pid} quote: archived {stored['quote_author']!r}, the page shows {header!r}")
    check("banned", bool(flags & {"masked", "blocked"}), expected["banned"])
    check("hidden", "hidden" in flags, expected["hidden"])
    check("点评", count(connection, "post_comments", site, pid), expected["comments"])
    check("ratings", count(connection, "ratings", site, pid), expected["ratings"])
    check("attachments", count(connection, "attachments", site, pid), expected["attachments"])
    return problems


def row_problems(connection, site: str, expected: dict, read_later: set[int]) -> list[str]:
    """``read_later``: threads whose own page is in the corpus too; it was saved after the list,
    and the archive rightly keeps the counts the thread page shows."""
    tid = expected["tid"]
    row = connection.execute("SELECT * FROM articles WHERE site = ? AND tid = ?", (site, tid)).fetchone()
    if row is None:
        return [f"tid {tid}: not in the archive"]
    problems = []
    for field in ("title", "author") if tid in read_later else ("title", "author", "replies", "views"):
        if expected[field] is not None and row[field] != expected[field]:
            problems.append(f"tid {tid} {field}: archived {row[field]!r}, the list shows {expected[field]!r}")
    if expected["sticky"] is not None and bool(row["sticky"]) != expected["sticky"]:
        problems.append(f"tid {tid} sticky: archived {row['sticky']!r}, the list shows {expected['sticky']!r}")
    return problems


def article_problems(connection, site: str, aid: int, expected: dict) -> list[str]:
    """What the archive got wrong about a portal article and the comments its page shows."""
    row = connection.execute("SELECT * FROM portal_articles WHERE site = ? AND aid = ?", (site, aid)).fetchone()
    if row is None:
        return [f"aid {aid}: not in the archive"]
    problems = []
    shown = {
        "title": expected["title"], "publisher": expected["publisher"], "author": expected["author"],
        "views": expected["views"], "comments": expected["comments_shown"], "page_count": expected["page_count"],
    }
    for field, wanted in shown.items():
        if row[field] != wanted:
            problems.append(f"aid {aid} {field}: archived {row[field]!r}, the page shows {wanted!r}")
    if archived_numbers(row["posted_at"]) != shown_numbers(expected["time_shown"]):
        problems.append(f"aid {aid} time: archived {row['posted_at']!r}, the page shows {expected['time_shown']!r}")
    text = squeezed(row["content_text"])
    if not text.startswith(squeezed(expected["text_head"])) or not text.endswith(squeezed(expected["text_tail"])):
        problems.append(f"aid {aid} text: archived {row['content_text'][:30]!r}…{row['content_text'][-30:]!r}, "
                        f"the page shows {expected['text_head']!r}…{expected['text_tail']!r}")
    cids = [cid for (cid,) in connection.execute(
        "SELECT cid FROM portal_comments WHERE site = ? AND aid = ? AND gone_since IS NULL ORDER BY cid", (site, aid))]
    if cids != sorted(expected["comments"]):
        problems.append(f"aid {aid} comments: archived {cids}, the page shows {expected['comments']}")
    return problems


def marked(row: dict):
    reason = KNOWN_GAPS.get(row["name"])
    marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
    return pytest.param(row, id=row["name"], marks=marks)


@pytest.mark.parametrize("source", [marked(row) for row in SOURCES])
def test_page(corpus_crawl, source):
    connection, urls = corpus_crawl
    url = urls[source["name"]]
    site = site_of(url)
    fetched = fetched_row(connection, url)
    assert fetched is not None and fetched["status"] == 200, f"{url}: {fetched and dict(fetched)}"
    expected = truth(source["name"])
    if "article" in expected:
        problems = article_problems(connection, site, article_ref(url)[0], expected["article"])
    elif "threads" in expected:
        read_later = {
            tid_of(row["url"])
            for row in SOURCES
            if row["site_key"] == source["site_key"] and row["kind"] == "thread"
        }
        problems = [line for row in expected["threads"] for line in row_problems(connection, site, row, read_later)]
    else:
        problems = [line for post in expected["posts"] for line in post_problems(connection, site, post)]
        if expected.get("poll"):
            tid = tid_of(source["url"])
            options = connection.execute(
                "SELECT text, votes FROM poll_options WHERE site = ? AND tid = ? ORDER BY option_no", (site, tid)
            ).fetchall()
            if [tuple(option) for option in options] != [(o["text"], o["votes"]) for o in expected["poll"]]:
                problems.append(f"poll: archived {[tuple(o) for o in options]}, the page shows {expected['poll']}")
    assert not problems, "\n".join(problems)


def test_truth_agrees_with_grep_counts():
    """Every post and thread row the truth names, and no other, by a grep of the page's ids."""
    assert grep_counts.disagreements() == []


def proven_table() -> list[tuple[str, ...]]:
    """The README's "Proven on real pages" table, as (site, version, view, bytes, pages, posts, rows,
    portal articles)."""
    readme = (TESTS.parent / "README.md").read_text("utf-8").split("## Proven on real pages", 1)[1]
    lines = [line for line in readme.split("\n## ", 1)[0].splitlines() if line.startswith("| ")][1:]
    return [tuple(cell.strip() for cell in line.strip("|").split("|")) for line in lines]


def test_the_readme_says_what_the_corpus_proves():
    """Each row of the README's table is what SOURCES.tsv and the truth files add up to."""
    counted: dict[tuple, list[int]] = {}
    for row in SOURCES:
        charset = row["encoding"] if row["declared_charset"] == row["encoding"] else f"{row['encoding']} ({row['declared_charset']})"
        page = truth(row["name"])
        totals = counted.setdefault((row["site"], row["version"], row["view"], charset), [0, 0, 0, 0])
        for i, n in enumerate((1, len(page.get("posts", [])), len(page.get("threads", [])), int("article" in page))):
            totals[i] += n
    table = [(site.split(" (")[0], *rest) for site, *rest in proven_table()]
    assert table == [(*key, *map(str, totals)) for key, totals in counted.items()]
