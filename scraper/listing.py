"""Discuz forum listings (forumdisplay) and the site index to dataclasses. No Scrapy, no I/O.

Built, like the thread parser, from what the markup means: a thread row is the element Discuz
ids with its tid (``tbody#normalthread_TID`` / ``tbody#stickthread_TID`` on X2/X3 and 7.x),
or, on templates without those ids (touch), the list item around a link to a thread. A forum
is a link to a listing URL and a category a link to ``forum.php?gid=N``; where they sit (a
``category_N`` block, a row under another forum's heading) says what they belong to.
Page problems (error messages, login walls) are told apart with the thread parser's rules.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, tzinfo
from urllib.parse import urljoin

from lxml import etree
from parsel import Selector

from scraper.dates import DEFAULT_UTC_OFFSET, page_time
from scraper.encoding import decode_html
from scraper.html_page import open_page
from scraper.kinds import PageKind
from scraper.navigation import PAGER, breadcrumb_forum
from scraper.problems import PageProblem, cut_short, is_complete, problem_of
from scraper.models import ForumLink, ForumPage, IndexPage, ThreadRow
from scraper.urls import UID_IN_HREF, absolute_url, category_gid, forum_ref, listed_thread_url, site_of, thread_ref
from scraper.xpath import compiled, first_int, first_text, has_class, squash, title_tag

_ROW_ID = re.compile(r"^(normalthread|stickthread)_(\d+)$")
_ROW_CANDIDATES = etree.XPath("//*[starts-with(@id, 'normalthread_') or starts-with(@id, 'stickthread_')]")
# Blocks that group forums: desktop categories (category_N; 0 and -1 are the visitor's
# favourites and collections) and the touch template's sections (sub-forum_N).
_CATEGORY_BLOCK = re.compile(r"^(?:category_|sub-forum_|sub_forum_)(\d+)$")
_MERIDIEM = re.compile(r"\d{1,2}:\d{2}(?::\d{2})?\s*([AP]M)\b", re.I)
_FILTERED = re.compile(r"[?&](?:filter|orderby|typeid|sortid|specialtype|dateline|digest)=")

# Where each piece of a thread row lives, most specific first.
ROW_TITLES = (
    f".//a[{has_class('xst')}]",  # X2/X3
    f".//*[{has_class('tsubject')}]//a | .//span[starts-with(@id, 'thread_')]/a",  # 7.x
    f".//*[{has_class('threadlist_tit')}]//em",  # touch
    ".//a[@href]/em",  # touch, pinned threads: li.list_top > a > span.micon + em
)
AUTHOR_CELLS = (f"(.//td[{has_class('by')}])[1]", f".//td[{has_class('author')}]", f".//*[{has_class('muser')}]")
LAST_POST_CELLS = (f"(.//td[{has_class('by')}])[2]", f".//td[{has_class('lastpost')}]")
# (replies, views): X2/X3 "td.num > a + em", 7.x "td.nums > strong / em", touch icons.
COUNTS = (
    (f".//td[{has_class('num')}]/a", f".//td[{has_class('num')}]/em"),
    (f".//td[{has_class('nums')}]/strong", f".//td[{has_class('nums')}]/em"),
    (".//li[i[contains(@class, 'chat')]]", ".//li[i[contains(@class, 'eye')]]"),
)
STICKY_MARKS = (
    f"self::*[{has_class('list_top')}]"  # touch: sticky threads are li.list_top
    f" | .//*[{has_class('micon')}][{has_class('top')}]"
    " | .//img[contains(@src, 'pin_') or contains(@alt, '置顶') or contains(@alt, '置頂')]"
)
DIGEST_MARKS = (
    ".//img[contains(@src, 'digest') or @alt = 'digest' or contains(@alt, '精华') or contains(@alt, '精華')"
    " or contains(@title, '精华') or contains(@title, '精華')]"
    " | .//*[contains(@class, 'digest')]"  # X3.5 span.tbox.tdigest, touch span.micon.digest
)
# Where the thread list sits, for templates whose rows carry no tid in an id.
THREAD_LISTS = (
    "//*[@id='threadlisttableid']",
    "//*[@id='threadlist']",
    f"//*[{has_class('threadlist')}]",
    "//table[starts-with(@summary, 'forum_')]",
)
FORUM_NAMES = (
    f"//div[{has_class('header')}]/h2",  # touch
    f"//div[{has_class('forumdisplay-top')}]/h2",
)
SUBFORUM_BLOCKS = "//*[starts-with(@id, 'subforum') or starts-with(@id, 'sub-forum')]"
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


def parse_forum_page(
    body: bytes,
    url: str,
    *,
    content_type: str | None = None,
    fetched_at: datetime | None = None,
    utc_offset: str | tzinfo | None = None,
) -> ForumPage:
    """Read one page of a forum's thread list. Raises PageProblem for an error page, a login
    wall and the like.

    ``utc_offset`` is the forum's offset; when None it is read from the page footer
    ("GMT+8"), else +08:00. ``fetched_at`` resolves relative last-post times ("3 分钟前")
    that carry no exact time.
    """
    text = decode_html(body, content_type).text
    return parse_forum_html(text, url, fetched_at=fetched_at, utc_offset=utc_offset)


def parse_forum_html(
    text: str,
    url: str,
    *,
    fetched_at: datetime | None = None,
    utc_offset: str | tzinfo | None = None,
) -> ForumPage:
    """parse_forum_page for text that is already decoded."""
    sel, base_url, tz = open_page(text, url, utc_offset)
    ref = forum_ref(url)
    crumb_fid, crumb_name = breadcrumb_forum(sel, text)
    fid = ref.fid if ref else crumb_fid
    rows = _thread_rows(sel)
    subforums = _subforums(sel, base_url, fid)
    if not rows and not subforums and not any(sel.xpath(xpath) for xpath in THREAD_LISTS):
        raise problem_of(sel, text, PageKind.NO_LISTING, "no thread list found on the page (an unknown template?)")
    if not is_complete(text):
        raise cut_short(len(rows), "thread rows")
    if fid is None:
        raise PageProblem(PageKind.UNKNOWN, "forum page without a forum id in its URL or markup")
    page, page_count, page_urls = _forum_pager(sel, base_url, fid)
    return ForumPage(
        url=url,
        site=site_of(url),
        fid=fid,
        page=page,
        page_count=page_count,
        name=(crumb_name if crumb_fid == fid else None) or _forum_name(sel, base_url, fid),
        threads=[_thread_row(tid, sticky, row, base_url, tz, fetched_at) for tid, sticky, row in rows],
        subforums=subforums,
        page_urls=page_urls,
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
    )


# Thread rows ------------------------------------------------------------------------------


def _thread_rows(sel: Selector) -> list[tuple[int, bool, etree._Element]]:
    """(tid, sticky by id, row element) in page order, once per tid."""
    rows: dict[int, tuple[int, bool, etree._Element]] = {}
    for element in _ROW_CANDIDATES(sel.root):  # one XPath: libxml2 walks the tree in C
        if match := _ROW_ID.match(element.get("id") or ""):
            rows.setdefault(int(match[2]), (int(match[2]), match[1] == "stickthread", element))
    if rows:
        return list(rows.values())
    # No ids (touch and customised templates): the list item or table row around each thread link.
    scope = next((found[0] for xpath in THREAD_LISTS if (found := sel.xpath(xpath))), None)
    for link in compiled(".//a[@href]")(scope.root) if scope is not None else []:
        ref = _thread_ref(link)
        row = next(iter(compiled("ancestor::*[self::li or self::tr or self::tbody][1]")(link)), None)
        if ref is not None and row is not None:
            rows.setdefault(ref.tid, (ref.tid, False, row))
    return list(rows.values())


def _thread_row(
    tid: int, sticky: bool, row: etree._Element, base_url: str, tz: tzinfo, fetched_at: datetime | None
) -> ThreadRow:
    title_el = _title_element(row, tid)
    link = title_el if title_el is not None and title_el.tag == "a" else _thread_link(row, tid, title_el)
    author_cell = _first(row, AUTHOR_CELLS)
    last_cell = _first(row, LAST_POST_CELLS)
    author, uid = _member(author_cell) if author_cell is not None else (None, None)
    replies, views = _counts(row)
    return ThreadRow(
        tid=tid,
        title=squash(title_el.text_content()) if title_el is not None else "",
        url=listed_thread_url(absolute_url(base_url, link.get("href")) or base_url) if link is not None else "",
        author=author,
        author_uid=uid,
        replies=replies,
        views=views,
        last_post_at=_last_post_at(last_cell, tz, fetched_at) if last_cell is not None else None,
        last_poster=_member(last_cell)[0] if last_cell is not None else None,
        sticky=sticky or bool(compiled(STICKY_MARKS)(row)),
        digest=bool(compiled(DIGEST_MARKS)(row)),
    )


def _title_element(row: etree._Element, tid: int) -> etree._Element | None:
    for xpath in ROW_TITLES:
        for element in compiled(xpath)(row):
            if squash(element.text_content()):
                return element
    # Any link to the thread with words on it (not an icon, not a page number).
    for link in _links_to(row, tid):
        name = squash(link.text_content())
        if name and not name.isdigit():
            return link
    return None


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


def _first(row: etree._Element, xpaths: tuple[str, ...]) -> etree._Element | None:
    for xpath in xpaths:
        if found := compiled(xpath)(row):
            return found[0]
    return None


def _member(cell: etree._Element) -> tuple[str | None, int | None]:
    """The member a cell names: its first named link to a member (or the anonymous name)."""
    for link in compiled(".//cite//a[@href] | .//a[@href][not(ancestor::cite)]")(cell):
        name = squash(link.text_content())
        href = link.get("href")
        uid = UID_IN_HREF.search(href)
        if name and (uid or "username" in href):
            return name, int(uid[1]) if uid else None
    cite = compiled(".//cite")(cell)
    name = squash(cite[0].text_content()) if cite else ""
    return (re.sub(r"^by\s+", "", name) or None), None


def _counts(row: etree._Element) -> tuple[int | None, int | None]:
    for replies_xpath, views_xpath in COUNTS:
        replies, views = compiled(replies_xpath)(row), compiled(views_xpath)(row)
        if replies or views:
            return (
                first_int(replies[0].text_content()) if replies else None,
                first_int(views[0].text_content()) if views else None,
            )
    return None, None


def _last_post_at(cell: etree._Element, tz: tzinfo, fetched_at: datetime | None) -> str | None:
    # Relative times ("昨天 20:50") wrap the exact time in a span's title; the time sits in an em.
    ems = [em.text_content() for em in compiled(".//em")(cell)]
    for candidate in compiled(".//span/@title")(cell) + ems + [cell.text_content()]:
        if value := _time(candidate, tz, fetched_at):
            return value
    return None


def _time(text: str, tz: tzinfo, fetched_at: datetime | None) -> str | None:
    """page_time, plus the 12-hour clock some boards print ("2018-4-3 11:06 PM")."""
    value = page_time(text, tz, fetched_at)
    meridiem = _MERIDIEM.search(text)
    if value is None or meridiem is None:
        return value
    moment = datetime.fromisoformat(value)
    afternoon = meridiem[1].upper() == "PM"
    if afternoon and moment.hour < 12:
        moment += timedelta(hours=12)
    elif not afternoon and moment.hour == 12:
        moment -= timedelta(hours=12)
    return moment.isoformat()


# Forum identity, pager, sub-forums --------------------------------------------------------


def _forum_name(sel: Selector, base_url: str, fid: int) -> str | None:
    for link in sel.xpath("//h1//a[@href]"):
        ref = _forum_ref(base_url, link.attrib["href"])
        if ref is not None and ref.fid == fid and (name := squash(link.xpath("string()").get())):
            return name
    return first_text(sel, FORUM_NAMES) or title_tag(sel)


def _forum_pager(sel: Selector, base_url: str, fid: int) -> tuple[int, int, dict[int, str]]:
    """Current page, page count and the forum's own page links.

    The page number comes from each link's URL, not its label: past ``threadmaxpages``
    (default 1000) Discuz labels the last link with the real count ("... 1766") but points
    it at the last page it will serve, and any page past that comes back as page 1. Without
    a pager the forum has one page, whatever page the URL asked for.
    """
    for xpath in PAGER:
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


def _subforums(sel: Selector, base_url: str, fid: int | None) -> list[ForumLink]:
    found: dict[int, ForumLink] = {}
    for block in sel.xpath(SUBFORUM_BLOCKS):
        for link in compiled(".//a[@href]")(block.root):
            href = absolute_url(base_url, link.get("href"))
            ref = forum_ref(href) if href else None
            if ref is None or ref.fid == fid:
                continue
            name = _link_name(link)
            if ref.fid not in found:
                found[ref.fid] = ForumLink(fid=ref.fid, name=name, url=href, parent_fid=fid)
            elif not found[ref.fid].name:
                found[ref.fid].name = name
    return list(found.values())


# The index -------------------------------------------------------------------------------


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
            key, item = (True, gid), ForumLink(fid=gid, name=_link_name(element), url=href, is_category=True)
        else:
            key = (False, ref.fid)
            item = ForumLink(
                fid=ref.fid,
                name=_link_name(element),
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
            ref = _forum_ref(base_url, candidate.get("href"))
            if ref is not None:
                return ref.fid if ref.fid != fid else None
    return None


def _forum_ref(base_url: str, href: str | None):
    """The forum a link points at; None for none, or for an href that is no URL."""
    url = absolute_url(base_url, href)
    return forum_ref(url) if url else None


def _block_gid(link: etree._Element) -> int | None:
    for ancestor in link.iterancestors():
        if (match := _CATEGORY_BLOCK.match(ancestor.get("id") or "")) and int(match[1]) > 0:
            return int(match[1])
    return None


def _section_header(element: etree._Element) -> tuple[int, str] | None:
    """(gid, name) when the element heads a category block by pointing at it: ``href="#sub-forum_1"``."""
    href = element.get("href") or ""
    match = _CATEGORY_BLOCK.match(href[1:]) if href.startswith("#") else None
    name = squash(element.text_content()) if match else ""
    return (int(match[1]), name) if match and int(match[1]) > 0 and name else None


def _link_name(link: etree._Element) -> str:
    """A forum link's name: its words (touch: the p.mtit's own text, without the counts), else
    the icon's title or alt."""
    titled = compiled(f".//*[{has_class('mtit')}]/text()")(link)
    name = squash("".join(titled)) if titled else squash(link.text_content())
    return name or squash(link.get("title") or "") or squash(next(iter(compiled(".//@alt")(link)), ""))
