"""A post's 点评 and 评分, from the thread page and from the two ajax answers that hold the
rest: ``forum.php?mod=misc&action=commentmore`` and ``…&action=viewratings``. No Scrapy, no I/O.

点评 live in ``div#comment_PID`` (one ``div.pstl`` each: author link, text in ``div.psti``,
time in its ``span.xg1``), newest first. The page shows the newest ``commentnumber`` (5 by
default); a pager in the block (``ajaxget('…commentmore…&page=2', 'comment_PID')``) says
there are more. That endpoint answers only with ``&inajax=1``: XML, the HTML in a CDATA
section. Discuz prints no comment id in either, so a comment is keyed on what it is
(post, author, time, text): the same key whichever page or source read it.

Ratings: ``dl#ratelog_PID > table.ratl``. Its header names the credits, each in its column
(``威望 +3 | 金钱 +48``), with ``参与人数 N`` first; each rater is a row with a cell per
credit column and the reason last. The newest ``ratelogrecord`` raters show (5 by default):
when 参与人数 is more than the rows, the full list is the viewratings page, one row per
(rater, credit), with times. The last rater shown may show part of what it gave: Discuz stops
adding ratings once the table holds ``ratelogrecord`` raters, so that rater's other credits
are left out even when 参与人数 is the rows; the header's totals count them, so rows that add
up to less than the totals lead to the list too.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, tzinfo
from urllib.parse import parse_qs, urlencode, urlsplit

from lxml import etree

from scraper.dates import DEFAULT_UTC_OFFSET, footer_offset, page_time
from scraper.encoding import decode_ajax
from scraper.extras_models import CommentPage, PostComment, Rating, RatingsPage
from scraper.html_page import open_page
from scraper.kinds import PageKind
from scraper.problems import PageProblem, discuz_message, problem_of
from scraper.urls import UID_IN_HREF, absolute_url, site_of
from scraper.xpath import compiled, first_int, has_class, squash, words_of

_CDATA = re.compile(r"<!\[CDATA\[(.*)\]\]>", re.S)
_XML_ROOT = re.compile(r"^\s*(?:<\?xml[^>]*\?>)?\s*<root>", re.S)
_SCORE = re.compile(r"([+-])\s*(\d+)")
_AJAX_URL = re.compile(r"ajaxget\(\s*'([^']+)'")

_COMMENT_BLOCKS = compiled("descendant::div[starts-with(@id, 'comment_')]")
_COMMENT_ENTRIES = compiled(f".//div[{has_class('pstl')}]")
_COMMENT_AUTHOR = compiled(f".//div[{has_class('psta')}]//a[contains(@href, 'uid') and normalize-space()]")
_COMMENT_BODY = compiled(f".//div[{has_class('psti')}]")
# X2 and X2.5 put the author's link at the head of the text block (psti > a.xi2.xw1, then the
# text, then the time); X3 moved it beside the avatar (psta). A link after words is one the
# 点评 mentions ("说得好 @name"), not its author.
_INLINE_AUTHOR = compiled("./*[1][self::a][contains(@href, 'uid')][normalize-space()]"
                          "[not(preceding-sibling::text()[normalize-space(translate(., '\u00a0', ' '))])]")  # &nbsp; is no word
_AVATAR_LINKS = compiled(f".//div[{has_class('psta')}]//a[contains(@href, 'uid')]")
_MEMBER_LINKS = compiled(".//a[contains(@href, 'uid=') or contains(@href, 'space-uid-')]")
_NAMED_MEMBER_LINKS = compiled(".//a[contains(@href, 'uid=') or contains(@href, 'space-uid-')][normalize-space()]")
_COMMENT_TIME = compiled(f".//span[{has_class('xg1')}]")
_TITLED_SPANS = compiled(".//span[@title]")
_COMMENT_PAGER = compiled(f".//div[{has_class('pg')}]")
_PAGER_LINKS = compiled(".//a")
_CURRENT = compiled("./strong/text()")
_EXACT_TIME = compiled(".//span/@title")

_RATE_LOGS = compiled("descendant::dl[starts-with(@id, 'ratelog_')]")
# A rating block in another markup (not the desktop's dl with its table): the list is read.
_OTHER_RATE_LOGS = compiled(f"descendant::*[starts-with(@id, 'ratelog_')][not(self::dl)][not(.//table[{has_class('ratl')}])]")
_RATE_HEADER = compiled(f".//table[{has_class('ratl')}]//tr[th][1]/th")
_RATE_ROWS = compiled(f".//table[{has_class('ratl')}]//tr[starts-with(@id, 'rate_')]")
_CELLS = compiled("./td")
_LINKS = compiled(".//a[@href]")
_RATINGS_LINK = compiled(".//a[contains(@href, 'action=viewratings')]/@href")
_RATINGS_LINKS = compiled(".//a[contains(@href, 'action=viewratings')]")
_RATINGS_ROWS = compiled(f"//table[{has_class('list')}]//tr[td][not(parent::thead)]")


# --- 点评 -----------------------------------------------------------------------------------


def comment_key(pid: int, author_uid: int | None, author: str | None, posted_at: str | None, text: str) -> str:
    """A 点评's key from what it is: the page and the API give it alike (minute times)."""
    minute = (posted_at or "")[:16]
    digest = hashlib.sha1(f"{pid}|{author_uid or author or ''}|{minute}|{text}".encode()).hexdigest()
    return f"{pid}-{digest[:16]}"


