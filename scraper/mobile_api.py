"""The Discuz mobile API (``api/mobile/index.php?version=4&module=…``) to the dataclasses the
HTML pages give: ``viewthread`` to ThreadPage, ``forumdisplay`` to ForumPage, ``forumindex`` to
IndexPage. No Scrapy, no I/O.

The API answers UTF-8 JSON whatever the site's charset, with every scalar a string and Unix
times (``dbdateline``, ``dblastpost``) beside the formatted ones. Its messages are the same
discuzcode HTML the pages carry, noise included, so they go through the same cleaning
(scraper.content.extract_message); where the mobile rendering differs (quotes are
``div.reply_wrap``, entities are escaped twice) the message is first put in the desktop's
shape, so that the archive holds the same rows whichever source filled it. What the API does
not carry at all stays missing: v4 drops ``[code]`` blocks, ``[size]``/``[i]`` and the edit
note from messages, and a thread's answer names no forum.
"""

from __future__ import annotations

import html
import json
import math
import re
from datetime import datetime, timedelta, timezone, tzinfo
from urllib.parse import parse_qs, urljoin, urlsplit

from lxml import etree
from parsel import Selector

from scraper.content import extract_message, fragment_root
from scraper.dates import ABSOLUTE, DEFAULT_UTC_OFFSET, parse_offset
from scraper.kinds import PageKind
from scraper.thread import BANNED_NOTICE, BLOCKED_NOTICE, apply_message
from scraper.problems import LOGIN_PHRASES, MISSING_PHRASES, PageProblem, problem_of
from scraper.models import ForumLink, ForumPage, IndexPage, Post, ThreadPage, ThreadRow
from scraper.urls import api_page_url, site_of, site_root_url
from scraper.xpath import compiled, has_class, squash


# Discuz's message keys (Message.messageval), by meaning.
_MISSING_VALUES = re.compile(r"nonexist|not_?exist|_deleted", re.I)
_LOGIN_VALUES = re.compile(r"login|noperm|noallowed|readperm", re.I)
_CLOSED_VALUES = re.compile(r"board_closed|site_closed|bbclosed", re.I)

# Whole-message notices the API puts instead of a message (lang_template.php, the same
# strings the pages show in div.locked): banned author, blocked post, and the ones that hide it.
_HIDDEN_NOTICE = re.compile("仅作者可见|僅作者可見|visible to the author|付费主题|付費主題|密码帖|密碼帖", re.I)
_NOTICE_MAX_CHARS = 80
_PAGE_WINDOW = 100
_ESCAPED_TWICE = re.compile(r"&amp;(?=#?\w+;)")


def parse_api_thread(
    body: bytes | str,
    url: str,
    *,
    utc_offset: str | tzinfo | None = None,
    posts_per_page: int | None = None,
    fetched_at: datetime | None = None,
) -> ThreadPage:
    """Read one ``module=viewthread`` answer. Raises PageProblem for the API's error answers.

    ``utc_offset``: the forum's offset; when None it is read from the API's own formatted
    times (a post's ``dateline`` beside its ``dbdateline``), else +08:00, Discuz's default,
    as the HTML parser reads the page footer. ``posts_per_page`` stands in for the answer's
    ``ppp`` when it has none. ``fetched_at`` is accepted so that every page parser takes the
    same arguments: the API's times are absolute.
    """
    variables = _variables(body, "postlist")
    thread = _dict(variables.get("thread"))
    items = [item for item in _items(variables.get("postlist")) if _int(item.get("pid"))]
    if not items:
        raise PageProblem(PageKind.NO_POSTS, "the API answered no posts for this thread")
    tid = _int(thread.get("tid")) or _int(items[0].get("tid")) or _query_int(url, "tid")
    if tid is None:
        raise PageProblem(PageKind.UNKNOWN, "API thread answer without a thread id")
    base = site_root_url(url)
    tz = _zone(utc_offset, [(item.get("dateline"), item.get("dbdateline")) for item in items])

    replies = _first_int(thread, "replies", "allreplies")
    posts = replies + 1 if replies is not None else None
    page, page_count = _paging(posts, _int(variables.get("ppp")) or posts_per_page, _query_int(url, "page"))
    return ThreadPage(
        url=url,
        site=site_of(_thread_url(base, tid)),
        tid=tid,
        page=page,
        page_count=page_count,
        title=_text(thread.get("subject")),
        fid=_int(thread.get("fid")) or _int(variables.get("fid")),
        forum_name=None,  # viewthread names no forum; the forum's own answer does
        views=_int(thread.get("views")) if page == 1 else None,
        replies=replies if page == 1 else None,
        generator=None,  # module=check says "X3.2" whatever the version: no generator to trust
        posts=[_post(item, base, tz) for item in items],
        page_urls=_page_urls(url, page, page_count),
    )


