"""The site index (forum.php, index.php, the site root) and category pages (forum.php?gid=N)
to IndexPage dataclasses: every forum and category they list. No Scrapy, no I/O.

A forum is a link to a listing URL and a category a link to ``forum.php?gid=N``; where they
sit (a ``category_N`` block, a row under another forum's heading) says what they belong to.
Page problems (error messages, login walls) are told apart with the thread parser's rules.
"""

from __future__ import annotations

import re
from datetime import datetime, tzinfo
from urllib.parse import urljoin

from lxml import etree
from parsel import Selector

from scraper.dates import DEFAULT_UTC_OFFSET
from scraper.encoding import decode_html
from scraper.html_page import open_page
from scraper.kinds import PageKind
from scraper.models import ForumLink, IndexPage
from scraper.navigation import forum_link_name
from scraper.problems import cut_short, is_complete, problem_of
from scraper.urls import absolute_url, category_gid, forum_ref, forum_ref_at, site_of
from scraper.xpath import compiled, has_class, squash, words_of

# Blocks that group forums: desktop categories (category_N; 0 and -1 are the visitor's
# favourites and collections) and the touch template's sections (sub-forum_N).
_CATEGORY_BLOCK = re.compile(r"^(?:category_|sub-forum_|sub_forum_)(\d+)$")
_FILTERED = re.compile(r"[?&](?:filter|orderby|typeid|sortid|specialtype|dateline|digest)=")

# Page furniture whose forum links are navigation, not the forum list.
_FURNITURE = (
    "ancestor::*[@id='pt' or @id='nav' or @id='hd' or @id='nv' or @id='mu' or @id='toptb'"
    f" or @id='ft' or @id='scbar' or {has_class('p_pop')} or {has_class('footer')} or {has_class('foot')}]"
)
# A forum link that heads its row (the forum's own name) rather than being listed under one.
_HEADING_LINK = (
    "ancestor::*[self::h1 or self::h2 or self::h3 or self::h4 or self::dt]"
    f" or .//*[self::h2 or self::h3 or self::h4 or {has_class('mtit')}]"
)


def parse_index_page(
    body: bytes,
    url: str,
    *,
    content_type: str | None = None,
    fetched_at: datetime | None = None,
    utc_offset: str | tzinfo | None = None,
) -> IndexPage:
    """Read the site index (forum.php, index.php, the site root) or a category page
    (forum.php?gid=N): every forum and category it links to. Raises PageProblem when the
    page lists none (an error page, a login wall).

    ``fetched_at`` and ``utc_offset`` are accepted so that every page parser takes the same
    arguments; the index carries no time we keep.
    """
    return parse_index_html(decode_html(body, content_type).text, url, fetched_at=fetched_at, utc_offset=utc_offset)


def parse_index_html(
    text: str,
    url: str,
    *,
    fetched_at: datetime | None = None,
    utc_offset: str | tzinfo | None = None,
) -> IndexPage:
    """parse_index_page for text that is already decoded."""
    sel, base_url, _ = open_page(text, url, DEFAULT_UTC_OFFSET)
    forums = [] if sel.xpath("//*[@id='messagetext']") else _forum_links(sel, base_url, category_gid(url))
    if not forums:
        raise problem_of(sel, text, PageKind.NO_LISTING, "no forum links found on the page (an unknown template?)")
    if not is_complete(text):
        raise cut_short(len(forums), "forum links")
    return IndexPage(
        url=url,
        site=site_of(url),
        forums=forums,
        generator=sel.xpath("//meta[@name='generator']/@content").get(),
        # X2 and later print the site's name there; the title's parts are the page's SEO
        # title as often as the name, so a page without the meta gives none
        name=squash(sel.xpath("//meta[@name='application-name']/@content").get() or "") or None,
    )


def _forum_links(sel: Selector, base_url: str, page_gid: int | None) -> list[ForumLink]:
    """Every forum and category the page lists, in page order, once each."""
    found: dict[tuple[bool, int], ForumLink] = {}
    headed: set[tuple[bool, int]] = set()  # named by a heading link, not only an icon's title
    last_category = page_gid
    for element in compiled(f"//body//*[@href][not({_FURNITURE})]")(sel.root):
        if (section := _section_header(element)) is not None:
            # Touch sections name their category without a link: div[href="#sub-forum_1"] > h2.
            gid, name = section
            last_category = gid
            item = ForumLink(fid=gid, name=name, url=urljoin(base_url, f"forum.php?gid={gid}"), is_category=True)
            _merge(found, headed, (True, gid), item, heading=False)
            continue
        if element.tag != "a":
            continue
        href = absolute_url(base_url, element.get("href"))
        if href is None:
            continue
        gid = category_gid(href)
        ref = forum_ref(href) if gid is None else None
        if gid is None and ref is None:
            continue
        heading = bool(compiled(_HEADING_LINK)(element))
        if gid is not None:
            last_category = gid
            key, item = (True, gid), ForumLink(fid=gid, name=forum_link_name(element), url=href, is_category=True)
        else:
            key = (False, ref.fid)
            item = ForumLink(
                fid=ref.fid,
                name=forum_link_name(element),
                url=href,
                parent_fid=None if heading else _parent_forum(element, ref.fid, base_url),
                gid=_block_gid(element) or last_category,
            )
        _merge(found, headed, key, item, heading)
    return list(found.values())


def _merge(found: dict, headed: set, key: tuple[bool, int], item: ForumLink, heading: bool) -> None:
    """The same forum linked twice (icon and name, favourites and category): one entry that
    keeps the first place and the best of what each link says."""
    known = found.get(key)
    if known is None:
        found[key] = item
    else:
        if item.name and (not known.name or (heading and key not in headed)):
            known.name = item.name
        if _FILTERED.search(known.url) and not _FILTERED.search(item.url):
            known.url = item.url
        known.gid = known.gid or item.gid
        known.parent_fid = known.parent_fid or item.parent_fid
    if heading:
        headed.add(key)


def _parent_forum(link: etree._Element, fid: int, base_url: str) -> int | None:
    """A forum link listed in another forum's row (``子版块: …``) is that forum's sub-forum."""
    for ancestor in link.iterancestors():
        if _CATEGORY_BLOCK.match(ancestor.get("id") or "") or ancestor.tag == "body":
            return None
        for candidate in compiled(f".//a[@href][{_HEADING_LINK}]")(ancestor):
            ref = forum_ref_at(base_url, candidate.get("href"))
            if ref is not None:
                return ref.fid if ref.fid != fid else None
    return None


def _block_gid(link: etree._Element) -> int | None:
    for ancestor in link.iterancestors():
        if (match := _CATEGORY_BLOCK.match(ancestor.get("id") or "")) and int(match[1]) > 0:
            return int(match[1])
    return None


def _section_header(element: etree._Element) -> tuple[int, str] | None:
    """(gid, name) when the element heads a category block by pointing at it: ``href="#sub-forum_1"``."""
    href = element.get("href") or ""
    match = _CATEGORY_BLOCK.match(href[1:]) if href.startswith("#") else None
    name = squash(words_of(element)) if match else ""
    return (int(match[1]), name) if match and int(match[1]) > 0 and name else None