def comments_in(root: etree._Element, site: str, tid: int, tz: tzinfo, fetched_at: datetime | None,
                base_url: str) -> tuple[list[PostComment], dict[int, str]]:
    """Every 点评 block under ``root`` (a post, or the page): the comments, and for each post
    that shows only its newest ones, the commentmore page to read next."""
    comments: list[PostComment] = []
    more: dict[int, str] = {}
    for block in _COMMENT_BLOCKS(root):
        pid = first_int(block.get("id"))
        if pid is None or not block.get("id", "").removeprefix("comment_").isdecimal():
            continue
        comments.extend(_comments(block, site, tid, pid, tz, fetched_at))
        next_url = _next_comment_page(block, base_url, tid, pid)
        if next_url:
            more[pid] = next_url
    return comments, more


def _comments(block: etree._Element, site: str, tid: int, pid: int, tz: tzinfo,
              fetched_at: datetime | None) -> list[PostComment]:
    found = []
    seen = set()
    entries = _COMMENT_ENTRIES(block)
    read = _read_entry if entries else _read_bare_entry
    for entry in entries or _entries_by_member(block):
        if (shown := read(entry, tz, fetched_at)) is None:
            continue
        author, uid, posted_at, text = shown
        key = comment_key(pid, uid, author, posted_at, text)
        if key in seen:
            continue
        seen.add(key)
        found.append(PostComment(site=site, id=key, key=key, pid=pid, tid=tid, author=author,
                                 author_uid=uid, posted_at=posted_at, content_text=text))
    return found


def _read_entry(entry: etree._Element, tz: tzinfo, fetched_at: datetime | None):
    """(author, uid, time, text) of one 点评 in the desktop markup: div.pstl, the author beside
    the avatar (div.psta, X3) or heading the text (div.psti, X2 and X2.5), the time in span.xg1."""
    author, uid = _author(entry)
    bodies = _COMMENT_BODY(entry)
    if not bodies:
        return None
    body = bodies[0]
    inline = _INLINE_AUTHOR(body) if author is None else []
    if inline:
        author, inline_uid = _author_of(inline[0])
        uid = inline_uid or uid
    # The time: span.xg1; a theme's plain span holding 发表于, the time (its exact value in a
    # title) and a 回复 link, which are no part of the text either.
    times = _COMMENT_TIME(body) or [span for span in _TITLED_SPANS(body) if page_time(span.get("title"), tz)]
    posted_at = None
    for time_element in times:
        posted_at = posted_at or _shown_time(time_element, tz, fetched_at)
    return author, uid, posted_at, _text_without(body, [_outermost_span(t, body) for t in times] + inline)


def _outermost_span(element: etree._Element, body: etree._Element) -> etree._Element:
    while (parent := element.getparent()) is not None and parent is not body and parent.tag == "span":
        element = parent
    return element


def _entries_by_member(block: etree._Element) -> list[etree._Element]:
    """The 点评 of a block in another markup (the touch view and its themes draw each as a
    block of its own, with the author's link and time as a post has them): for each author's
    named link, the largest element around it that names no other (an avatar's link has no
    name; two 点评 by one member are two names)."""
    entries: list[etree._Element] = []
    for link in _NAMED_MEMBER_LINKS(block):
        if any(link in entry.iterdescendants() for entry in entries):
            continue
        entry = link
        while (parent := entry.getparent()) is not None and parent is not block:
            if len(_NAMED_MEMBER_LINKS(parent)) > 1:
                break
            entry = parent
        entries.append(entry)
    return entries


