"""Discuz portal pages (门户) to dataclasses: an article's page (``portal.php?mod=view&aid=N
&page=P``, ``article-N-P.html``), its comment list (``portal.php?mod=comment&id=N&idtype=aid``)
and the portal's index and category lists (``portal.php``, ``portal.php?mod=list&catid=N``).
No Scrapy, no I/O.

An article page: title ``h1.ph``; under it ``p.xg1``: time | 发布者: member | 查看: N
| 评论: N | 原作者: writer (the writer is a name the publisher typed, not a member);
摘要 in ``div.s``; the text in ``td#article_content``, cleaned as post messages are
(scraper.content: noise removed, sanitised, links absolute); the newest comments in
``dl#comment_CID_li``; the category is the breadcrumb's list link. A long article is split
into pages, each with its own pager.
"""

from __future__ import annotations

import re
from datetime import datetime, tzinfo
from urllib.parse import parse_qs, urlsplit

from lxml import etree

from scraper.content import extract_message
from scraper.dates import page_time
from scraper.encoding import decode_html
from scraper.extras_models import (
    PortalArticle,
    PortalArticlePage,
    PortalComment,
    PortalCommentPage,
    PortalListPage,
)
from scraper.html_page import open_page
from scraper.kinds import PageKind
from scraper.problems import PageProblem, discuz_message, problem_of
from scraper.urls import UID_IN_HREF, absolute_url, site_of
from scraper.xpath import compiled, first_int, has_class, squash, words_of

_ARTICLE_URL = re.compile(r"(?:^|/)article-(\d+)-(\d+)\.html$")
_LIST_URL = re.compile(r"(?:^|/)list-(\d+)(?:-(\d+))?\.html$")

_TITLE = compiled(f"//h1[{has_class('ph')}]")
_META = compiled(f"//div[{has_class('h')}]/p[{has_class('xg1')}] | //h1[{has_class('ph')}]/p[{has_class('xg1')}]")
_META_LINKS = compiled(".//a[contains(@href, 'uid')]")
_VIEWS = compiled("id('_viewnum')")
_COMMENT_COUNT = compiled("id('_commentnum')")
_SUMMARY = compiled(f"//div[{has_class('s')}]")
_CONTENT = compiled("id('article_content')")
_BREADCRUMB_LISTS = compiled("id('pt')//a[contains(@href, 'mod=list') or contains(@href, 'list-')]")
_PAGER = compiled(f"//div[{has_class('pg')}][not(ancestor::*[@id='comment'])]")
_PAGE_LINKS = compiled(".//a[@href]")
_CURRENT = compiled("./strong/text()")
_PAGE_COUNT = compiled(".//label//span/@title | .//label//span/text()")
_COMMENTS = compiled("//dl[starts-with(@id, 'comment_')][substring(@id, string-length(@id) - 2) = '_li']")
_COMMENT_AUTHOR = compiled("./dt//a[contains(@href, 'uid') and normalize-space()]")
_COMMENT_TIME = compiled(f"./dt//span[{has_class('xg1')}]")
_COMMENT_TEXT = compiled("./dd")
_COMMENTS_LINK = compiled("//a[contains(@href, 'mod=comment') and contains(@href, 'idtype=aid')]/@href")
_ALL_LINKS = compiled("//a[@href]")
_LIST_NAME = compiled(f"//div[{has_class('bm_h')}]/h1 | //div[{has_class('bm_h')}]/h2")
_META_FIELD = re.compile(r"(发布者|發佈者|作者|原作者|来自|來自|查看|点击|點擊|评论|評論)\s*[:：]\s*([^|]*)")
# The labels of the view count in a theme that prints it without em#_viewnum ("点击: 313").
_VIEW_LABELS = ("查看", "点击", "點擊")


def article_ref(url: str) -> tuple[int, int] | None:
    """(aid, page) of an article URL, or None."""
    parts = urlsplit(url)
    if match := _ARTICLE_URL.search(parts.path):
        return int(match[1]), int(match[2])
    query = parse_qs(parts.query)
    if parts.path.endswith("portal.php") and query.get("mod", [""])[-1] == "view" and query.get("aid"):
        aid = first_int(query["aid"][-1])
        return (aid, first_int(query.get("page", ["1"])[-1]) or 1) if aid else None
    return None


def list_ref(url: str) -> tuple[int | None, int] | None:
    """(catid, page) of a portal list URL (``portal.php?mod=list&catid=N&page=P``,
    ``list-N-P.html``), (None, 1) for the portal's index (``portal.php``), or None."""
    parts = urlsplit(url)
    if _LIST_URL.search(parts.path):
        return _catid(url), _page_of(url) or 1
    if not parts.path.endswith("portal.php"):
        return None
    mod = parse_qs(parts.query).get("mod", ["index"])[-1]
    if mod == "index":
        return None, 1
    catid = _catid(url)
    return (catid, _page_of(url) or 1) if mod == "list" and catid is not None else None


