"""Discuz thread pages (bytes + URL) to ThreadPage dataclasses. No Scrapy, no I/O.

Built from what the markup means rather than from one template's accidents: a post is the
element Discuz ids with its pid (``div#post_PID``, ``table#pidPID``, the touch template's
``div#pidPID``, or the ``postmessage_PID``/``messagePID`` message of older templates), and
everything about it is looked for inside that element, labels in any language. Selectors
for each markup generation (X3/X2, 7.x, touch, pre-7 legacy) are tried in order.
"""

from __future__ import annotations

import re
from datetime import datetime, tzinfo

from lxml import etree
from parsel import Selector

from scraper.content import Message, extract_message, real_image_src
from scraper.dates import ABSOLUTE
from scraper.encoding import decode_html
from scraper.markup import (
    PAGER,
    UID_IN_HREF,
    PageProblem,
    absolute_url,
    breadcrumb_forum,
    first_int,
    cut_short,
    first_text,
    has_class,
    is_complete,
    page_time,
    problem_of,
    read_page,
    squash,
    title_tag,
)
from scraper.models import Post, ThreadPage
from scraper.urls import site_of, thread_ref


# Discuz's default floor labels (postnocustom): 楼主, 沙发, 板凳, 地板 for floors 1-4.
FLOOR_NAMES = {"楼主": 1, "樓主": 1, "沙发": 2, "沙發": 2, "板凳": 3, "地板": 4}

_POST_ID = re.compile(r"^(?:post_|pid)(\d+)$")
_MESSAGE_ID = re.compile(r"^(?:postmessage_|message)(\d+)$")
# Where each piece of a post lives, most specific first. The message is found by id.
AUTHOR_LINKS = (
    f".//div[{has_class('authi')}]//a[{has_class('xw1')}]",  # X2/X3 left column
    f".//li[{has_class('mtit')}]//a",  # touch
    f".//a[{has_class('posterlink')}]",  # 7.x
    f".//div[{has_class('authi')}]//a[contains(@href, 'uid')]",
    f".//*[{has_class('postauthor')}]//a[contains(@href, 'uid')]",
)
TIME_ELEMENTS = (
    ".//*[starts-with(@id, 'authorposton')]",  # X2/X3 and 7.x
    f".//li[{has_class('mtime')}]",  # touch
    f".//div[{has_class('authorinfo')}]/em",
)
FLOOR_ELEMENTS = (
    ".//a[starts-with(@id, 'postnum')]",  # X2/X3/7.x
    f".//li[{has_class('mtit')}]/span[{has_class('y')}]",  # touch
    f".//*[{has_class('t_number')}]",  # legacy
)
TITLE = (
    "//*[@id='thread_subject']",
    "//div[@id='threadtitle']/h1",
    f"//div[{has_class('view_tit')}]",
    "//h1",
)
VIEWS_REPLIES = (
    f"//div[@id='postlist']//td[{has_class('pls')}]//div[{has_class('hm')}]//span[{has_class('xi1')}]",
    "//div[@id='threadstamp']/following::div[1]//em",
)
LOCKED = f"div[{has_class('locked')}]"
# Whole-post replacements Discuz shows instead of a message (lang_template.php), by meaning.
BANNED_NOTICE = re.compile("作者被禁止或删除|作者被禁止或刪除|author is banned|内容自动屏蔽|內容自動屏蔽", re.I)
BLOCKED_NOTICE = re.compile("被管理员或版主屏蔽|被管理員或版主屏蔽|blocked by", re.I)
def parse_thread_page(
    body: bytes,
    url: str,
    *,
    content_type: str | None = None,
    fetched_at: datetime | None = None,
    utc_offset: str | tzinfo | None = None,
    posts_per_page: int | None = None,
) -> ThreadPage:
    """Read one thread page. Raises PageProblem for an error page, a login wall and the like,
    and for a page cut short before ``</html>``: its posts are not returned, not even the
    complete ones (see markup.cut_short), so the crawl records the page and reads it again.

    ``utc_offset`` is the forum's offset; when None it is read from the page footer
    ("GMT+8"), else +08:00 (Discuz's default). ``fetched_at`` resolves relative times
    ("3 分钟前") that carry no exact time. ``posts_per_page`` helps number floors on
    pages whose markup hides them (Discuz hides them from robots).
    """
    text = decode_html(body, content_type).text
    return parse_thread_html(
        text, url, fetched_at=fetched_at, utc_offset=utc_offset, posts_per_page=posts_per_page
    )