def parse_api_forum(
    body: bytes | str,
    url: str,
    *,
    utc_offset: str | tzinfo | None = None,
    fetched_at: datetime | None = None,
) -> ForumPage:
    """Read one ``module=forumdisplay`` answer: the forum, its sub-forums and its thread rows.

    Thread and forum URLs are the desktop ones (``forum.php?mod=viewthread&tid=N``), so
    rows look the same whichever source filled them; ``last_post_at`` keeps the minute, as
    the thread lists show it. ``utc_offset`` as for parse_api_thread.
    """
    variables = _variables(body, "forum_threadlist")
    forum = _dict(variables.get("forum"))
    fid = _int(forum.get("fid")) or _query_int(url, "fid")
    if fid is None:
        raise PageProblem(PageKind.UNKNOWN, "API forum answer without a forum id")
    base = site_root_url(url)
    rows = _items(variables.get("forum_threadlist"))
    tz = _zone(utc_offset, [(row.get("lastpost"), row.get("dblastpost")) for row in rows])

    threads = _first_int(forum, "threadcount", "threads")
    page, page_count = _paging(threads, _int(variables.get("tpp")), _int(variables.get("page")) or _query_int(url, "page"))
    return ForumPage(
        url=url,
        site=site_of(_forum_url(base, fid)),
        fid=fid,
        page=page,
        page_count=page_count,
        name=_text(forum.get("name")),
        threads=[_thread_row(row, base, tz) for row in rows if _int(row.get("tid"))],
        subforums=[
            ForumLink(fid=sub_fid, name=_text(sub.get("name")) or "", url=_forum_url(base, sub_fid), parent_fid=fid)
            for sub in _items(variables.get("sublist"))
            if (sub_fid := _int(sub.get("fid")))
        ],
        page_urls=_page_urls(url, page, page_count),
    )


def parse_api_index(
    body: bytes | str,
    url: str,
    *,
    utc_offset: str | tzinfo | None = None,
    fetched_at: datetime | None = None,
) -> IndexPage:
    """Read the ``module=forumindex`` answer: each category (``catlist``), then its forums
    and their sub-forums (``forumlist``), with desktop URLs. The keyword arguments are
    accepted so that every page parser takes the same ones; the index carries no time."""
    variables = _variables(body, "forumlist")
    base = site_root_url(url)
    forums = {fid: item for item in _items(variables.get("forumlist")) if (fid := _int(item.get("fid")))}
    links: dict[tuple[bool, int], ForumLink] = {}

    def add_forum(fid: int, gid: int | None) -> None:
        item = forums.get(fid, {})
        if (False, fid) not in links:
            links[(False, fid)] = ForumLink(fid=fid, name=_text(item.get("name")) or "", url=_forum_url(base, fid), gid=gid)
        for sub in _items(item.get("sublist")):
            if (sub_fid := _int(sub.get("fid"))) and (False, sub_fid) not in links:
                links[(False, sub_fid)] = ForumLink(
                    fid=sub_fid, name=_text(sub.get("name")) or "", url=_forum_url(base, sub_fid), parent_fid=fid, gid=gid
                )

    for category in _items(variables.get("catlist")):
        gid = _int(category.get("fid"))
        if gid is None:
            continue
        links[(True, gid)] = ForumLink(
            fid=gid, name=_text(category.get("name")) or "", url=f"{base}forum.php?gid={gid}", is_category=True
        )
        for fid in _values(category.get("forums")):
            if (fid := _int(fid)) is not None:
                add_forum(fid, gid)
    for fid in forums:  # forums no category lists
        add_forum(fid, None)
    if not links:
        raise PageProblem(PageKind.NO_LISTING, "the API answered no forums")
    return IndexPage(url=url, site=site_of(f"{base}forum.php"), forums=list(links.values()), generator=None)


