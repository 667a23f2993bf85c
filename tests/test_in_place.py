"""The thread parser cleans each message in the page's own tree, last (scraper.thread's
_PostReader.messages), where no message holds another; else in copies. Every fixture and
corpus thread page gives the same ThreadPage as with copies, and so does a page whose
messages nest."""

from pathlib import Path

import pytest

from scraper import content, thread
from scraper.problems import PageProblem
from scraper.thread import parse_thread_page

TESTS = Path(__file__).parent
PAGES = sorted(path for folder in (TESTS / "fixtures", TESTS / "corpus/pages") for path in folder.rglob("*.htm*")
               if b"viewthread" in path.read_bytes() or "thread" in path.name)
URL = "http://127.0.0.1:8080/forum.php?mod=viewthread&tid=1&page=1"
NESTED = """<html><body><div id="posts">
<div id="post_1"><table><tr><td class="t_f" id="postmessage_1">outer <a href="a.html">link</a><br>
<font class="jammer">xx</font><div id="post_2"><div class="t_f" id="postmessage_2">inner
<a href="b.html">b</a><br>line<blockquote>quoted</blockquote></div></div> after</td></tr></table></div>
</div></body></html>"""


def parse(body: bytes, copies: bool, monkeypatch):
    with monkeypatch.context() as patch:  # undone here, the caller's own patches kept
        if copies:
            extract = content.extract_message
            patch.setattr(thread, "extract_message", lambda element, base_url, in_place: extract(element, base_url))
        try:
            return parse_thread_page(body, URL)
        except PageProblem as problem:
            return problem.kind


@pytest.mark.parametrize("path", PAGES, ids=lambda path: path.name)
def test_in_place_reads_as_copies(path, monkeypatch):
    body = path.read_bytes()
    assert parse(body, False, monkeypatch) == parse(body, True, monkeypatch)


def test_messages_that_nest_are_read_from_copies(monkeypatch):
    page = parse(NESTED.encode(), False, monkeypatch)
    assert [post.pid for post in page.posts] == [1, 2]
    assert "inner" in page.posts[0].content_text and "> quoted" in page.posts[1].content_text
    assert page == parse(NESTED.encode(), True, monkeypatch)


def test_without_lxmls_table_of_ids_every_page_reads_the_same(monkeypatch):
    """scraper.page_ids reads lxml's private etree._IDDict: where a version of lxml lacks it,
    each answer falls back to the search or XPath it stands for, and every page reads alike."""
    from lxml import etree

    with_table = [parse(path.read_bytes(), False, monkeypatch) for path in PAGES]
    monkeypatch.delattr(etree, "_IDDict")
    assert [parse(path.read_bytes(), False, monkeypatch) for path in PAGES] == with_table