def parse_thread_html(
    text: str,
    url: str,
    *,
    fetched_at: datetime | None = None,
    utc_offset: str | tzinfo | None = None,
    posts_per_page: int | None = None,
) -> ThreadPage:
    """parse_thread_page for text that is already decoded."""
    sel, base_url, tz = read_page(text, url, utc_offset)

    roots = _post_roots(sel)
    if not roots:
        raise problem_of(sel, text)
    if not is_complete(text):
        raise cut_short(len(roots), "posts begun")

    ref = thread_ref(url)
    tid = ref.tid if ref else _tid_from_page(sel, text, base_url)
    if tid is None:
        raise PageProblem("unknown", "thread page without a thread id in its URL or markup")
    page, page_count, page_urls = _pager(sel, base_url, tid, ref.page if ref else 1)

    posts = [_post(pid, root, base_url, tz, fetched_at) for pid, root in roots]
    labels = [_floor_label(root) for _, root in roots]
    _number_floors(posts, labels, page, page_count, posts_per_page)
    fid, forum_name = breadcrumb_forum(sel, text)
    views, replies = _views_replies(sel) if page == 1 else (None, None)
    return ThreadPage(
        url=url,
        site=site_of(url),
        tid=tid,
        page=page,
        page_count=page_count,
        title=first_text(sel, TITLE) or title_tag(sel),
        fid=fid,
        forum_name=forum_name,
        views=views,
        replies=replies,
        generator=sel.xpath("//meta[@name='generator']/@content").get(),
        posts=posts,
        page_urls=page_urls,
    )


def _post_roots(sel: Selector) -> list[tuple[int, etree._Element]]:
    """Each post's outermost element with its pid, in page order, once per pid."""
    roots: dict[int, etree._Element] = {}
    for element in sel.root.iter():
        if not isinstance(element.tag, str):
            continue
        match = _POST_ID.match(element.get("id") or "")
        if match and int(match[1]) not in roots and _holds_message(element):
            roots[int(match[1])] = element
    if roots:
        return list(roots.items())
    # Older templates: only the message carries the pid; its post is the largest
    # ancestor that holds no other message.
    messages = [(int(m[1]), e) for e in sel.root.iter() if isinstance(e.tag, str) and (m := _MESSAGE_ID.match(e.get("id") or ""))]
    result = []
    for pid, message in messages:
        root = message
        while (parent := root.getparent()) is not None and len(
            [e for e in parent.iter() if isinstance(e.tag, str) and _MESSAGE_ID.match(e.get("id") or "")]
        ) == 1:
            root = parent
        result.append((pid, root))
    return result


def _holds_message(element: etree._Element) -> bool:
    """A post container holds a message, or the notice that replaces it."""
    return bool(
        element.xpath(
            ".//*[starts-with(@id, 'postmessage_')] | .//*[" + has_class("message") + "]"
            " | .//" + LOCKED + " | .//*[" + has_class("t_f") + "] | .//*[" + has_class("t_msgfont") + "]"
        )
    )


def _post(pid: int, root: etree._Element, base_url: str, tz: tzinfo, fetched_at: datetime | None) -> Post:
    message_el = _message_element(pid, root)
    author, uid = _author(root)
    post = Post(pid=pid, floor=None, author=author, author_uid=uid)
    post.posted_at = _posted_at(root, message_el, tz, fetched_at)
    if message_el is None:
        notice = root.xpath(".//" + LOCKED)
        notice_text = " ".join(notice[0].itertext()).strip() if notice else ""
        post.content_text = re.sub(r"\s+", " ", notice_text)
        post.masked = bool(BANNED_NOTICE.search(notice_text))
        post.blocked = bool(BLOCKED_NOTICE.search(notice_text))
        post.hidden = not (post.masked or post.blocked)
        return post
    message = extract_message(message_el, base_url)
    apply_message(post, message, tz)
    post.images = message.images + [
        src for src in _attachment_images(root, message_el, base_url) if src not in message.images
    ]
    post.attachments = _attachments(root, base_url)
    return post