# The answer ------------------------------------------------------------------------------


def _variables(body: bytes | str, payload: str) -> dict:
    """The answer's ``Variables``, or the PageProblem it stands for: the API switched off,
    one of Discuz's messages instead of ``payload``, an HTML page, or no JSON at all."""
    if isinstance(body, bytes):
        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise PageProblem(PageKind.BROKEN, f"the API answer is not UTF-8: {error}") from None
    else:
        text = body.lstrip("\ufeff")
    if not text.strip():
        raise PageProblem(PageKind.EMPTY, "the API answer is empty")
    data = _json(text)
    if not isinstance(data, dict):
        raise PageProblem(PageKind.BROKEN, "the API answer is JSON but not an object")
    if data.get("error"):
        error = str(data["error"])
        kind = PageKind.API_CLOSED if error == "mobile_is_closed" else PageKind.ERROR
        raise PageProblem(kind, f"the mobile API says {error!r}" + (" (it is switched off)" if kind == PageKind.API_CLOSED else ""))
    variables = data.get("Variables")
    if not isinstance(variables, dict):
        raise PageProblem(PageKind.BROKEN, "the API answer has no Variables")
    message = data.get("Message")
    if isinstance(message, dict) and not _items(variables.get(payload)):
        raise _message_problem(message)
    return variables


def _json(text: str):
    """The answer's JSON; PHP notices printed before it ("<br /><b>Warning</b>: …") are skipped."""
    starts = [0] + [start for start in (text.find('{"Version"'),) if start > 0]
    error = None
    for start in starts:
        try:
            return json.loads(text[start:])
        except RecursionError:
            raise PageProblem(PageKind.BROKEN, "the API answer nests deeper than any answer does") from None
        except json.JSONDecodeError as failed:
            error = error or failed
    if text.lstrip().startswith("<"):  # an HTML page: the login wall, an error page…
        problem = problem_of(Selector(text=text), text, PageKind.BROKEN)
        raise PageProblem(problem.kind, problem.message or "an HTML page where the API's JSON was expected")
    raise PageProblem(PageKind.BROKEN, f"the API answer is not JSON: {error}")


def _message_problem(message: dict) -> PageProblem:
    value = str(message.get("messageval") or "")
    text = str(message.get("messagestr") or "")
    said = f"{value}: {text}" if text and text != value else value or text or "an error without a message"
    if _CLOSED_VALUES.search(value):
        return PageProblem(PageKind.CLOSED, said)
    if _MISSING_VALUES.search(value) or MISSING_PHRASES.search(text):
        return PageProblem(PageKind.MISSING, said)
    if _LOGIN_VALUES.search(value) or LOGIN_PHRASES.search(text):
        return PageProblem(PageKind.LOGIN, said)
    return PageProblem(PageKind.ERROR, said)


def _paging(count: int | None, per_page: int | None, asked: int | None) -> tuple[int, int]:
    """(page, page count) of a list of ``count`` items, ``per_page`` a page. Discuz serves its
    last page for any page past it; without the numbers the page asked for is all we know."""
    asked = max(asked or 1, 1)
    if count is None or not per_page or per_page < 0:
        return asked, asked
    page_count = max(math.ceil(count / per_page), 1)
    return min(asked, page_count), page_count


def _page_urls(url: str, page: int, page_count: int) -> dict[int, str]:
    """The API URLs of the list's other pages, in the form of the URL fetched: the first, the
    last and the _PAGE_WINDOW on either side (each page read gives the next, as a pager does;
    a 10,000-page thread does not make 10,000 URLs a page)."""
    numbers = {1, page_count, *range(max(page - _PAGE_WINDOW, 1), min(page + _PAGE_WINDOW, page_count) + 1)}
    return {number: api_page_url(url, number) for number in sorted(numbers) if number != page}