def _read_bare_entry(entry: etree._Element, tz: tzinfo, fetched_at: datetime | None):
    """(author, uid, time, text) of a 点评 found by its author's link: the name is the link's
    own words ("name : " and a 楼主 mark set aside), the time the innermost element showing one."""
    links = _NAMED_MEMBER_LINKS(entry)
    if not links:
        return None
    author = (squash(links[0].text or "") or squash(words_of(links[0]))).rstrip(":： ") or None
    # The innermost elements that show a time (li.mtime holds an empty em beside it).
    shown = [e for e in entry.iter() if isinstance(e.tag, str) and e not in links
             and page_time(squash(words_of(e)), tz, fetched_at)]
    times = [e for e in shown if not any(other is not e and e in other.iterancestors() for other in shown)]
    posted_at = _shown_time(times[0], tz, fetched_at) if times else None
    text = _text_without(entry, [*links, *times[:1]]).lstrip(":： ")
    return author, _uid(links[0]), posted_at, text


def _uid(link: etree._Element) -> int | None:
    match = UID_IN_HREF.search(link.get("href") or "")
    return int(match[1]) if match else None


def _author(entry: etree._Element) -> tuple[str | None, int | None]:
    for link in _COMMENT_AUTHOR(entry):
        if (found := _author_of(link))[0]:
            return found
    # a theme that draws the avatar alone still links it to the member
    return None, next((uid for link in _AVATAR_LINKS(entry) if (uid := _uid(link)) is not None), None)


def _author_of(link: etree._Element) -> tuple[str | None, int | None]:
    name = squash(words_of(link))
    return (name, _uid(link)) if name else (None, None)


def _text_without(element: etree._Element, drop: list[etree._Element]) -> str:
    """The element's words without those of ``drop`` (the time inside a 点评's text)."""
    skip = {id(e) for e in drop}
    parts = []

    def walk(node: etree._Element) -> None:
        if node.text:
            parts.append(node.text)
        for child in node:
            if id(child) not in skip and isinstance(child.tag, str):
                walk(child)
            if child.tail:
                parts.append(child.tail)

    walk(element)
    return squash("".join(parts))


def _next_comment_page(block: etree._Element, base_url: str, tid: int, pid: int) -> str | None:
    """The commentmore page after this one: its pager's next link (a plain href in the ajax
    answer, an ajaxget() call on the thread page), with inajax=1 added."""
    pagers = _COMMENT_PAGER(block)
    if not pagers:
        return None
    for link in _PAGER_LINKS(pagers[0]):
        if "nxt" not in (link.get("class") or "").split():
            continue
        target = link.get("href") or ""
        if "commentmore" not in target and (match := _AJAX_URL.search(link.get("onclick") or "")):
            target = match[1]
        if "commentmore" in target:
            url = absolute_url(base_url, target.replace("&amp;", "&"))
            return commentmore_url(url, tid, pid) if url else None
    return None


def commentmore_url(url: str, tid: int, pid: int) -> str:
    """A commentmore URL in the form the endpoint answers: inajax=1 (else it sends an error
    page), the post's tid and pid, ajaxtarget as the page's own script asks."""
    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    page = query.get("page", "1")
    ordered = {"mod": "misc", "action": "commentmore", "tid": str(tid), "pid": str(pid), "page": page,
               "inajax": "1", "ajaxtarget": f"comment_{pid}"}
    return parts._replace(query=urlencode(ordered), fragment="").geturl()


