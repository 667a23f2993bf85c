"""Discuz forum listings (forumdisplay) to ForumPage dataclasses. No Scrapy, no I/O.

Built, like the thread parser, from what the markup means: a thread row is the element Discuz
ids with its tid (``tbody#normalthread_TID`` / ``tbody#stickthread_TID`` on X2/X3 and 7.x),
or, on templates without those ids (touch), the list item around a link to a thread. Where
each piece of a row lives is the page's listing profile (scraper.listing_profiles): every
generation's selectors, or the user's own for a modified theme. Page problems (error
messages, login walls) are told apart with the thread parser's rules.
"""

from __future__ import annotations

import re
from datetime import datetime, tzinfo

from lxml import etree
from parsel import Selector

from scraper.dates import page_time
from scraper.encoding import decode_html
from scraper.html_page import open_page
from scraper.kinds import PageKind
from scraper.listing_profiles import ListingProfile, choose, selectors
from scraper.models import ForumLink, ForumPage, ThreadRow
from scraper.navigation import breadcrumb_forum, forum_link_name
from scraper.problems import PageProblem, cut_short, is_complete, problem_of
from scraper.urls import (
    UID_IN_HREF, absolute_url, forum_ref, forum_ref_at, guide_view, listed_thread_url, site_of, thread_ref,
)
from scraper.xpath import compiled, first_int, first_text, squash, title_tag, words_of

_ROW_ID = re.compile(r"^(normalthread|stickthread)_(\d+)$")
_ROW_CANDIDATES = etree.XPath("//*[starts-with(@id, 'normalthread_') or starts-with(@id, 'stickthread_')]")



def parse_forum_page(
    body: bytes,
    url: str,
    *,
    content_type: str | None = None,
    fetched_at: datetime | None = None,
    utc_offset: str | tzinfo | None = None,
    profiles: tuple = (),
) -> ForumPage:
    """Read one page of a forum's thread list. Raises PageProblem for an error page, a login
    wall and the like.

    ``utc_offset`` is the forum's offset; when None it is read from the page footer
    ("GMT+8"), else +08:00. ``fetched_at`` resolves relative last-post times ("3 分钟前")
    that carry no exact time. ``profiles`` are the user's selector profiles (its listing
    profiles are used here, scraper.listing_profiles), tried before the generic selectors.
    """
    text = decode_html(body, content_type).text
    return parse_forum_html(text, url, fetched_at=fetched_at, utc_offset=utc_offset, profiles=profiles)


def parse_forum_html(
    text: str,
    url: str,
    *,
    fetched_at: datetime | None = None,
    utc_offset: str | tzinfo | None = None,
    profiles: tuple = (),
) -> ForumPage:
    """parse_forum_page for text that is already decoded."""
    sel, base_url, tz = open_page(text, url, utc_offset)
    profile = choose(sel.root, site_of(url), profiles)
    ref = forum_ref(url)
    crumb_fid, crumb_name = breadcrumb_forum(sel, text, selectors(profile, "breadcrumb"))
    fid = ref.fid if ref else crumb_fid
    rows = _thread_rows(sel, profile)
    subforums = _subforums(sel, base_url, fid, profile)
    if not rows and not subforums and not any(sel.xpath(xpath) for xpath in selectors(profile, "thread_list")):
        raise problem_of(sel, text, PageKind.NO_LISTING, "no thread list found on the page (an unknown template?)")
    if not is_complete(text):
        raise cut_short(len(rows), "thread rows")
    guide = guide_view(url) is not None
    if guide:  # threads of many forums: each row names its own
        fid = None
    elif fid is None:
        raise PageProblem(PageKind.UNKNOWN, "forum page without a forum id in its URL or markup")
    page, page_count, page_urls = _forum_pager(sel, base_url, fid, selectors(profile, "pager"))
    reader = _RowReader(profile, base_url, tz, fetched_at, rows_name_forums=guide)
    return ForumPage(
        url=url,
        site=site_of(url),
        fid=fid,
        page=page,
        page_count=page_count,
        name=None if guide else (crumb_name if crumb_fid == fid else None) or _forum_name(sel, base_url, fid, profile),
        threads=[reader.row(tid, sticky, row) for tid, sticky, row in rows],
        subforums=subforums,
        page_urls=page_urls,
    )


# Thread rows ------------------------------------------------------------------------------


