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
note from messages, and a thread's answer names no forum. The answer's envelope (its
Variables, or the problem it stands for) and its loose values are read by scraper.api_answer.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, tzinfo
from urllib.parse import urljoin

from lxml import etree

from scraper.api_answer import (
    answer_variables,
    as_dict,
    first_int_of,
    int_of,
    objects_of,
    query_int,
    text_of,
    unix_time,
    values_of,
    zone_of,
)
from scraper.api_extras import parse_api_thread_extras
from scraper.content import extract_message, fragment_root
from scraper.kinds import PageKind
from scraper.models import ForumLink, ForumPage, IndexPage, Post, ThreadPage, ThreadRow
from scraper.problems import PageProblem
from scraper.thread import BANNED_NOTICE, BLOCKED_NOTICE, apply_message
from scraper.urls import api_page_url, site_of, site_root_url
from scraper.xpath import compiled, has_class, squash


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
    variables = answer_variables(body, "postlist")
    thread = as_dict(variables.get("thread"))
    items = [item for item in objects_of(variables.get("postlist")) if int_of(item.get("pid"))]
    if not items:
        raise PageProblem(PageKind.NO_POSTS, "the API answered no posts for this thread")
    tid = int_of(thread.get("tid")) or int_of(items[0].get("tid")) or query_int(url, "tid")
    if tid is None:
        raise PageProblem(PageKind.UNKNOWN, "API thread answer without a thread id")
    base = site_root_url(url)
    tz = zone_of(utc_offset, [(item.get("dateline"), item.get("dbdateline")) for item in items])

    replies = first_int_of(thread, "replies", "allreplies")
    posts = replies + 1 if replies is not None else None
    page, page_count = _paging(posts, int_of(variables.get("ppp")) or posts_per_page, query_int(url, "page"))
    return ThreadPage(
        url=url,
        site=site_of(_thread_url(base, tid)),
        tid=tid,
        page=page,
        page_count=page_count,
        title=text_of(thread.get("subject")),
        fid=int_of(thread.get("fid")) or int_of(variables.get("fid")),
        forum_name=None,  # viewthread names no forum; the forum's own answer does
        views=int_of(thread.get("views")) if page == 1 else None,
        replies=replies if page == 1 else None,
        generator=None,  # module=check says "X3.2" whatever the version: no generator to trust
        posts=[_post(item, base, tz) for item in items],
        page_urls=_page_urls(url, page, page_count),
        extras=parse_api_thread_extras(body, url, utc_offset=utc_offset, fetched_at=fetched_at),
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
    variables = answer_variables(body, "forum_threadlist")
    forum = as_dict(variables.get("forum"))
    fid = int_of(forum.get("fid")) or query_int(url, "fid")
    if fid is None:
        raise PageProblem(PageKind.UNKNOWN, "API forum answer without a forum id")
    base = site_root_url(url)
    rows = objects_of(variables.get("forum_threadlist"))
    tz = zone_of(utc_offset, [(row.get("lastpost"), row.get("dblastpost")) for row in rows])

    threads = first_int_of(forum, "threadcount", "threads")
    page, page_count = _paging(threads, int_of(variables.get("tpp")), int_of(variables.get("page")) or query_int(url, "page"))
    return ForumPage(
        url=url,
        site=site_of(_forum_url(base, fid)),
        fid=fid,
        page=page,
        page_count=page_count,
        name=text_of(forum.get("name")),
        threads=[_thread_row(row, base, tz) for row in rows if int_of(row.get("tid"))],
        subforums=[
            ForumLink(fid=sub_fid, name=text_of(sub.get("name")) or "", url=_forum_url(base, sub_fid), parent_fid=fid)
            for sub in objects_of(variables.get("sublist"))
            if (sub_fid := int_of(sub.get("fid")))
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
    variables = answer_variables(body, "forumlist")
    base = site_root_url(url)
    forums = {fid: item for item in objects_of(variables.get("forumlist")) if (fid := int_of(item.get("fid")))}
    links: dict[tuple[bool, int], ForumLink] = {}

    def add_forum(fid: int, gid: int | None) -> None:
        item = forums.get(fid, {})
        if (False, fid) not in links:
            links[(False, fid)] = ForumLink(fid=fid, name=text_of(item.get("name")) or "", url=_forum_url(base, fid), gid=gid)
        for sub in objects_of(item.get("sublist")):
            if (sub_fid := int_of(sub.get("fid"))) and (False, sub_fid) not in links:
                links[(False, sub_fid)] = ForumLink(
                    fid=sub_fid, name=text_of(sub.get("name")) or "", url=_forum_url(base, sub_fid), parent_fid=fid, gid=gid
                )

    for category in objects_of(variables.get("catlist")):
        gid = int_of(category.get("fid"))
        if gid is None:
            continue
        links[(True, gid)] = ForumLink(
            fid=gid, name=text_of(category.get("name")) or "", url=f"{base}forum.php?gid={gid}", is_category=True
        )
        for fid in values_of(category.get("forums")):
            if (fid := int_of(fid)) is not None:
                add_forum(fid, gid)
    for fid in forums:  # forums no category lists
        add_forum(fid, None)
    if not links:
        raise PageProblem(PageKind.NO_LISTING, "the API answered no forums")
    return IndexPage(url=url, site=site_of(f"{base}forum.php"), forums=list(links.values()), generator=None)


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
        pid=int_of(item.get("pid")),
        floor=int_of(item.get("number")) or int_of(item.get("position")),
        author=text_of(item.get("author")),  # anonymous posts: the site's anonymoustext, uid 0
        author_uid=int_of(item.get("authorid")) or None,
        posted_at=unix_time(item.get("dbdateline"), tz),
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
        src for aid in values_of(item.get("imagelist")) if (src := _attachment_src(attachments.get(str(aid)), base_url))
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
    if BLOCKED_NOTICE.search(text) and _fields_say(item, lambda post: (int_of(post.get("status")) or 0) & 1):
        return False, True, False
    if _HIDDEN_NOTICE.search(text):
        return False, False, True
    return None


def _banned(post: dict) -> bool:
    return (
        str(post.get("groupid")) in ("4", "5")
        or str(post.get("memberstatus")) == "-1"
        or (bool(int_of(post.get("authorid"))) and not post.get("username"))
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
    tid = int_of(row.get("tid"))
    last_post_at = unix_time(row.get("dblastpost"), tz)
    if last_post_at:  # the lists show the minute; stored rows compare with what they showed
        last_post_at = datetime.fromisoformat(last_post_at).replace(second=0).isoformat()
    return ThreadRow(
        tid=tid,
        title=text_of(row.get("subject")) or "",
        url=_thread_url(base_url, tid),
        author=text_of(row.get("author")),
        author_uid=int_of(row.get("authorid")) or None,
        replies=int_of(row.get("replies")),
        views=int_of(row.get("views")),
        last_post_at=last_post_at,
        last_poster=text_of(row.get("lastposter")),
        sticky=(int_of(row.get("displayorder")) or 0) > 0,
        digest=(int_of(row.get("digest")) or 0) > 0,
    )


def _thread_url(base_url: str, tid: int) -> str:
    return f"{base_url}forum.php?mod=viewthread&tid={tid}"


def _forum_url(base_url: str, fid: int) -> str:
    return f"{base_url}forum.php?mod=forumdisplay&fid={fid}"