def is_portal_url(url: str) -> bool:
    """An article's page, a category list or the portal's index."""
    return article_ref(url) is not None or list_ref(url) is not None


def parse_article_page(
    body: bytes | str,
    url: str,
    *,
    content_type: str | None = None,
    fetched_at: datetime | None = None,
    utc_offset: str | tzinfo | None = None,
) -> PortalArticlePage:
    """One page of a portal article. Raises PageProblem for a page that is not one (a
    deleted article's message, a login wall)."""
    text = body if isinstance(body, str) else decode_html(body, content_type).text
    sel, base_url, tz = open_page(text, url, utc_offset)
    root = sel.root
    content = _CONTENT(root)
    if not content:
        raise problem_of(sel, text, kind=PageKind.NO_ARTICLE, message="no article text found on the page (an unknown template?)")
    ref = article_ref(url)
    if ref is None:
        raise PageProblem(PageKind.UNKNOWN, "a portal article page without an aid in its URL")
    aid, page = ref
    page, page_count, page_urls = _pager(root, base_url, page, lambda u: (r := article_ref(u)) and r[0] == aid and r[1])
    message = extract_message(content[0], base_url)
    article = PortalArticlePage(url=url, site=site_of(url), aid=aid, page=page, page_count=page_count,
                                page_urls=page_urls, content_html=message.html, content_text=message.text,
                                images=message.images)
    titles = _TITLE(root)
    if titles:
        article.title = squash(titles[0].text or "") or squash(words_of(titles[0])) or None
    _read_meta(root, article, tz, fetched_at)
    summaries = _SUMMARY(root)
    if summaries:
        summary = squash(words_of(summaries[0]))
        article.summary = re.sub(r"^(?:摘要|Summary)\s*[:：]\s*", "", summary) or None
    for link in _BREADCRUMB_LISTS(root):
        if name := squash(words_of(link)):
            article.category, article.category_id = name, _catid(link.get("href"))
    article.comments = _comments(root, article.site, aid, tz, fetched_at)
    href = next(iter(_COMMENTS_LINK(root)), None)
    article.comments_url = absolute_url(base_url, href) if href else None
    return article


def _read_meta(root: etree._Element, article: PortalArticlePage, tz: tzinfo, fetched_at: datetime | None) -> None:
    meta = _META(root)
    fields: dict[str, str] = {}
    if meta:
        words = squash(words_of(meta[0]))
        article.posted_at = page_time(words, tz, fetched_at)
        fields = {name: squash(value) for name, value in _META_FIELD.findall(words)}
        for link in _META_LINKS(meta[0]):
            if match := UID_IN_HREF.search(link.get("href") or ""):
                article.publisher, article.author_uid = squash(words_of(link)) or None, int(match[1])
                break
        article.publisher = article.publisher or fields.get("发布者") or fields.get("發佈者")
        article.author = fields.get("原作者") or fields.get("作者") or article.publisher
    views, count = _VIEWS(root), _COMMENT_COUNT(root)
    if views:
        article.views = first_int(words_of(views[0]))
    else:  # a theme that prints the count as a labelled field only
        article.views = next((first_int(fields[label]) for label in _VIEW_LABELS if label in fields), None)
    article.comments_count = first_int(words_of(count[0])) if count else None


def _comments(root: etree._Element, site: str, aid: int, tz: tzinfo, fetched_at: datetime | None) -> list[PortalComment]:
    comments = []
    for entry in _COMMENTS(root):
        cid = first_int(entry.get("id"))
        if cid is None:
            continue
        comment = PortalComment(site=site, cid=cid, aid=aid)
        for link in _COMMENT_AUTHOR(entry):
            comment.author = squash(words_of(link))
            match = UID_IN_HREF.search(link.get("href") or "")
            comment.author_uid = int(match[1]) if match else None
            break
        times = _COMMENT_TIME(entry)
        if times:
            exact = times[0].get("title")
            comment.posted_at = page_time(exact, tz) or page_time(words_of(times[0]), tz, fetched_at)
        texts = _COMMENT_TEXT(entry)
        if texts:
            comment.content_text = extract_message(texts[0], "").text
        comments.append(comment)
    return comments