def _thread_rows(sel: Selector, profile: ListingProfile) -> list[tuple[int, bool, etree._Element]]:
    """(tid, sticky by id, row element) in page order, once per tid: by the profile's rows,
    else by meaning (an element ided normalthread_TID or stickthread_TID; without those ids,
    the list item or table row around each link to a thread in the thread list)."""
    rows: dict[int, tuple[int, bool, etree._Element]] = {}
    for expression in profile.rows:
        for element in compiled(expression)(sel.root):
            if isinstance(element, str):
                continue
            if match := _ROW_ID.match(element.get("id") or ""):
                rows.setdefault(int(match[2]), (int(match[2]), match[1] == "stickthread", element))
            elif ref := next(filter(None, map(_thread_ref, compiled(".//a[@href]")(element))), None):
                rows.setdefault(ref.tid, (ref.tid, False, element))
        if rows:
            return list(rows.values())
    for element in _ROW_CANDIDATES(sel.root):  # one XPath: libxml2 walks the tree in C
        if match := _ROW_ID.match(element.get("id") or ""):
            rows.setdefault(int(match[2]), (int(match[2]), match[1] == "stickthread", element))
    if rows:
        return list(rows.values())
    # Every block the first selector that finds any finds: a touch list puts its pinned rows
    # in a block of their own before the rest.
    scopes = next((found for xpath in selectors(profile, "thread_list") if (found := sel.xpath(xpath))), [])
    for scope in scopes:
        for link in compiled(".//a[@href]")(scope.root) if not isinstance(scope.root, str) else []:
            ref = _thread_ref(link)
            row = next(iter(compiled("ancestor::*[self::li or self::tr or self::tbody][1]")(link)), None)
            if ref is not None and row is not None:
                rows.setdefault(ref.tid, (ref.tid, False, row))
    return list(rows.values())


class _RowReader:
    """Reads each thread row of one page with the page's listing profile."""

    def __init__(self, profile: ListingProfile, base_url: str, tz: tzinfo, fetched_at: datetime | None,
                 rows_name_forums: bool = False) -> None:
        self.base_url, self.tz, self.fetched_at = base_url, tz, fetched_at
        self.rows_name_forums = rows_name_forums
        self.xpaths = {
            field: [compiled(x) for x in selectors(profile, field)]
            for field in ("title", "author", "last_post", "replies", "views")
        }
        # Any of the marks: one XPath union, since every call has a fixed cost.
        self.sticky = compiled(" | ".join(selectors(profile, "sticky")))
        self.digest = compiled(" | ".join(selectors(profile, "digest")))

    def row(self, tid: int, sticky: bool, row: etree._Element) -> ThreadRow:
        title_el = self._title_element(row, tid)
        link = title_el if title_el is not None and title_el.tag == "a" else _thread_link(row, tid, title_el)
        author_cell = self._first(row, "author")
        last_cell = self._first(row, "last_post")
        author, uid = _member(author_cell) if author_cell is not None else (None, None)
        replies, views = self._counts(row)
        fid, forum_name = _row_forum(row, self.base_url) if self.rows_name_forums else (None, None)
        return ThreadRow(
            tid=tid,
            title=squash(words_of(title_el)) if title_el is not None else "",
            url=listed_thread_url(absolute_url(self.base_url, link.get("href")) or self.base_url) if link is not None else "",
            author=author,
            author_uid=uid,
            replies=replies,
            views=views,
            last_post_at=_last_post_at(last_cell, self.tz, self.fetched_at) if last_cell is not None else None,
            last_poster=_member(last_cell)[0] if last_cell is not None else None,
            sticky=sticky or bool(self.sticky(row)),
            digest=bool(self.digest(row)),
            fid=fid,
            forum_name=forum_name,
        )

    def _title_element(self, row: etree._Element, tid: int) -> etree._Element | None:
        for xpath in self.xpaths["title"]:
            for element in xpath(row):
                if not isinstance(element, str) and squash(words_of(element)):
                    return element
        # Any link to the thread with words on it (not an icon, not a page number).
        for link in _links_to(row, tid):
            name = squash(words_of(link))
            if name and not name.isdigit():
                return link
        # A row ided with its tid whose links are spelled in a way no URL form here knows (a
        # site's own rewrite rule): its first worded link to neither a member nor a forum.
        for link in compiled(".//a[@href][normalize-space()]")(row):
            href = link.get("href") or ""
            name = squash(words_of(link))
            if not name.isdigit() and not UID_IN_HREF.search(href) and forum_ref_at(self.base_url, href) is None:
                return link
        return None

    def _first(self, row: etree._Element, field: str) -> etree._Element | None:
        for xpath in self.xpaths[field]:
            if found := [element for element in xpath(row) if not isinstance(element, str)]:
                return found[0]
        return None

    def _counts(self, row: etree._Element) -> tuple[int | None, int | None]:
        """(replies, views) from the first position whose selectors find either: a row's two
        counts sit side by side in each generation's markup."""
        replies_xpaths, views_xpaths = self.xpaths["replies"], self.xpaths["views"]
        for position in range(max(len(replies_xpaths), len(views_xpaths))):
            replies = replies_xpaths[position](row) if position < len(replies_xpaths) else []
            views = views_xpaths[position](row) if position < len(views_xpaths) else []
            if replies or views:
                return _count(replies), _count(views)
        return None, None


