"""Hostile pages: the crawl never leaves the site and never blows up.

The sample forum (a real Discuz! X3.5) on 127.0.0.1, with pages changed the way a hostile
or broken forum changes them: a pager that lies, a gzip bomb, a redirect to another host
(127.0.0.2, also loopback, and another port of 127.0.0.1: each a server that counts what it
is asked), a post of a million characters, a post with NUL bytes and bytes that are no
UTF-8, a page cut short in its post list, and redirect chains invented by hypothesis. Each
is served with its real status and headers to the real `scrapy crawl discuz`.
"""

from __future__ import annotations

import gzip
import itertools
import os
import re
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from sqlite_utils import Database

from scraper.thread import parse_thread_page
from test_failures import SAMPLE, Answer, HostileForum, _HostileHandler, crawl, page_rows, thread_posts, unexpected_tracebacks
from test_recrawl import V1, stored, visible

MB = 1024 * 1024


class Elsewhere:
    """A server on another host (or port) that answers anything with a thread page, and
    remembers every request: the crawl must never ask it."""

    def __init__(self, host: str):
        requests = self.requests = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                requests.append(self.path)
                body = (SAMPLE / "thread-27-1-1.html").read_bytes()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format, *args):
                """Quiet."""

        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.base_url = f"http://{host}:{self.httpd.server_address[1]}/"

    def __enter__(self):
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


# The pages ----------------------------------------------------------------------------------

# Thread 16 (7 pages, 61 posts) whose page 1 claims 3,000 pages and links the last; Discuz
# answers any page past the end with its last page.
_THREAD_16 = (SAMPLE / "thread-16-1-1.html").read_text(encoding="utf-8")
LYING_PAGER = (
    _THREAD_16.replace("共 7 页", "共 3000 页").replace(" / 7 页", " / 3000 页")
    .replace('<label><input type="text" name="custompage"', '<a href="thread-16-3000-1.html" class="last">... 3000</a>'
             '<label><input type="text" name="custompage"')
).encode("utf-8")