def apply_message(post: Post, message: Message, tz: tzinfo) -> None:
    """Fill a post from its cleaned message: text, HTML, hidden flag, quote, edit note.
    Shared by the page and the mobile API parsers, so both fill posts alike."""
    post.content_html = message.html
    post.content_text = message.text
    post.hidden = message.hidden
    post.quote_pid = message.quote_pid
    if message.quote_header:
        post.quote_author = _quoted_author(message.quote_header)
    if message.edit_note:  # the API's version 4 drops it; its earlier versions keep it
        post.edited_by = _editor(message.edit_note, post.author)
        post.edited_at = page_time(message.edit_note, tz)


def _message_element(pid: int, root: etree._Element) -> etree._Element | None:
    for xpath in (
        f".//*[@id='postmessage_{pid}']",
        f".//*[@id='message{pid}']",
        f".//div[{has_class('message')}]",
        f".//*[{has_class('t_f')}]",
        f".//*[{has_class('t_msgfont')}]",
    ):
        found = root.xpath(xpath)
        if found:
            return found[0]
    return None


def _author(root: etree._Element) -> tuple[str | None, int | None]:
    for xpath in AUTHOR_LINKS:
        for link in root.xpath(xpath):
            name = squash(link.text_content())
            if name:
                match = UID_IN_HREF.search(link.get("href") or "")
                return name, int(match[1]) if match else None
    # Any named link to a member's space; else a bold name (legacy templates).
    for link in root.xpath(".//a[@href]"):
        match = UID_IN_HREF.search(link.get("href"))
        name = squash(link.text_content())
        if match and name:
            return name, int(match[1])
    bold = root.xpath(".//td[1]//b[normalize-space()]")
    if bold:
        return squash(bold[0].text_content()), None
    # Guests: "匿名" (and an IP) with no link, in the author block.
    authi = root.xpath(f".//*[{has_class('authi')}]")
    return (squash(authi[0].text_content()).split(" ")[0] or None, None) if authi else (None, None)


def _posted_at(root: etree._Element, message: etree._Element | None, tz: tzinfo, fetched_at: datetime | None) -> str | None:
    for xpath in TIME_ELEMENTS:
        for element in root.xpath(xpath):
            # Relative times wrap the exact time in a span's title.
            exact = element.xpath(".//span/@title")
            for candidate in exact + [element.text_content()]:
                if value := page_time(candidate, tz, fetched_at):
                    return value
    # Legacy templates: the first date with a time of day in the post outside its message
    # (a date alone is more likely the author's registration date).
    for text_node in root.xpath(".//text()[not(ancestor::*[starts-with(@id, 'message') or starts-with(@id, 'postmessage_')])]"):
        if (match := ABSOLUTE.search(text_node)) and match["H"]:
            return page_time(match[0], tz)
    return None


def _floor_label(root: etree._Element) -> str | None:
    for xpath in FLOOR_ELEMENTS:
        found = root.xpath(xpath)
        if found:
            return squash(found[0].text_content())
    return None


def _number_floors(
    posts: list[Post], labels: list[str | None], page: int, page_count: int, posts_per_page: int | None
) -> None:
    """Floors from the markup; where it hides them, from the post's position on the page."""
    offsets = []
    for index, (post, label) in enumerate(zip(posts, labels)):
        label = label or ""
        digits = re.search(r"\d+", label)
        if digits:
            post.floor = int(digits[0])
            offsets.append(post.floor - index)
        elif label in FLOOR_NAMES:
            post.floor = FLOOR_NAMES[label]
    if offsets:
        base = offsets[0]
    elif page == 1:
        base = 1
    else:
        per_page = posts_per_page or (len(posts) if page < page_count else None)
        base = (page - 1) * per_page + 1 if per_page else None
    for index, post in enumerate(posts):
        if post.floor is None and base is not None:
            post.floor = base + index