# Posts -------------------------------------------------------------------------------------


def _post(item: dict, base_url: str, tz: tzinfo) -> Post:
    post = Post(
        pid=_int(item.get("pid")),
        floor=_int(item.get("number")) or _int(item.get("position")),
        author=_text(item.get("author")),  # anonymous posts: the site's anonymoustext, uid 0
        author_uid=_int(item.get("authorid")) or None,
        posted_at=_time(item.get("dbdateline"), tz),
    )
    message = extract_message(_desktop_message(str(item.get("message") or "")), base_url)
    notice = squash(message.text)
    if len(notice) <= _NOTICE_MAX_CHARS and (flags := _notice_flags(item, notice)):
        # The whole message is one of Discuz's notices: kept as the pages keep it.
        post.content_text = notice
        post.masked, post.blocked, post.hidden = flags
        return post
    apply_message(post, message, tz)
    attachments = _attachments(item)
    post.images = message.images + [
        src for aid in _values(item.get("imagelist")) if (src := _attachment_src(attachments.get(str(aid)), base_url))
        and src not in message.images
    ]
    post.attachments = [link for attachment in attachments.values() if (link := _download_link(attachment, base_url))]
    return post


_REPLY_WRAPS = compiled(f".//div[{has_class('reply_wrap')}]")


def _desktop_message(markup: str) -> etree._Element:
    """The message in the desktop's shape: entities escaped once, quotes as div.quote > blockquote."""
    # The API escapes the page's entities once more: "&amp;amp;" in links, "&amp;quot;" in text.
    root = fragment_root(_ESCAPED_TWICE.sub("&", markup))
    for wrap in _REPLY_WRAPS(root):
        quote = etree.SubElement(wrap, "blockquote")
        quote.text, wrap.text = wrap.text, None
        for child in list(wrap):
            if child is not quote:
                quote.append(child)
        wrap.set("class", "quote")
        # A reply's quote heads with [size=2][url=…findpost…]; the mobile rendering drops the size.
        first = quote[0] if len(quote) and not (quote.text or "").strip() else None
        if first is not None and first.tag == "a" and "findpost" in (first.get("href") or ""):
            size = etree.Element("font", size="2")
            first.addprevious(size)
            size.append(first)  # the tail goes with it, so move it back
            size.tail, first.tail = first.tail, None
    return root


def _notice_flags(item: dict, text: str) -> tuple[bool, bool, bool] | None:
    """(masked, blocked, hidden) when ``text`` is a notice the API put instead of the message.
    The post's fields say whether Discuz had the reason (viewthread.php's own tests); an
    answer without them is taken at its word."""
    if BANNED_NOTICE.search(text) and _fields_say(item, _banned):
        return True, False, False
    if BLOCKED_NOTICE.search(text) and _fields_say(item, lambda post: (_int(post.get("status")) or 0) & 1):
        return False, True, False
    if _HIDDEN_NOTICE.search(text):
        return False, False, True
    return None


def _banned(post: dict) -> bool:
    return (
        str(post.get("groupid")) in ("4", "5")
        or str(post.get("memberstatus")) == "-1"
        or (bool(_int(post.get("authorid"))) and not post.get("username"))
    )


def _fields_say(post: dict, test) -> bool:
    if not any(key in post for key in ("groupid", "memberstatus", "status", "username")):
        return True
    return bool(test(post))


def _attachments(item: dict) -> dict[str, dict]:
    """The post's attachment objects by aid (PHP gives an empty list for none)."""
    found = item.get("attachments")
    if isinstance(found, dict):
        return {str(aid): value for aid, value in found.items() if isinstance(value, dict)}
    if isinstance(found, list):
        return {str(value.get("aid")): value for value in found if isinstance(value, dict)}
    return {}


def _attachment_src(attachment: dict | None, base_url: str) -> str | None:
    """The image itself (the desktop's zoomfile), not its thumbnail."""
    if not attachment or not attachment.get("attachment"):
        return None
    return urljoin(base_url, f"{attachment.get('url') or ''}{attachment['attachment']}")


