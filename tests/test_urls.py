"""Discuz URL forms."""

from urllib.parse import parse_qs

import pytest

from scraper.urls import (
    ThreadRef,
    desktop_thread_url,
    guide_view,
    query_values,
    site_of,
    split_urls,
    thread_page_url,
    thread_ref,
)


@pytest.mark.parametrize(
    "url, ref",
    [
        ("http://127.0.0.1:8080/thread-1-2-1.html", ThreadRef(1, 2)),
        ("http://x.cn/bbs/forum.php?mod=viewthread&tid=5&extra=page%3D1&page=3", ThreadRef(5, 3)),
        ("http://x.cn/forum.php?mod=viewthread&tid=5", ThreadRef(5, 1)),
        ("http://x.cn/viewthread.php?tid=9&page=2", ThreadRef(9, 2)),
        ("http://x.cn/bbs/archiver/?tid-12.html", ThreadRef(12, 1)),
        ("http://x.cn/archiver/?tid-12-page-3.html", ThreadRef(12, 3)),
        ("http://x.cn/api/mobile/index.php?version=4&module=viewthread&tid=1&page=2", ThreadRef(1, 2)),
        # sites' own rewrite rules, and a static mirror's
        ("http://x.cn/t123-2-1", ThreadRef(123, 2)),
        ("http://x.cn/bbs/t123-1-1.html", ThreadRef(123, 1)),
        ("http://bbs.bagdax.cn/thread4460-2.html", ThreadRef(4460, 2)),
        ("http://bbs.bagdax.cn/thread4460.html", ThreadRef(4460, 1)),
        ("http://x.cn/forum-2-1.html", None),
        ("http://x.cn/f45-1", None),
        ("http://x.cn/forum.php?mod=forumdisplay&fid=2", None),
        ("http://x.cn/forum.php", None),
        # str.isdigit() holds for ², which int() refuses: no thread, not a crash; ５ is 5 to int()
        ("http://x.cn/forum.php?mod=viewthread&tid=%C2%B2", None),
        ("http://x.cn/forum.php?mod=viewthread&tid=5&page=%C2%B2", ThreadRef(5, 1)),
        ("http://x.cn/forum.php?mod=viewthread&tid=%EF%BC%95", ThreadRef(5, 1)),
    ],
)
def test_thread_ref(url, ref):
    assert thread_ref(url) == ref


@pytest.mark.parametrize(
    "url, site",
    [
        ("http://127.0.0.1:8080/thread-1-2-1.html", "127.0.0.1:8080"),
        ("https://example.com/bbs/forum.php?mod=viewthread&tid=5", "example.com/bbs"),
        ("https://example.com/bbs/archiver/?tid-5.html", "example.com/bbs"),
        ("https://example.com/", "example.com"),
    ],
)
def test_site_of(url, site):
    assert site_of(url) == site


def test_archiver_and_api_urls_are_read_through_the_desktop_page():
    assert desktop_thread_url("http://x.cn/bbs/archiver/?tid-12.html") == "http://x.cn/bbs/forum.php?mod=viewthread&tid=12"
    assert (
        desktop_thread_url("http://x.cn/api/mobile/index.php?version=4&module=viewthread&tid=1&page=2")
        == "http://x.cn/forum.php?mod=viewthread&tid=1&page=2"
    )
    assert desktop_thread_url("http://x.cn/thread-1-1-1.html") == "http://x.cn/thread-1-1-1.html"


def test_split_urls():
    assert split_urls(" a, b  c,d\n") == ["a", "b", "c", "d"]


@pytest.mark.parametrize(
    "url, page, wanted",
    [
        ("http://x.cn/thread-5-1-1.html", 3, "http://x.cn/thread-5-3-1.html"),
        ("http://x.cn/t5-1-1", 3, "http://x.cn/t5-3-1"),
        ("http://bbs.bagdax.cn/thread4460-2.html", 3, "http://bbs.bagdax.cn/thread4460-3.html"),
        ("http://bbs.bagdax.cn/thread4460.html", 1, "http://bbs.bagdax.cn/thread4460.html"),
        ("http://bbs.bagdax.cn/thread4460.html", 2, None),  # where page 2 is, only the pager says
    ],
)
def test_thread_page_url_in_the_urls_own_form(url, page, wanted):
    assert thread_page_url(url, page) == wanted


@pytest.mark.parametrize(
    "url, view",
    [
        ("http://x.cn/forum.php?mod=guide&view=new", "new"),
        ("http://x.cn/bbs/forum.php?mod=guide&view=hot&page=3", "hot"),
        ("http://x.cn/forum.php?mod=guide&view=digest", "digest"),
        ("http://x.cn/forum.php?mod=guide", "new"),
        ("https://www.52pojie.cn/forum.php?mod=guide&view=tech", "tech"),  # a plugin's view
        ("http://x.cn/forum.php?mod=guide&view=my", None),  # a member's own
        ("http://x.cn/forum.php?mod=forumdisplay&fid=2", None),
    ],
)
def test_guide_view(url, view):
    assert guide_view(url) == view


@pytest.mark.parametrize(
    "query",
    ["", "mod=viewthread&tid=5&page=2", "mod=viewthread&mod=viewthread&tid=5", "tid=&page=2", "tid&page=2", "&&a=1&",
     "=1&a==2&b=c=d", "aid=MTJ8YWJj%3D%3D&nothumb=yes", "a=b+c", "a;b=1", "tid=5#x", "name=中文&x=%E4%B8%AD",
     "extra=page%3D1&page=3", "a=1&a=2&a="],
)
def test_query_values_are_parse_qs(query):
    assert query_values(query) == parse_qs(query)
