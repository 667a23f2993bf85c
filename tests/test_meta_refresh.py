"""spiders.meta_refresh answers as Scrapy's MetaRefreshMiddleware does, on every real page we
hold and on those pages with a refresh put in, without decoding the pages that hold none."""

from __future__ import annotations

from pathlib import Path

import pytest
from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware
from scrapy.http import HtmlResponse, Request
from scrapy.utils.test import get_crawler

from spiders.meta_refresh import MetaRefresh

ROOT = Path(__file__).resolve().parent
PAGES = sorted(
    path for folder in (ROOT / "fixtures", ROOT / "corpus", ROOT.parent / "sample_forum")
    for path in folder.rglob("*") if path.suffix in (".html", ".htm")
)
REFRESH = b'<meta http-equiv="refresh" content="0;url=forum.php?mod=viewthread&amp;tid=2" />'


def answers(middleware, body: bytes, content_type: str = "text/html"):
    request = Request("http://127.0.0.1:8/forum.php?mod=redirect&goto=lastpost&tid=2")
    response = HtmlResponse(request.url, body=body, headers={"Content-Type": content_type}, request=request)
    result = middleware.process_response(request, response)
    return ("same page",) if result is response else ("asks", result.url, result.meta.get("redirect_reasons"))


@pytest.fixture(scope="module")
def both():
    crawler = get_crawler(settings_dict={"METAREFRESH_ENABLED": True})
    return MetaRefreshMiddleware.from_crawler(crawler), MetaRefresh.from_crawler(crawler)


def variants(body: bytes):
    yield body
    head = body.lower().find(b"<head>")
    at = head + len(b"<head>") if head >= 0 else 0
    yield body[:at] + REFRESH + body[at:]  # followed
    yield body[:at] + REFRESH.upper().replace(b"0;URL=FORUM.PHP", b"0;url=forum.php") + body[at:]
    yield body[:at] + b"<script>" + REFRESH + b"</script>" + body[at:]  # in a script: not followed
    yield body + REFRESH  # past the first 4,096 characters: not followed


def test_real_pages_with_and_without_a_refresh(both):
    scrapys, ours = both
    assert len(PAGES) > 100
    followed = 0
    for path in PAGES:
        for body in variants(path.read_bytes()):
            expected = answers(scrapys, body)
            assert answers(ours, body) == expected, path
            followed += expected[0] == "asks"
    assert followed >= 2 * len(PAGES) - 10  # the two variants with a refresh in the head


def test_encodings_whose_bytes_are_not_ascii_letters_are_read_by_scrapy(both):
    scrapys, ours = both
    page = "<html><head>" + REFRESH.decode() + "<title>論壇</title></head><body>文章</body></html>"
    for encoding in ("utf-16", "utf-16-be", "gb18030", "big5", "utf-8"):
        body = page.encode(encoding)
        content_type = f"text/html; charset={encoding}"
        assert answers(ours, body, content_type) == answers(scrapys, body, content_type) != ("same page",)


def test_a_page_without_the_word_is_not_decoded(both):
    _, ours = both
    body = (ROOT.parent / "sample_forum" / "v1" / "forum.php.html").read_bytes()
    assert b"refresh" not in body.lower()
    request = Request("http://127.0.0.1:8/forum.php")
    response = HtmlResponse(request.url, body=body, headers={"Content-Type": "text/html; charset=utf-8"}, request=request)
    assert ours.process_response(request, response) is response
    assert response._cached_ubody is None  # Scrapy's would have decoded the whole page