def gzip_bomb(decompressed: int = 3 * 1024 * MB) -> bytes:
    """About 3 MB of gzip that inflates to ``decompressed`` bytes of zeros (gzip members
    one after another are one valid stream)."""
    member = gzip.compress(bytes(16 * MB), compresslevel=9)
    return member * (decompressed // (16 * MB))


def with_message(name: str, pid: int, message: bytes) -> bytes:
    """The sample thread page ``name`` with post ``pid``'s message replaced by ``message``."""
    page = (SAMPLE / name).read_bytes()
    start = page.index(f'id="postmessage_{pid}">'.encode()) + len(f'id="postmessage_{pid}">')
    return page[:start] + message + page[page.index(b"</td>", start):]


LONG_TEXT = "这是一个很长的帖子。" * 100_000  # 1,000,000 characters
LONG_POST = with_message("thread-27-1-1.html", 327, LONG_TEXT.encode("utf-8"))
# NUL bytes and bytes that are no UTF-8 (a lone 0xff, 0xfe, a cut two-byte sequence) in a post
DIRTY_POST = with_message("thread-28-1-1.html", 334, b"before\x00NUL\x00after \xff\xfe\xc3( the end")


@pytest.fixture(scope="module")
def elsewhere():
    with Elsewhere("127.0.0.2") as other_host, Elsewhere("127.0.0.1") as other_port:
        yield other_host, other_port


def post_text(db: Database, pid: int) -> tuple[str, str]:
    """A post's (content_text, content_html), the article's or a comment's."""
    sql = "SELECT content_text, content_html FROM {} WHERE pid = ?"
    return db.execute(f"{sql.format('articles')} UNION ALL {sql.format('comments')}", [pid, pid]).fetchone()


class PeakMemory:
    """The peak of the summed resident sets of this process's descendants (the crawl and its
    archive worker) while the block runs, sampled every 20 ms from /proc, in bytes."""

    def __enter__(self):
        self.peak, self._done = 0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._done.set()
        self._thread.join()

    def _sample(self):
        while not self._done.wait(0.02):
            self.peak = max(self.peak, sum(_rss(pid) for pid in _descendants(os.getpid())))


def _descendants(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = [int(child) for child in (task / "children").read_text().split()]
        except OSError:  # the task ended
            continue
        for child in children:
            found += [child, *_descendants(child)]
    return found


def _rss(pid: int) -> int:
    try:
        return int(re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{pid}/status").read_text())[1]) * 1024
    except (OSError, TypeError):  # ended, or a zombie without memory
        return 0


# The five seeds ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def five_seeds(tmp_path_factory, elsewhere, scrapy_crawl):
    other_host, _ = elsewhere
    bomb = gzip_bomb()
    offsite = other_host.base_url + "thread-4-1-1.html"

    requests = []

    def plan(target: str):
        requests.append(target)
        if match := re.fullmatch(r"/thread-16-(\d+)-1\.html", target):
            return Answer(200, forum._rebase(LYING_PAGER, "text/html")) if match[1] == "1" else (
                "/thread-16-7-1.html" if int(match[1]) > 7 else None
            )
        return {
            "/thread-3-1-1.html": Answer(200, bomb, {"Content-Encoding": "gzip"}),
            "/thread-4-1-1.html": Answer(302, b"", {"Location": offsite}),
            "/thread-27-1-1.html": Answer(200, forum._rebase(LONG_POST, "text/html")),
            "/thread-28-1-1.html": Answer(200, forum._rebase(DIRTY_POST, "text/html")),
        }.get(target)

    db_path = tmp_path_factory.mktemp("five") / "archive.db"
    seeds = ["thread-16-1-1.html", "thread-3-1-1.html", "thread-4-1-1.html", "thread-27-1-1.html", "thread-28-1-1.html"]
    with HostileForum(plan) as forum, PeakMemory() as memory:
        result = crawl(scrapy_crawl, db_path, [forum.base_url + seed for seed in seeds])
    return Database(db_path), result, requests, offsite, len(bomb), memory.peak


def test_the_five_seeds_crawl_ends_by_itself_without_a_crash(five_seeds):
    db, result, *_ = five_seeds
    assert result.returncode == 0 and unexpected_tracebacks(result.stderr) == [], result.stderr[-3000:]
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_the_lying_pager_costs_at_most_23_requests_and_gives_all_61_posts(five_seeds):
    db, _, requests, *_ = five_seeds
    asked = [path for path in requests if path.startswith("/thread-16-")]
    assert len(asked) <= 23, asked
    assert thread_posts(stored(db), 16) == thread_posts(visible(V1), 16)
    assert len(thread_posts(stored(db), 16)) == 61


def test_the_bomb_is_refused_as_too_large_and_memory_stays_low(five_seeds):
    db, result, _, _, bomb_size, peak_memory = five_seeds
    assert 2 * MB < bomb_size < 4 * MB  # about 3 MB on the wire, 3 GB once inflated
    row = page_rows(db)["/thread-3-1-1.html"]
    assert (row["kind"], row["bytes"]) == ("too_large", 0)
    assert "decompressed" in row["error"] and "DOWNLOAD_MAXSIZE" in row["error"], row["error"]
    assert 50 * MB < peak_memory < 400 * MB  # sampled: a crawl of these pages is over 50 MB
    assert "/thread-3-1-1.html: over the size cap once decompressed" in result.stderr


def test_the_offsite_redirect_is_recorded_and_the_other_host_never_asked(five_seeds, elsewhere):
    db, result, requests, offsite, *_ = five_seeds
    assert [server.requests for server in elsewhere] == [[], []]
    row = page_rows(db)["/thread-4-1-1.html"]
    assert (row["kind"], row["status"], row["tid"]) == ("offsite", 302, 4)
    assert row["error"] == f"redirected (302) to {offsite}, off the site: not requested"
    assert "(offsite)" in result.stderr
    assert db.execute("SELECT count(*) FROM posts WHERE tid = 4").fetchone()[0] == 0


def test_a_post_of_a_million_characters_is_kept_whole(five_seeds):
    db, *_ = five_seeds
    text, html = post_text(db, 327)
    assert text == LONG_TEXT
    assert LONG_TEXT in html
    assert thread_posts(stored(db), 27) == thread_posts(visible(V1), 27)


def test_a_post_with_nul_bytes_and_bad_utf8_is_kept_without_nul(five_seeds):
    db, *_ = five_seeds
    row = page_rows(db)["/thread-28-1-1.html"]
    assert (row["kind"], row["charset"], row["error"]) == ("thread", "utf-8", None)
    text, html = post_text(db, 334)
    assert text == "beforeNULafter \ufffd\ufffd\ufffd( the end"
    assert "\x00" not in text and "\x00" not in html
    assert thread_posts(stored(db), 28) == thread_posts(visible(V1), 28)


class _UnannouncedHandler(_HostileHandler):
    """Answers as HostileForum plans, without Content-Length: the body runs to the close."""

    def do_GET(self):
        answer = self.server.forum.answer(self.path)
        self.send_response(answer.status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        try:
            for start in range(0, len(answer.body), 64 * 1024):
                self.wfile.write(answer.body[start : start + 64 * 1024])
        except (BrokenPipeError, ConnectionResetError):  # the crawler stopped reading
            pass
        self.close_connection = True


def test_a_page_over_the_cap_on_the_wire_is_refused_as_too_large_announced_or_not(tmp_path, scrapy_crawl):
    pages = {}
    with HostileForum(lambda target: pages.get(target)) as forum:
        forum_page = forum._rebase(LONG_POST, "text/html")  # 3 MB
        pages = {"/thread-27-1-1.html": Answer(200, forum_page), "/thread-28-1-1.html": Answer(200, forum_page)}
        forum._httpd.RequestHandlerClass = _UnannouncedHandler
        unannounced = crawl(scrapy_crawl, tmp_path / "a.db", [forum.base_url + "thread-27-1-1.html"], settings={"DOWNLOAD_MAXSIZE": "1000000"})
        forum._httpd.RequestHandlerClass = _HostileHandler
        crawl(scrapy_crawl, tmp_path / "a.db", [forum.base_url + "thread-28-1-1.html"], settings={"DOWNLOAD_MAXSIZE": "1000000"})
    assert unexpected_tracebacks(unannounced.stderr) == []
    rows = page_rows(Database(tmp_path / "a.db"))
    assert rows["/thread-27-1-1.html"]["kind"] == rows["/thread-28-1-1.html"]["kind"] == "too_large"
    assert re.fullmatch(r"over the size cap on the wire: \d+ bytes received, more than DOWNLOAD_MAXSIZE", rows["/thread-27-1-1.html"]["error"])
    assert rows["/thread-28-1-1.html"]["error"].startswith(
        f"over the size cap on the wire: Expected to receive {len(forum_page)} bytes which is larger than download max size (1000000)"
    )


# A page cut short ---------------------------------------------------------------------------

# Thread 2's first page (posts 47 to 56) cut after 30,000 bytes: posts 47, 48 and 49 end
# before the cut, post 50 is cut in the middle.
_THREAD_2 = (SAMPLE / "thread-2-1-1.html").read_bytes()
CUT_THREAD_2 = _THREAD_2[:30_000]


def test_a_cut_page_gives_its_whole_posts_only():
    page = parse_thread_page(CUT_THREAD_2, "http://127.0.0.1:8080/thread-2-1-1.html")
    whole = parse_thread_page(_THREAD_2, "http://127.0.0.1:8080/thread-2-1-1.html")
    assert [post.pid for post in page.posts] == [47, 48, 49]
    assert page.posts == whole.posts[:3]
    assert page.cut_short and "the 3 whole ones kept" in page.cut_short
    assert (page.page, page.page_count, page.replies) == (1, 3, whole.replies)
    # cut inside post 50's message: 50 is begun and not whole
    cut_in_50 = _THREAD_2[: _THREAD_2.index(b'id="postmessage_50"') + 300]
    assert [post.pid for post in parse_thread_page(cut_in_50, "http://127.0.0.1:8080/thread-2-1-1.html").posts] == [47, 48, 49]


def test_a_cut_page_keeps_its_whole_posts_and_the_next_run_completes_the_thread(tmp_path, scrapy_crawl):
    db_path = tmp_path / "archive.db"
    cut = {"on": True}
    def plan(target: str):
        if cut["on"] and target == "/thread-2-1-1.html":
            return Answer(200, forum._rebase(CUT_THREAD_2, "text/html"))
        return None

    with HostileForum(plan) as forum:
        first = crawl(scrapy_crawl, db_path, [forum.base_url + "thread-2-1-1.html"])
        db = Database(db_path)
        after_first = thread_posts(stored(db), 2)
        row = page_rows(db)["/thread-2-1-1.html"]
        cut["on"] = False
        second = crawl(scrapy_crawl, db_path, [forum.base_url + "thread-2-1-1.html"])
    assert first.returncode == 0 and second.returncode == 0 and unexpected_tracebacks(first.stderr) == []
    truth = thread_posts(visible(V1), 2)
    # pages 2 and 3 came through; of page 1 the three whole posts, not the cut one
    assert set(after_first) == set(truth) - {50, 51, 52, 53, 54, 55, 56}
    assert {47, 48, 49} <= set(after_first)
    assert (row["kind"], row["page"]) == ("broken", 1)
    assert "3 whole ones kept" in row["error"]
    db = Database(db_path)
    assert thread_posts(stored(db), 2) == truth
    assert db.execute("SELECT count(*), count(DISTINCT pid) FROM posts WHERE tid = 2").fetchone() == (29, 29)
    assert page_rows(db)["/thread-2-1-1.html"]["kind"] == "thread"
    assert db.execute("SELECT synced_replies FROM articles WHERE tid = 2").fetchone()[0] == 28


# Redirect chains ----------------------------------------------------------------------------

# One hop of a chain: where the next page is ("seed": the forum's host; another host; another
# port of the forum's host) and how this page sends there (an HTTP status, a meta refresh,
# Discuz's JavaScript), with an absolute or a relative (host-relative or scheme-relative) URL.
HOPS = st.tuples(
    st.sampled_from(["seed", "seed", "other_host", "other_port"]),
    st.sampled_from([301, 302, 303, 307, 308, "meta", "js"]),
    st.booleans(),
)
CHAINS = st.lists(st.lists(HOPS, min_size=1, max_size=5), min_size=1, max_size=8)
_TIDS = itertools.count(500)


def _hop_answer(how, location: str) -> Answer:
    if how == "meta":
        body = f'<html><head><meta http-equiv="refresh" content="0; url={location}"></head><body><p>跳转中</p></body></html>'
        return Answer(200, body.encode())
    if how == "js":  # showmessage's forward script; the archiver runs no script
        body = f"<html><body><script type=\"text/javascript\">window.location.href='{location}';</script></body></html>"
        return Answer(200, body.encode())
    return Answer(how, b"", {"Location": location})


@pytest.fixture(scope="module")
def chain_forum(elsewhere):
    with HostileForum(lambda target: None) as forum:
        yield forum


# Each example is a crawl (seconds): a few examples, and no shrinking of a failure (each step
# of it a crawl); the failing chains are printed whole.
@settings(max_examples=4, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.too_slow])
@given(chains=CHAINS)
@example(chains=[
    [("seed", 302, True), ("other_host", "meta", True)],  # on the site, then a meta refresh away
    [("seed", 301, False), ("other_port", 307, False)],  # another port of the same host
    [("other_host", 303, False)],  # scheme-relative: //127.0.0.2:port/…
    [("seed", "meta", False), ("seed", "js", True)],  # Discuz's script is never run
    [("seed", 308, True), ("seed", 302, False)],  # stays on the site: read
])
def test_any_redirect_chain_ends_on_the_site_or_is_recorded(chains, chain_forum, elsewhere, scrapy_crawl):
    forum = chain_forum
    bases = {"seed": forum.base_url, "other_host": elsewhere[0].base_url, "other_port": elsewhere[1].base_url}
    answers, expected, seeds = {}, {}, []
    for chain in chains:
        tid = next(_TIDS)
        nodes = [f"/thread-{tid}-1-1.html"] + [f"/hop/{tid}/{i}" for i in range(1, len(chain))]
        nodes.append(f"/forum.php?mod=viewthread&tid={tid}&hop=end")
        seeds.append(forum.base_url + nodes[0].lstrip("/"))
        for i, (where, how, absolute) in enumerate(chain):
            target = bases[where] + nodes[i + 1].lstrip("/")
            location = target if absolute else nodes[i + 1] if where == "seed" else target.removeprefix("http:")
            answers[nodes[i]] = _hop_answer(how, location)
            if how == "js":
                expected[tid] = (nodes[i], "antiscraping", None)
                break
            if where != "seed":
                expected[tid] = (nodes[0], "offsite", target)
                break
        else:
            answers[nodes[-1]] = Answer(200, (SAMPLE / "thread-27-1-1.html").read_bytes())
            expected[tid] = (nodes[-1], "thread", None)
    forum.plan = answers.get
    with tempfile.TemporaryDirectory() as directory:
        result = crawl(scrapy_crawl, Path(directory) / "archive.db", seeds)
        rows = page_rows(Database(Path(directory) / "archive.db"))
    # (a crawl whose every page is refused exits 1: nothing was archived)
    assert unexpected_tracebacks(result.stderr) == [], result.stderr[-3000:]
    assert [server.requests for server in elsewhere] == [[], []]
    for tid, (where, kind, target) in expected.items():
        assert rows[where]["kind"] == kind, (chains, tid, rows[where])
        if target:
            assert f"to {target}, off the site" in rows[where]["error"]


def test_an_attachment_whose_aid_is_a_superscript_digit_is_no_attachment_not_a_lost_page():
    # str.isdigit() holds for ² (and ①), which int() refuses; the post's page is read
    page = (Path(__file__).parent / "fixtures/discuz/x34-utf8-bapuro-mirror-thread-single-post-a.html").read_bytes()
    hostile = page.replace(b'id="postmessage_1">', 'id="postmessage_1"><ignore_js_op><img aid="\u00b2" src="a.jpg"></ignore_js_op>'.encode(), 1)
    url = "http://www.bapuro.net/thread-1-1-1.html"
    assert hostile != page
    read = parse_thread_page(hostile, url)
    assert [post.pid for post in read.posts] == [post.pid for post in parse_thread_page(page, url).posts]
    assert read.posts[0].attachments == []


def test_a_page_holding_references_to_characters_xml_refuses_is_read_without_them():
    # Discuz's escaping lets a member type "&#1;" or "&#xFFFF;"; libxml2 makes the character
    # of it, which lxml refuses to set as a text: the whole page was lost to a parse error
    from scraper.html_page import without_refused_references
    from scraper.models import FetchedPage
    from scraper.reading import fill_fetched_page

    page = (Path(__file__).parent / "fixtures/discuz/x34-utf8-bapuro-mirror-thread-single-post-a.html").read_bytes()
    hostile = page.replace(b'id="postmessage_1">', b'id="postmessage_1"><p>a&#1;b&#xFFFF;c&#13;d&#110;</p><img src="x&#x2;.jpg">', 1)
    assert hostile != page and without_refused_references(page) is page
    assert without_refused_references(b"&#01;&#11&#12;&#x0B;&#x1f;&#65535;&#xfffe;&#9;&#10;&#13;&#32;&#x1F600;&#xFFFD;") == (
        b"&#9;&#10;&#13;&#32;&#x1F600;&#xFFFD;")
    fetched = FetchedPage(url="http://www.bapuro.net/thread-1-1-1.html", site="www.bapuro.net", kind="thread", status=200,
                          fetched_at="2026-12-07T00:00:00+00:00", size=len(hostile), sha256="", asked_as="thread")
    assert fill_fetched_page(fetched, hostile) is None
    assert (fetched.kind, fetched.error) == ("thread", None)
    post = fetched.thread.posts[0]
    assert post.content_text.startswith("abcdn\n") and post.images == ["http://www.bapuro.net/x.jpg"]