def parse_commentmore(body: bytes | str, url: str, *, content_type: str | None = None,
                      utc_offset: str | tzinfo | None = None, fetched_at: datetime | None = None) -> CommentPage:
    """One commentmore answer. Raises PageProblem for an answer that holds no 点评: an error
    or login message (``error``/``login``), an empty answer (``empty``), an HTML error page."""
    text = ajax_text(body, content_type)
    tid, pid, page = _query_ints(url, "tid"), _query_ints(url, "pid"), _query_ints(url, "page") or 1
    if tid is None or pid is None:
        raise PageProblem(PageKind.UNKNOWN, "a commentmore URL without tid and pid")
    html = ajax_html(text)
    wrapped = f"<html><body><div id='comment_{pid}'>{html}</div></body></html>"
    sel, base_url, tz = read_ajax(wrapped, text, url, utc_offset)
    block = sel.root.xpath("//body/div")[0]
    comments = _comments(block, site_of(url), tid, pid, tz, fetched_at)
    if not comments:
        raise _ajax_problem(sel, html, "no 点评 in the commentmore answer")
    page_count = page
    for pager in _COMMENT_PAGER(block)[:1]:
        page = first_int(next(iter(_CURRENT(pager)), None)) or page
        numbers = [first_int(words_of(a)) for a in _PAGER_LINKS(pager)]
        page_count = max([page] + [n for n in numbers if n])
    return CommentPage(url=url, site=site_of(url), tid=tid, pid=pid, page=page, page_count=page_count,
                       comments=comments, next_url=_next_comment_page(block, base_url, tid, pid))


# --- ratings --------------------------------------------------------------------------------


def ratings_in(root: etree._Element, site: str, tid: int, base_url: str) -> tuple[list[Rating], dict[int, str]]:
    """Every rating table under ``root`` (a post, or the page): one Rating per (rater, credit) shown, and for
    each post whose table shows fewer raters than took part, its viewratings page."""
    ratings: list[Rating] = []
    more: dict[int, str] = {}
    for log in _RATE_LOGS(root):
        pid = first_int(log.get("id"))
        if pid is None:
            continue
        header = _RATE_HEADER(log)
        if not header:
            continue
        participants = first_int(words_of(header[0]))
        credits = [_credit_name(th) for th in header[1:-1]]
        rows = _RATE_ROWS(log)
        raters = 0
        shown: dict[str, int] = {}
        for row in rows:
            cells = _CELLS(row)
            if len(cells) < 2:
                continue
            rater, uid = _user(cells[0])
            raters += 1
            reason = squash(words_of(cells[-1])) if len(cells) > len(credits) + 1 else ""
            for credit, cell in zip(credits, cells[1:1 + len(credits)]):
                score = _score(words_of(cell))
                if credit and score is not None:
                    shown[credit] = shown.get(credit, 0) + score
                    ratings.append(Rating(site=site, pid=pid, tid=tid, rater=rater, rater_uid=uid,
                                          credit=credit, score=score, reason=reason))
        totals = {credit: _score(words_of(th)) for credit, th in zip(credits, header[1:-1])}
        partial = any(total is not None and total != shown.get(credit, 0) for credit, total in totals.items())
        if participants is not None and (participants > raters or partial):
            more[pid] = _ratings_page(log, base_url, tid, pid)
    for log in _OTHER_RATE_LOGS(root):  # the touch view's ratelog_PID: raters as list items, no credit names
        pid = first_int(log.get("id"))
        if pid is not None and pid not in more and _NAMED_MEMBER_LINKS(log):
            more[pid] = _ratings_page(log, base_url, tid, pid)
    if not ratings and not more:  # the touch view and its themes: a link to the list, no table
        for link in _RATINGS_LINKS(root):
            url = absolute_url(base_url, link.get("href"))
            # The count it shows ("3人评分"); Discuz 5 and 6 link every post's list, "评分 0" too.
            count = first_int(f"{words_of(link)} {link.get('title') or ''}")
            if url and count and (pid := _query_ints(url, "pid")) is not None:
                more.setdefault(pid, url)
    return ratings, more


def _ratings_page(log: etree._Element, base_url: str, tid: int, pid: int) -> str:
    """The viewratings page of a post's rating block: its own link, else the one Discuz builds."""
    href = next(iter(_RATINGS_LINK(log)), None)
    return (absolute_url(base_url, href) if href else None) or viewratings_url(base_url, tid, pid)


def _shown_time(cell: etree._Element, tz: tzinfo, fetched_at: datetime | None) -> str | None:
    """A time as Discuz shows it: a recent one ("7 秒前") carries the exact time in its span's title."""
    for exact in [cell.get("title") or "", *_EXACT_TIME(cell)]:
        if value := page_time(exact, tz):
            return value
    return page_time(squash(words_of(cell)), tz, fetched_at)


def viewratings_url(base_url: str, tid: int, pid: int) -> str:
    return absolute_url(base_url, f"forum.php?mod=misc&action=viewratings&tid={tid}&pid={pid}") or base_url


