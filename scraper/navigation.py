"""Where a page sits in its forum: the breadcrumb that names the forum, the pager markup of
every generation and what a thread's pager says, and what a link to a forum calls it. Shared
by the page parsers.
"""

from __future__ import annotations

import re

from lxml import etree
from parsel import Selector

from scraper.urls import FID_IN_HREF, absolute_url, thread_ref
from scraper.xpath import compiled, first_int, has_class, squash, words_of

BREADCRUMB = (
    "//div[@id='pt']//a",
    "//div[@id='nav']//a",
    f"//div[{has_class('header')}]/h2//a",
    f"//*[{has_class('tophead')}]//a",
)
PAGER = (
    f"//div[@id='pgt']//div[{has_class('pg')}]",
    f"//div[{has_class('pgs')}]//div[{has_class('pg')}]",
    f"//div[{has_class('pages')}]",
    f"//div[{has_class('pg')}][not(ancestor::*[starts-with(@id, 'comment_')])]",
)
_CURRENT_PAGE = compiled("./strong/text()")
_PAGER_LINKS = compiled(".//a[@href]")
_PAGE_COUNT_LABEL = compiled(".//label//span/text() | .//kbd/following-sibling::text()")


def breadcrumb_forum(sel: Selector, text: str, xpaths: tuple[str, ...] = BREADCRUMB) -> tuple[int | None, str | None]:
    """The forum a page belongs to: the breadcrumb's last forum link, else ``var fid``."""
    for xpath in xpaths:
        links = compiled(xpath)(sel.root)
        for link in reversed(links):
            href = link.get("href", "")
            if "tid" in href or "thread" in href and "fid" not in href:
                continue
            if match := FID_IN_HREF.search(href):
                return int(match[1]), squash(words_of(link)) or None
    if match := re.search(r"\bfid\s*=\s*parseInt\('(\d+)'\)", text):
        return int(match[1]), None
    return None, None


def forum_link_name(link: etree._Element) -> str:
    """A forum link's name: its words (touch: the p.mtit's own text, without the counts), else
    the icon's title or alt."""
    titled = compiled(f".//*[{has_class('mtit')}]/text()")(link)
    name = squash("".join(titled)) if titled else squash(words_of(link))
    return name or squash(link.get("title") or "") or squash(next(iter(compiled(".//@alt")(link)), ""))


def thread_pager(sel: Selector, base_url: str, tid: int, url_page: int, xpaths: tuple[str, ...]) -> tuple[int, int, dict[int, str]]:
    """Current page, page count and the thread's own page links (never the 点评 pager)."""
    for xpath in xpaths:
        found = compiled(xpath)(sel.root)
        if not found:
            continue
        pager = found[0]
        current = first_int(next(iter(_CURRENT_PAGE(pager)), None))
        urls: dict[int, str] = {}
        numbers = [current or url_page]
        for link in _PAGER_LINKS(pager):
            href = absolute_url(base_url, link.get("href"))
            ref = thread_ref(href) if href else None
            if href is None or ref is not None and ref.tid != tid:
                continue
            number = first_int(words_of(link)) or (ref.page if ref else None)
            if number:
                numbers.append(number)
                urls.setdefault(ref.page if ref else number, href)
        label = _PAGE_COUNT_LABEL(pager)
        if label and (number := first_int(label[0])):
            numbers.append(number)
        return current or url_page, max(numbers), urls
    return url_page, url_page, {}