def _pager(sel: Selector, base_url: str, tid: int, url_page: int) -> tuple[int, int, dict[int, str]]:
    """Current page, page count and the thread's own page links (never the 点评 pager)."""
    for xpath in PAGER:
        pager = sel.xpath(xpath)
        if not pager:
            continue
        pager = pager[0]
        current = first_int(pager.xpath("./strong/text()").get())
        urls: dict[int, str] = {}
        numbers = [current or url_page]
        for link in pager.xpath(".//a[@href]"):
            href = absolute_url(base_url, link.attrib["href"])
            ref = thread_ref(href) if href else None
            if href is None or ref is not None and ref.tid != tid:
                continue
            number = first_int(link.xpath("string()").get()) or (ref.page if ref else None)
            if number:
                numbers.append(number)
                urls.setdefault(ref.page if ref else number, href)
        label = pager.xpath(".//label//span/text() | .//kbd/following-sibling::text()").get()
        if label and (number := first_int(label)):
            numbers.append(number)
        return current or url_page, max(numbers), urls
    return url_page, url_page, {}


def _views_replies(sel: Selector) -> tuple[int | None, int | None]:
    for xpath in VIEWS_REPLIES:
        numbers = [first_int(v) for v in sel.xpath(xpath).xpath("string()").getall()]
        numbers = [n for n in numbers if n is not None]
        if len(numbers) >= 2:
            return numbers[0], numbers[1]
    return None, None


def _tid_from_page(sel: Selector, text: str, base_url: str) -> int | None:
    if match := re.search(r"\btid\s*=\s*parseInt\('(\d+)'\)", text):
        return int(match[1])
    for href in sel.xpath("//link[@rel='canonical']/@href | //a/@href").getall():
        if (url := absolute_url(base_url, href)) and (ref := thread_ref(url)):
            return ref.tid
        if match := re.search(r"[?&]ptid=(\d+)", href):
            return int(match[1])
    return None


# "本帖最后由 X 于 T 编辑", "X 发表于 T" and their Traditional and English forms.
_EDITOR = re.compile(r"(?:由|edited by)\s*(?P<name>.+?)\s*(?:于|於|at|on)\s*\d{4}", re.I)
_QUOTED_AUTHOR = re.compile(r"^\s*(?P<name>.+?)\s+(?:发表于|發表於|posted on|posted at)\s", re.I)


def _editor(note: str, author: str | None) -> str | None:
    """Who edited the post, from the edit note in the forum's language."""
    if match := _EDITOR.search(note):
        return match["name"]
    if author and author in note:  # other languages: most edits are the author's own
        return author
    return None


def _quoted_author(header: str) -> str | None:
    """"老猫笔记 发表于 2015-7-1 09:12" -> 老猫笔记; else the words before the last word before the time."""
    if match := _QUOTED_AUTHOR.search(header):
        return match["name"]
    match = ABSOLUTE.search(header)
    words = (header[: match.start()] if match else header).split()
    return " ".join(words[:-1] if len(words) >= 2 else words) or None


def _attachment_images(root: etree._Element, message: etree._Element, base_url: str) -> list[str]:
    """Images of the attachment list that Discuz puts after the message (div.pattl)."""
    found = []
    for img in root.xpath(f".//*[{has_class('pattl')}]//img"):
        src = real_image_src(img, base_url)
        if src and src not in found:
            found.append(src)
    return found


def _attachments(root: etree._Element, base_url: str) -> list[str]:
    found = []
    for href in root.xpath(".//a/@href"):
        if "mod=attachment" in href or "attachment.php?aid=" in href:
            url = absolute_url(base_url, href)
            if url and url not in found:
                found.append(url)
    return found
