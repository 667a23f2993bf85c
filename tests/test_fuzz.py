"""Hostile input for the pure parsers: real pages, damaged the way the web damages them.

Each property takes a real page (tests/fixtures/discuz, sample_forum/v1), cuts it at a random
byte, drops elements, shuffles and mangles attributes, injects Discuz's noise, declares the
wrong charset or swaps in random bytes, and hands it to its parser. The parser either returns
its dataclass or says what the page is instead (PageProblem); any other exception is a
parser bug, because in a crawl it would cost the page its recorded kind.
"""

from __future__ import annotations

import csv
import os
import random
import re
from pathlib import Path
from typing import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree, html

from scraper.thread import parse_thread_page
from scraper.encoding import decode_html
from scraper.forum_index import parse_index_page
from scraper.listing import parse_forum_page
from scraper.problems import PageProblem
from scraper.models import ForumPage, IndexPage, ThreadPage
from scraper.noise import looks_like_noise

ROOT = Path(__file__).parent.parent
FIXTURES = ROOT / "tests/fixtures/discuz"
SAMPLE = ROOT / "sample_forum/v1"
SAMPLE_BASE = "http://127.0.0.1:8080/"

# FUZZ_EXAMPLES=2000 for a longer hunt; the default keeps the whole file under a minute.
FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", 50)),
    deadline=None,
    database=None,  # nothing written into the work tree
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)


class Page:
    """A real page and how the crawl would read it."""

    def __init__(self, name: str, body: bytes, url: str, parse: Callable, result: type):
        self.name, self.body, self.url, self.parse, self.result = name, body, url, parse, result

    def __repr__(self) -> str:  # Hypothesis prints failing examples: the name says it all
        return f"Page({self.name!r})"


READERS = {
    "thread": (parse_thread_page, ThreadPage),
    "forum": (parse_forum_page, ForumPage),
    "index": (parse_index_page, IndexPage),
}


def _kind(name: str) -> str:
    if "forumdisplay" in name or name.startswith("forum-") or "-forum-" in name:
        return "forum"
    if "index" in name or name.startswith("forum.php"):
        return "index"
    return "thread"


def _real_pages() -> list[Page]:
    with open(FIXTURES / "VARIANTS.tsv", encoding="utf-8", newline="") as f:
        urls = {row["file"]: row["url"] for row in csv.DictReader(f, delimiter="\t")}
    files = sorted(FIXTURES.glob("*.html"))
    files += sorted(SAMPLE.glob("thread-*.html")) + sorted(SAMPLE.glob("forum-*.html"))
    files += [SAMPLE / "forum.php.html", SAMPLE / "forum.php@gid=1.html"]
    pages = []
    for path in files:
        if path.parent == SAMPLE:
            url = SAMPLE_BASE + path.name.replace("@", "?").removesuffix(".html" if "@" in path.name else "")
        else:  # fixtures without a known address: the parser takes ids from the markup
            url = urls.get(path.name, "http://bbs.example.com/forum.php")
        parse, result = READERS[_kind(path.name)]
        pages.append(Page(path.name, path.read_bytes(), url, parse, result))
    return pages


PAGES = _real_pages()
THREAD_PAGES = [page for page in PAGES if page.result is ThreadPage]
pages = st.sampled_from(PAGES)


def read(page: Page, body: bytes, content_type: str | None = None, parse: Callable | None = None):
    """The parser's answer: its dataclass, or the PageProblem it raised (anything else fails)."""
    try:
        return (parse or page.parse)(body, page.url, content_type=content_type)
    except PageProblem as problem:
        assert problem.kind and problem.message, (problem.kind, problem.message)
        return problem


def assert_read(page: Page, body: bytes, content_type: str | None = None):
    answer = read(page, body, content_type)
    assert isinstance(answer, (page.result, PageProblem)), type(answer)
    return answer


def tree(page: Page) -> etree._Element:
    """The page as a tree to damage (without the control characters lxml's API refuses:
    some real pages carry them, and the parser's own handling of them is fuzzed on bytes)."""
    return html.document_fromstring(re.sub("[\x00-\x08\x0b\x0c\x0e-\x1f]", "", decode_html(page.body).text))


def to_bytes(root: etree._Element) -> bytes:
    return html.tostring(root, encoding="utf-8", doctype="<!DOCTYPE html>")


UTF8 = "text/html; charset=utf-8"


# Truncation and random bytes ---------------------------------------------------------------


@FUZZ
@given(page=pages, cut=st.floats(0, 1))
def test_a_page_cut_at_any_byte_is_read_or_told_apart(page, cut):
    body = page.body[: int(len(page.body) * cut)]
    for parse in (parse_thread_page, parse_forum_page, parse_index_page):
        answer = read(page, body, parse=parse)
        assert isinstance(answer, (ThreadPage, ForumPage, IndexPage, PageProblem))