def parse_comment_list(
    body: bytes | str,
    url: str,
    *,
    content_type: str | None = None,
    fetched_at: datetime | None = None,
    utc_offset: str | tzinfo | None = None,
) -> PortalCommentPage:
    """An article's comment list page. An article without comments gives an empty list."""
    text = body if isinstance(body, str) else decode_html(body, content_type).text
    sel, base_url, tz = open_page(text, url, utc_offset)
    query = parse_qs(urlsplit(url).query)
    aid = first_int((query.get("id") or query.get("aid") or [""])[-1])
    if aid is None:
        raise PageProblem(PageKind.UNKNOWN, "a portal comment list URL without the article's id")
    comments = _comments(sel.root, site_of(url), aid, tz, fetched_at)
    if not comments and not sel.root.xpath("//form[@id='cform'] | //h1"):
        raise problem_of(sel, text, kind=PageKind.NO_COMMENTS, message="no comment list found on the page")
    page = first_int((query.get("page") or ["1"])[-1]) or 1
    page, page_count, page_urls = _pager(sel.root, base_url, page, lambda u: "mod=comment" in u and _page_of(u))
    return PortalCommentPage(url=url, site=site_of(url), aid=aid, page=page, page_count=page_count,
                             comments=comments, page_urls=page_urls)


def parse_portal_list(
    body: bytes | str,
    url: str,
    *,
    content_type: str | None = None,
    fetched_at: datetime | None = None,
    utc_offset: str | tzinfo | None = None,
) -> PortalListPage:
    """The portal index or a category list: the articles it links to (aid -> URL), the
    categories it links to (catid -> URL), and its own pager. Raises PageProblem for a
    message page (the portal switched off, members only)."""
    text = body if isinstance(body, str) else decode_html(body, content_type).text
    sel, base_url, _ = open_page(text, url, utc_offset)
    root = sel.root
    if discuz_message(sel):
        raise problem_of(sel, text)
    catid = _catid(url)
    listing = PortalListPage(url=url, site=site_of(url), catid=catid, page=1, page_count=1)
    names = _LIST_NAME(root)
    listing.name = squash(words_of(names[0])) or None if names and catid else None
    for link in _ALL_LINKS(root):
        href = absolute_url(base_url, link.get("href"))
        if not href or site_of(href) != listing.site:
            continue
        if (ref := article_ref(href)) is not None:
            listing.article_urls.setdefault(ref[0], href)
        elif (other := _catid(href)) is not None and ("mod=list" in href or _LIST_URL.search(urlsplit(href).path)):
            listing.category_urls.setdefault(other, href)
    page = _page_of(url) or 1
    listing.page, listing.page_count, listing.page_urls = _pager(
        root, base_url, page, lambda u: _catid(u) == catid and "mod=list" in u and _page_of(u)
    )
    return listing


def join_article_pages(pages: list[PortalArticlePage]) -> PortalArticle:
    """A whole article from its pages (any order; each page once): text and HTML joined in
    page order, the rest from the first page, counts from the page read last."""
    if not pages:
        raise ValueError("an article needs at least one page")
    ordered = sorted({page.page: page for page in pages}.values(), key=lambda page: page.page)
    first, last = ordered[0], ordered[-1]
    return PortalArticle(
        site=first.site, aid=first.aid, title=first.title, author=first.author, author_uid=first.author_uid,
        publisher=first.publisher, posted_at=first.posted_at, category=first.category, summary=first.summary,
        content_text="\n\n".join(page.content_text for page in ordered if page.content_text),
        content_html="\n".join(page.content_html for page in ordered if page.content_html),
        views=last.views, comments=last.comments_count, page_count=max(page.page_count for page in ordered),
    )


def _pager(root: etree._Element, base_url: str, page: int, page_of) -> tuple[int, int, dict[int, str]]:
    """Current page, page count and the page links ``page_of`` (URL -> page or None) accepts."""
    urls: dict[int, str] = {}
    numbers = [page]
    for pager in _PAGER(root)[:1]:
        page = first_int(next(iter(_CURRENT(pager)), None)) or page
        numbers.append(page)
        for link in _PAGE_LINKS(pager):
            href = absolute_url(base_url, (link.get("href") or "").replace("&amp;", "&"))
            number = page_of(href) if href else None
            if number:
                urls.setdefault(number, href)
                numbers.append(number)
        for label in _PAGE_COUNT(pager):
            if (count := first_int(label)) is not None:
                numbers.append(count)
    return page, max(numbers), urls


def _catid(url: str | None) -> int | None:
    parts = urlsplit(url or "")
    if match := _LIST_URL.search(parts.path):
        return int(match[1])
    values = parse_qs(parts.query).get("catid")
    return first_int(values[-1]) if values else None


def _page_of(url: str | None) -> int | None:
    parts = urlsplit(url or "")
    if match := _LIST_URL.search(parts.path):
        return int(match[2] or 1)
    values = parse_qs(parts.query).get("page")
    return first_int(values[-1]) if values else 1