def _credit_name(th: etree._Element) -> str:
    """"金钱 +48" -> 金钱: the header cell's words before its total."""
    words = squash(words_of(th))
    return squash(_SCORE.split(words)[0]) if _SCORE.search(words) else words


def _score(text: str) -> int | None:
    match = _SCORE.search(text or "")
    if not match:
        return None
    return int(match[2]) * (-1 if match[1] == "-" else 1)


def _user(cell: etree._Element) -> tuple[str | None, int | None]:
    for link in _LINKS(cell):
        name = squash(words_of(link))
        if name:
            match = UID_IN_HREF.search(link.get("href") or "")
            return name, int(match[1]) if match else None
    return squash(words_of(cell)) or None, None


def parse_viewratings(body: bytes | str, url: str, *, content_type: str | None = None,
                      utc_offset: str | tzinfo | None = None, fetched_at: datetime | None = None) -> RatingsPage:
    """The viewratings list, as a page or as its ajax popup (``inajax=1``): one Rating per
    row (credit and score, rater, time, reason). Raises PageProblem for a page without it."""
    text = ajax_text(body, content_type)
    tid, pid = _query_ints(url, "tid"), _query_ints(url, "pid")
    if tid is None or pid is None:
        raise PageProblem(PageKind.UNKNOWN, "a viewratings URL without tid and pid")
    html = ajax_html(text) if _XML_ROOT.match(text) else None
    page = f"<html><body>{html}</body></html>" if html is not None else text
    sel, _, tz = read_ajax(page, text, url, utc_offset)
    site = site_of(url)
    ratings = []
    for row in _RATINGS_ROWS(sel.root):
        cells = _CELLS(row)
        if len(cells) < 4:
            continue
        credit_cell = squash(words_of(cells[0]))
        score = _score(credit_cell)
        if score is None:
            continue
        rater, uid = _user(cells[1])
        ratings.append(Rating(
            site=site, pid=pid, tid=tid, rater=rater, rater_uid=uid,
            credit=squash(_SCORE.split(credit_cell)[0]), score=score,
            reason=squash(words_of(cells[3])),
            rated_at=_shown_time(cells[2], tz, fetched_at),
        ))
    if not ratings:
        raise _ajax_problem(sel, html or "", "no ratings in the viewratings answer")
    return RatingsPage(url=url, site=site, tid=tid, pid=pid, ratings=ratings)


# --- the ajax answers -----------------------------------------------------------------------


def ajax_text(body: bytes | str, content_type: str | None = None) -> str:
    """An answer's text (scraper.encoding.decode_ajax: its charset is in its XML declaration)."""
    return body if isinstance(body, str) else decode_ajax(body, content_type).text


def ajax_html(text: str) -> str:
    """The HTML an inajax answer carries: ``<root><![CDATA[…]]></root>``. An answer in
    another shape (an HTML error page) is returned as it is, for the caller to judge."""
    if not _XML_ROOT.match(text):
        return text
    match = _CDATA.search(text)
    return match[1] if match else ""


def read_ajax(page: str, original: str, url: str, utc_offset: str | tzinfo | None):
    """read_page for an ajax answer put in a page of its own; the site's offset comes from
    the caller or Discuz's default (the answer has no footer), not from the wrapper."""
    try:
        return open_page(page, url, utc_offset or _footer_or_default(original))
    except PageProblem as problem:
        if problem.kind == PageKind.BROKEN and _XML_ROOT.match(original):
            raise PageProblem(PageKind.EMPTY, "the ajax answer is empty") from None
        raise


def _footer_or_default(text: str) -> str | tzinfo:
    return footer_offset(text) or DEFAULT_UTC_OFFSET


def _ajax_problem(sel, html: str, nothing: str) -> PageProblem:
    """What an ajax answer without the list is: Discuz's message in it (alert_error,
    messagetext), a login wall, or empty."""
    said = discuz_message(sel)
    if said:
        return problem_of(sel, "</html>", kind=PageKind.ERROR, message=said)
    if not squash(re.sub(r"<[^>]+>", " ", html or "")):
        return PageProblem(PageKind.EMPTY, f"{nothing}: the answer is empty")
    return problem_of(sel, "</html>", kind=PageKind.EMPTY, message=nothing)


def _query_ints(url: str, key: str) -> int | None:
    values = parse_qs(urlsplit(url).query).get(key)
    return first_int(values[-1]) if values else None