@FUZZ
@given(page=pages, cut=st.floats(0, 1), junk=st.binary(min_size=1, max_size=400))
def test_random_bytes_inside_a_page(page, cut, junk):
    at = int(len(page.body) * cut)
    assert_read(page, page.body[:at] + junk + page.body[at:])


@FUZZ
@given(
    body=st.binary(max_size=3000),
    content_type=st.sampled_from([None, UTF8, "text/html; charset=gbk", "application/octet-stream"]),
)
def test_random_bytes_are_never_a_crash(body, content_type):
    for parse, _ in READERS.values():
        read(PAGES[0], body, content_type, parse=parse)


# Elements and attributes -------------------------------------------------------------------


@FUZZ
@given(page=pages, picks=st.lists(st.floats(0, 1, exclude_max=True), min_size=1, max_size=40), keep_tail=st.booleans())
def test_dropped_elements(page, picks, keep_tail):
    root = tree(page)
    elements = [e for e in root.iter() if isinstance(e.tag, str) and e.getparent() is not None]
    for pick in picks:
        element = elements[int(pick * len(elements))]
        if not _attached(element, root):  # went with an ancestor dropped before
            continue
        if keep_tail:
            element.drop_tree()
        else:
            element.getparent().remove(element)
    assert_read(page, to_bytes(root), UTF8)


def _attached(element: etree._Element, root: etree._Element) -> bool:
    return any(ancestor is root for ancestor in element.iterancestors())


# Pieces of values that URLs, ids and classes break on: brackets (an IPv6 host to urlsplit),
# quotes, percent signs, the prefixes the parser looks for, a right-to-left override.
WEIRD_VALUES = st.lists(
    st.sampled_from(list("0123456789_-=&?#/:.[]%\\ '\"<>") + ["post_", "pid", "tid=", "http://", "[::1", "抱歉", "\u202e"]),
    max_size=12,
).map("".join)


@FUZZ
@given(
    page=pages,
    rnd=st.randoms(use_true_random=False),
    changes=st.integers(1, 60),
    values=st.lists(WEIRD_VALUES, min_size=1, max_size=10),
)
def test_shuffled_and_mangled_attributes(page, rnd, changes, values):
    """Attribute order, ids and classes moved between elements, values replaced or removed:
    markup Discuz's own themes and plugins produce (duplicate ids, empty hrefs, odd numbers)."""
    root = tree(page)
    elements = [e for e in root.iter() if isinstance(e.tag, str) and e.attrib]
    for _ in range(changes):
        element = rnd.choice(elements)
        names = list(element.attrib)
        if not names:
            continue
        name = rnd.choice(names)
        action = rnd.randrange(5)
        if action == 0:  # shuffle the order
            items = list(element.attrib.items())
            rnd.shuffle(items)
            element.attrib.clear()
            element.attrib.update(items)
        elif action == 1:
            del element.attrib[name]
        elif action == 2:  # another element's value: duplicate ids, misplaced classes
            other = rnd.choice(elements)
            if other.attrib:
                element.set(name, rnd.choice(list(other.attrib.values())))
        elif action == 3:
            element.set(name, rnd.choice(values))
        else:
            element.set(name, _mangle_numbers(rnd, element.get(name)))
    assert_read(page, to_bytes(root), UTF8)


def _mangle_numbers(rnd: random.Random, text: str) -> str:
    """Numbers past any real id, dates no calendar has (2013-99-00 99:99), a zero page."""
    return "".join(
        c if not c.isdigit() or rnd.random() < 0.5 else rnd.choice("09") * rnd.randint(1, 25) for c in text
    )


@FUZZ
@given(page=pages, rnd=st.randoms(use_true_random=False), share=st.floats(0.05, 1))
def test_impossible_numbers_and_dates_in_the_text(page, rnd, share):
    """Floor numbers, counts, page labels and post times, each digit maybe replaced."""
    root = tree(page)
    for element in root.iter():
        if not isinstance(element.tag, str) or element.tag in ("script", "style"):
            continue
        if element.text and rnd.random() < share:
            element.text = _mangle_numbers(rnd, element.text)
        if element.tail and rnd.random() < share:
            element.tail = _mangle_numbers(rnd, element.tail)
        if "title" in element.attrib and rnd.random() < share:  # relative times keep the exact one here
            element.set("title", _mangle_numbers(rnd, element.get("title")))
    assert_read(page, to_bytes(root), UTF8)


# Noise -------------------------------------------------------------------------------------