def _count(found: list) -> int | None:
    return first_int(words_of(found[0])) if found else None


def _thread_link(row: etree._Element, tid: int, inside: etree._Element | None) -> etree._Element | None:
    """The link around the title (touch: a > div > em), else the row's first link to the thread."""
    if inside is not None:
        for ancestor in inside.iterancestors("a"):
            return ancestor
    return next(iter(_links_to(row, tid)), None)


def _links_to(row: etree._Element, tid: int) -> list[etree._Element]:
    return [a for a in compiled(".//a[@href]")(row) if (ref := _thread_ref(a)) and ref.tid == tid]


def _thread_ref(link: etree._Element):
    """The thread a link points at; None for none, or for an href that is no URL."""
    url = absolute_url("", link.get("href"))
    return thread_ref(url) if url else None


def _row_forum(row: etree._Element, base_url: str) -> tuple[int | None, str | None]:
    """The forum a row of a guide list names: its first link to a forum (not to a thread type
    of it, ``filter=typeid``)."""
    for link in compiled(".//a[@href][not(contains(@href, 'typeid'))]")(row):
        if (ref := forum_ref_at(base_url, link.get("href"))) is not None:
            return ref.fid, squash(words_of(link)) or None
    return None, None


def _member(cell: etree._Element) -> tuple[str | None, int | None]:
    """The member a cell names: its first named link to a member (or the anonymous name)."""
    for link in compiled(".//cite//a[@href] | .//a[@href][not(ancestor::cite)]")(cell):
        name = squash(words_of(link))
        href = link.get("href")
        uid = UID_IN_HREF.search(href)
        if name and (uid or "username" in href):
            return name, int(uid[1]) if uid else None
    cite = compiled(".//cite")(cell)
    name = squash(words_of(cite[0])) if cite else ""
    return (re.sub(r"^by\s+", "", name) or None), None


def _last_post_at(cell: etree._Element, tz: tzinfo, fetched_at: datetime | None) -> str | None:
    # Relative times ("昨天 20:50") wrap the exact time in a span's title; the time sits in an em.
    ems = [words_of(em) for em in compiled(".//em")(cell)]
    for candidate in compiled(".//span/@title")(cell) + ems + [words_of(cell)]:
        if value := page_time(candidate, tz, fetched_at):
            return value
    return None


# Forum identity, pager, sub-forums --------------------------------------------------------


def _forum_name(sel: Selector, base_url: str, fid: int, profile: ListingProfile) -> str | None:
    for link in sel.xpath("//h1//a[@href]"):
        ref = forum_ref_at(base_url, link.attrib["href"])
        if ref is not None and ref.fid == fid and (name := squash(link.xpath("string()").get())):
            return name
    return first_text(sel, selectors(profile, "forum_name")) or title_tag(sel)


def _forum_pager(
    sel: Selector, base_url: str, fid: int | None, xpaths: tuple[str, ...]
) -> tuple[int, int, dict[int, str]]:
    """Current page, page count and the forum's own page links.

    The page number comes from each link's URL, not its label: past ``threadmaxpages``
    (default 1000) Discuz labels the last link with the real count ("... 1766") but points
    it at the last page it will serve, and any page past that comes back as page 1. Without
    a pager the forum has one page, whatever page the URL asked for.
    """
    for xpath in xpaths:
        pager = sel.xpath(xpath)
        if not pager:
            continue
        pager = pager[0]
        current = first_int(pager.xpath("./strong/text()").get()) or 1
        numbers = [current]
        urls: dict[int, str] = {}
        for link in pager.xpath(".//a[@href]"):
            href = absolute_url(base_url, link.attrib["href"])
            ref = forum_ref(href) if href else None
            if href is None or ref is not None and ref.fid != fid:
                continue
            number = ref.page if ref else first_int(link.xpath("string()").get())
            if number:
                numbers.append(number)
                urls.setdefault(number, href)
        label = pager.xpath(".//label//span/text()").get()
        if label and (count := first_int(label)):
            numbers.append(count)
        return current, max(numbers), urls
    return 1, 1, {}


def _subforums(sel: Selector, base_url: str, fid: int | None, profile: ListingProfile) -> list[ForumLink]:
    found: dict[int, ForumLink] = {}
    blocks = [block.root for xpath in selectors(profile, "subforums") for block in sel.xpath(xpath)]
    for block in blocks:
        for link in compiled(".//a[@href]")(block) if not isinstance(block, str) else []:
            href = absolute_url(base_url, link.get("href"))
            ref = forum_ref(href) if href else None
            if ref is None or ref.fid == fid:
                continue
            name = forum_link_name(link)
            if ref.fid not in found:
                found[ref.fid] = ForumLink(fid=ref.fid, name=name, url=href, parent_fid=fid)
            elif not found[ref.fid].name:
                found[ref.fid].name = name
    return list(found.values())