def _download_link(attachment: dict, base_url: str) -> str | None:
    """The desktop's download link (``forum.php?mod=attachment&aid=…``, ``&nothumb=yes`` for an
    image, as the image menu gives it)."""
    aidencode = attachment.get("aidencode")
    if not aidencode:
        return None
    image = str(attachment.get("isimage") or "0") not in ("0", "")
    return urljoin(base_url, f"forum.php?mod=attachment&aid={aidencode}" + ("&nothumb=yes" if image else ""))


# Thread rows -------------------------------------------------------------------------------


def _thread_row(row: dict, base_url: str, tz: tzinfo) -> ThreadRow:
    tid = _int(row.get("tid"))
    last_post_at = _time(row.get("dblastpost"), tz)
    if last_post_at:  # the lists show the minute; stored rows compare with what they showed
        last_post_at = datetime.fromisoformat(last_post_at).replace(second=0).isoformat()
    return ThreadRow(
        tid=tid,
        title=_text(row.get("subject")) or "",
        url=_thread_url(base_url, tid),
        author=_text(row.get("author")),
        author_uid=_int(row.get("authorid")) or None,
        replies=_int(row.get("replies")),
        views=_int(row.get("views")),
        last_post_at=last_post_at,
        last_poster=_text(row.get("lastposter")),
        sticky=(_int(row.get("displayorder")) or 0) > 0,
        digest=(_int(row.get("digest")) or 0) > 0,
    )


def _thread_url(base_url: str, tid: int) -> str:
    return f"{base_url}forum.php?mod=viewthread&tid={tid}"


def _forum_url(base_url: str, fid: int) -> str:
    return f"{base_url}forum.php?mod=forumdisplay&fid={fid}"


# Values ------------------------------------------------------------------------------------


def _values(value) -> list:
    """A JSON list, or a PHP array with keys (an object), as a list; anything else: []."""
    return list(value.values()) if isinstance(value, dict) else value if isinstance(value, list) else []


def _items(value) -> list[dict]:
    """The objects of a list (_values)."""
    return [item for item in _values(value) if isinstance(item, dict)]


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _first_int(fields: dict, *keys: str) -> int | None:
    for key in keys:
        if (value := _int(fields.get(key))) is not None:
            return value
    return None


def _query_int(url: str, key: str) -> int | None:
    return _int((parse_qs(urlsplit(url).query).get(key) or [""])[0])


def _int(value) -> int | None:
    """The API's numbers are strings ("44"); None for what is no number."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    text = str(value).strip()
    return int(text) if re.fullmatch(r"-?\d+", text) else None


def _text(value) -> str | None:
    """A name or subject as the page shows it: Discuz stores them HTML-escaped."""
    if value is None:
        return None
    return squash(html.unescape(str(value))) or None


def _time(unix, tz: tzinfo) -> str | None:
    seconds = _int(unix)
    if not seconds:
        return None
    try:
        return datetime.fromtimestamp(seconds, tz).isoformat()
    except (ValueError, OverflowError, OSError):  # no time a calendar has
        return None


def _zone(utc_offset: str | tzinfo | None, shown: list[tuple[object, object]]) -> tzinfo:
    """The forum's offset: given, else what its formatted times say against the Unix ones
    ("2013-2-18 22:17:00" beside 1361197020 is +08:00), else Discuz's default +08:00."""
    if utc_offset:
        return parse_offset(utc_offset)
    for text, unix in shown:
        seconds = _int(unix)
        match = ABSOLUTE.search(html.unescape(str(text or "")))
        if not seconds or not match or not match["H"]:
            continue
        try:
            local = datetime(
                int(match["y"]), int(match["m"]), int(match["d"]), int(match["H"]), int(match["M"]), int(match["S"] or 0)
            )
            difference = local - datetime.fromtimestamp(seconds, timezone.utc).replace(tzinfo=None)
        except (ValueError, OverflowError, OSError):
            continue
        quarters = round(difference.total_seconds() / 900)
        if abs(quarters) <= 14 * 4 and abs(difference.total_seconds() - quarters * 900) < 120:
            return timezone(timedelta(minutes=quarters * 15))
    return parse_offset(DEFAULT_UTC_OFFSET)