# The X2/X3 generator: 5-15 groups of a char from space..';', a space, a char from '?'..'~'.
noise_strings = st.lists(
    st.tuples(
        st.characters(min_codepoint=0x20, max_codepoint=0x3B), st.characters(min_codepoint=0x3F, max_codepoint=0x7E)
    ),
    min_size=5,
    max_size=15,
).map(lambda groups: "".join(f"{a} {b}" for a, b in groups))
NOISE_WRAPPERS = (
    '<font class="jammer">{}</font>',  # X2/X3
    '<span style="display:none">{}</span>',  # X2/X3
    '<font style="font-size:0px;color:#FFFFFF">{}</font>',  # Discuz 7
)
MESSAGES = etree.XPath(
    "//*[starts-with(@id, 'postmessage_') or contains(@class, 't_msgfont')"
    " or contains(concat(' ', normalize-space(@class), ' '), ' message ')]"
)
# Where noise never goes: raw text elements and empty ones.
_NO_CHILDREN = {"script", "style", "textarea", "title", "xmp", "img", "br", "hr", "input", "iframe", "noscript"}


@FUZZ
@given(
    page=st.sampled_from(THREAD_PAGES),
    rnd=st.randoms(use_true_random=False),
    noise=st.lists(noise_strings, min_size=1, max_size=12),
)
def test_injected_noise_never_reaches_the_text(page, rnd, noise):
    """Noise elements, every wrapper Discuz uses, anywhere in the messages' text."""
    root = tree(page)
    messages = MESSAGES(root)
    if not messages:
        return
    for text in noise:
        wrapper = html.fragment_fromstring(rnd.choice(NOISE_WRAPPERS).format(_escape(text)))
        _insert_somewhere(rnd, rnd.choice(messages), wrapper)
    answer = assert_read(page, to_bytes(root), UTF8)
    original = read(page, page.body)
    if not isinstance(answer, ThreadPage) or not isinstance(original, ThreadPage):
        return
    clean = {post.pid for post in original.posts if not looks_like_noise(post.content_text)}
    for post in answer.posts:
        assert not any(text in post.content_text for text in noise), (post.pid, post.content_text)
        assert "jammer" not in post.content_html and "display:none" not in post.content_html
        assert post.pid not in clean or not looks_like_noise(post.content_text), (post.pid, post.content_text)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;")


def _insert_somewhere(rnd: random.Random, message: etree._Element, noise: etree._Element) -> None:
    """Put ``noise`` at a random place in the message's text, as Discuz does at line breaks."""
    hosts = [message] + [e for e in message.iterdescendants() if isinstance(e.tag, str) and e.tag not in _NO_CHILDREN]
    host = rnd.choice(hosts)
    if host is message or rnd.random() < 0.5:  # inside host, cutting its text
        text = host.text or ""
        cut = rnd.randint(0, len(text))
        host.text, noise.tail = text[:cut], text[cut:]
        host.insert(0, noise)
    else:  # after host, cutting its tail
        tail = host.tail or ""
        cut = rnd.randint(0, len(tail))
        host.tail, noise.tail = tail[:cut], tail[cut:]
        host.addnext(noise)


# Charsets ----------------------------------------------------------------------------------

ASCII_SUPERSETS = ["utf-8", "gb18030", "gbk", "big5", "shift_jis", "windows-1252", "koi8-r"]


@FUZZ
@given(
    page=pages,
    written=st.sampled_from(ASCII_SUPERSETS + ["utf-16"]),
    declared=st.sampled_from(ASCII_SUPERSETS),
    where=st.sampled_from(["header", "meta", "both"]),
)
def test_a_declared_charset_that_lies(page, written, declared, where):
    """The bytes in one charset, the header or the meta tag naming another. Where the bytes
    keep ASCII (every charset Discuz ships does), the same posts are found."""
    text = decode_html(page.body).text
    if where != "header":
        text = _declare_in_meta(text, declared)
    body = text.encode(written, errors="xmlcharrefreplace")
    content_type = f"text/html; charset={declared}" if where != "meta" else "text/html"
    answer = assert_read(page, body, content_type)
    original = read(page, page.body)
    if written != "utf-16" and isinstance(original, ThreadPage) and isinstance(answer, ThreadPage):
        assert [post.pid for post in answer.posts] == [post.pid for post in original.posts]


def _declare_in_meta(text: str, charset: str) -> str:
    text, count = re.subn(r"(<meta[^>]*charset=)[\"']?[\w-]+", rf"\g<1>{charset}", text, count=1, flags=re.I)
    return text if count else text.replace("<head>", f'<head><meta charset="{charset}">', 1)


# Every page as it is ------------------------------------------------------------------------


# The sample forum's own message pages: a deleted thread, one that never was, a missing forum.
MESSAGE_PAGES = {"thread-7-1-1.html": "missing", "thread-9999-1-1.html": "missing", "forum-99-1.html": "missing"}


@pytest.mark.parametrize("page", PAGES, ids=[page.name for page in PAGES])
def test_every_real_page_reads_with_its_own_parser(page):
    answer = read(page, page.body)
    if page.name in MESSAGE_PAGES:
        assert isinstance(answer, PageProblem) and answer.kind == MESSAGE_PAGES[page.name]
    else:
        assert isinstance(answer, page.result)


# What the fuzzing found, pinned ------------------------------------------------------------

X35_THREAD = SAMPLE / "thread-1-2-1.html"
X35_THREAD_URL = SAMPLE_BASE + "thread-1-2-1.html"


def test_control_characters_in_a_page():
    """Discuz 7's archiver jammer is chr(0..59): control characters lxml refuses in text."""
    body = X35_THREAD.read_bytes().replace("很多朋友问".encode(), "很多\x01朋友\x0b问".encode())
    page = parse_thread_page(body, X35_THREAD_URL)
    assert len(page.posts) == 10 and "很多朋友问" in page.posts[0].content_text


def test_a_time_no_calendar_has_is_no_time():
    body = X35_THREAD.read_bytes().replace(b"2013-4-9 14:52", b"2013-13-0 99:52").replace(b"GMT+8", b"GMT+99")
    page = parse_thread_page(body, X35_THREAD_URL)
    times = {post.pid: post.posted_at for post in page.posts}
    assert times[12] is None and times[11] == "2013-03-25T07:52:48+08:00"  # GMT+99 is no offset either


def test_hrefs_that_are_no_url():
    """``http://[`` makes urllib raise: in the base, the pager, a message, the thread list."""
    thread = X35_THREAD.read_bytes().replace(b'href="thread-1-3-1.html"', b'href="http://[broken/"', 1)
    thread = thread.replace(b'<base href="http://127.0.0.1:8080/"', b'<base href="http://[/"', 1)
    page = parse_thread_page(thread, X35_THREAD_URL)
    assert len(page.posts) == 10 and page.page_urls[1] == SAMPLE_BASE + "thread-1-1-1.html"
    forum = (SAMPLE / "forum-2-1.html").read_bytes().replace(b'href="thread-', b'href="http://[thread-', 3)
    assert parse_forum_page(forum, SAMPLE_BASE + "forum-2-1.html").threads


def test_attachment_and_type_addresses_that_are_no_url():
    """An image known only by its attachment address (bagdax, X2.5) and a thread type's link,
    each with a broken host: that one address is lost, not the page."""
    page = FIXTURES / "x25-utf8-bagdax-uyghur-rtl-thread-p1of5.html"
    body = page.read_bytes().replace(b'src="./media/forum.php?mod=attachment', b'src="http://[/forum.php?mod=attachment', 1)
    parsed = parse_thread_page(body, "http://bagdax.cn/thread4460.html")
    assert len(parsed.extras.attachments) == 5  # the broken image's aid is still read from its query
    thread = X35_THREAD.read_bytes().replace(b'<h1 class="ts">', b'<h1 class="ts"><a href="http://[/forum.php?mod=forumdisplay&typeid=3">[t]</a>', 1)
    assert parse_thread_page(thread, X35_THREAD_URL).extras.type_id == 3


def test_a_page_of_another_kind_says_why_it_is_not_a_listing():
    """problem_of lost its default message: the thread page given to the forum parser said ''."""
    with pytest.raises(PageProblem) as raised:
        parse_forum_page(X35_THREAD.read_bytes(), SAMPLE_BASE + "forum-2-1.html")
    assert raised.value.kind == "no_listing"
    assert raised.value.message == "no thread list found on the page (an unknown template?)"


def test_a_page_of_comment_words_before_an_empty_block():
    """The test for a 点评 block read each "comment_1" to the next ">": a page of them before an
    empty block's ">" (3 MB in an attribute here) cost one scan of the rest for each, minutes
    where it now reads once."""
    page = FIXTURES / "x34-utf8-talkop-thread-p1of10.html"  # real 点评 under its posts
    words = b'<div title="' + b"comment_1 " * 300_000 + b'"></div>'
    body = page.read_bytes().replace(b'<div id="postlist"', words + b'<div id="postlist"', 1)
    parsed = parse_thread_page(body, "https://bbs.talkop.com/thread-107596-1-1.html")
    assert len(parsed.posts) == 10
    assert parsed.extras.comments[0].content_text == "红茶你真的很棒啊"
