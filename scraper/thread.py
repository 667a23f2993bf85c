"""Discuz thread pages (bytes + URL) to ThreadPage dataclasses. No Scrapy, no I/O.

Built from what the markup means rather than from one template's accidents: a post is the
element Discuz ids with its pid (``div#post_PID``, ``table#pidPID``, the touch template's
``div#pidPID``, or the ``postmessage_PID``/``messagePID`` message of older templates), and
everything about it is looked for inside that element, labels in any language. Each page
is read with the selector profile that fits it (scraper.profiles: X2/X3, 7.x, touch, or the
user's own for a modified theme), field by field falling back to the generic selectors.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, tzinfo
from itertools import chain

from lxml import etree
from parsel import Selector

from scraper import profiles
from scraper.attachments import post_attachments
from scraper.content import LOCKED_NOTICE, Message, extract_message
from scraper.dates import ABSOLUTE, page_time
from scraper.encoding import decode_html
from scraper.floors import number_floors
from scraper.html_page import open_page
from scraper.kinds import PageKind
from scraper.navigation import breadcrumb_forum, thread_pager
from scraper.models import Post, ThreadPage
from scraper.page_ids import PageIds, pid_selector
from scraper.problems import PageProblem, closed_before_the_end, cut_short, is_complete, problem_of
from scraper.profiles import Profile, choose, selectors
from scraper.thread_extras import Markers, thread_extras_of
from scraper.urls import UID_IN_HREF, absolute_url, site_of, thread_ref
from scraper.xpath import compiled, first_int, first_text, has_class, shown_words, squash, title_tag, words_of

_POST_ID = re.compile(r"^(?:post_|pid)(\d+)$")
_MESSAGE_ID = re.compile(r"^(?:postmessage_|message)(\d+)$")
_FIRST_NUMBER = re.compile(r"\d+")
_POST_CANDIDATES = compiled("//*[starts-with(@id, 'post_') or starts-with(@id, 'pid')]")
_MESSAGE_CANDIDATES = compiled("//*[starts-with(@id, 'postmessage_') or starts-with(@id, 'message')]")
_HOLDS_MESSAGE = compiled(f"boolean(self::*{profiles.HOLDS_MESSAGE})")
_GENERATOR = compiled("/html/head/meta[@name='generator']/@content | /html/body/meta[@name='generator']/@content")
_EXACT_TIME = compiled(".//span/@title")
_ANY_LINK = compiled(".//a[@href]")
_BOLD_NAME = compiled(".//td[1]//b[normalize-space()]")
_AUTHOR_BLOCK = compiled(f"descendant::*[{has_class('authi')}]")
# lang_template.php's member_deleted, in each language pack (not inside the message).
_DELETED_MEMBER = compiled(
    ".//em[normalize-space() = '该用户已被删除' or normalize-space() = '該用戶已被刪除'"
    " or normalize-space() = '該用戶已被删除' or normalize-space() = 'Deleted user'"
    " or normalize-space() = 'This user has been deleted']"
    "[not(ancestor::*[starts-with(@id, 'postmessage_') or starts-with(@id, 'comment_')])]"
)
_MESSAGE_IDS = ("message", "postmessage_")  # the ids of a legacy post's message begin so
# What attachments.attachment_parts's finds cannot be without: a page whose text holds none has
# no post to look in.
_ATTACHMENT_MARKERS = ("mod=attachment", "attachment.php?aid=", "pattl")
# Whole-post replacements Discuz shows instead of a message (lang_template.php), by meaning.
BANNED_NOTICE = re.compile("作者被禁止或删除|作者被禁止或刪除|author is banned|内容自动屏蔽|內容自動屏蔽", re.I)
BLOCKED_NOTICE = re.compile("被管理员或版主屏蔽|被管理員或版主屏蔽|blocked by", re.I)
# lang_template.php's message_banned and message_single_banned, after "提示:", as the touch view
# draws them in place of the message (Simplified and Traditional packs).
_WHOLE_NOTICE = re.compile(
    r"(?:提示\s*[:：]\s*)?(?:作者被禁止或[删刪]除\s*[内內]容自[动動]屏蔽|[该該]帖被管理[员員]或版主屏蔽)"
)
# Discuz 6 puts the notice in a div.notice, themes elsewhere: the element around its words.
_NOTICE_TEXT = compiled(f"(.//text()[{profiles.NOTICE_WORDS}]/parent::*)[1]")


def parse_thread_page(
    body: bytes,
    url: str,
    *,
    content_type: str | None = None,
    fetched_at: datetime | None = None,
    utc_offset: str | tzinfo | None = None,
    posts_per_page: int | None = None,
    profiles: tuple[Profile, ...] = (),
) -> ThreadPage:
    """Read one thread page. Raises PageProblem for an error page, a login wall and the like,
    and for a page cut short before ``</html>`` with no whole post on it. A page cut after
    some whole posts gives those (never the cut one) and says so in ``cut_short``: the crawl
    keeps them, records the page ``broken`` and reads it again.

    ``utc_offset`` is the forum's offset; when None it is read from the page footer
    ("GMT+8"), else +08:00 (Discuz's default). ``fetched_at`` resolves relative times
    ("3 分钟前") that carry no exact time. ``posts_per_page`` helps number floors on
    pages whose markup hides them (Discuz hides them from robots). ``profiles`` are the
    user's own selector profiles (scraper.profiles), tried before the built-in ones.
    """
    text = decode_html(body, content_type).text
    return parse_thread_html(
        text, url, fetched_at=fetched_at, utc_offset=utc_offset, posts_per_page=posts_per_page, profiles=profiles
    )


def parse_thread_html(
    text: str,
    url: str,
    *,
    fetched_at: datetime | None = None,
    utc_offset: str | tzinfo | None = None,
    posts_per_page: int | None = None,
    profiles: tuple[Profile, ...] = (),
) -> ThreadPage:
    """parse_thread_page for text that is already decoded."""
    sel, base_url, tz = open_page(text, url, utc_offset)
    site = site_of(url)
    profile = choose(sel.root, site, profiles)

    roots = _post_roots(sel.root, profile)
    if not roots:
        raise problem_of(sel, text)
    cut = None
    if not is_complete(text):  # keep the posts that ended before the cut (see ThreadPage.cut_short)
        whole = [(pid, root) for pid, root in roots if closed_before_the_end(root)]
        if not whole:
            raise cut_short(len(roots), "posts begun")
        cut = f"the page is cut short (it ends before </html>): {len(roots)} posts begun, the {len(whole)} whole ones kept"
        roots = whole

    ref = thread_ref(url)
    tid = ref.tid if ref else _tid_from_page(sel, text, base_url)
    if tid is None:
        raise PageProblem(PageKind.UNKNOWN, "thread page without a thread id in its URL or markup")
    page, page_count, page_urls = thread_pager(sel, base_url, tid, ref.page if ref else 1, selectors(profile, "pager"))

    shown = Markers(text)  # each marker looked for once, for the posts and the extras
    reader = _PostReader(profile, base_url, tz, fetched_at, PageIds(sel.root), shown.shows(_ATTACHMENT_MARKERS))
    posts = [reader.post(pid, root) for pid, root in roots]
    number_floors(posts, [reader.floor_label(pid, root) for pid, root in roots], page, page_count, posts_per_page)
    fid, forum_name = breadcrumb_forum(sel, text, selectors(profile, "breadcrumb"))
    views, replies = _views_replies(sel.root, selectors(profile, "views_replies")) if page == 1 else (None, None)
    generator = _GENERATOR(sel.root)
    thread_page = ThreadPage(
        url=url,
        site=site,
        tid=tid,
        page=page,
        page_count=page_count,
        title=first_text(sel, selectors(profile, "title")) or title_tag(sel),
        fid=fid,
        forum_name=forum_name,
        views=views,
        replies=replies,
        generator=generator[0] if generator else None,
        profile=profile.name,
        posts=posts,
        page_urls=page_urls,
        cut_short=cut,
        # the same tree (parsed once), markers and ids
        extras=thread_extras_of(sel.root, url, tid, page, base_url, tz, fetched_at, text, shown, reader.ids),
    )
    reader.messages()  # last: it may clean the messages in the page's own tree
    return thread_page


def _post_roots(root: etree._Element, profile: Profile) -> list[tuple[int, etree._Element]]:
    """Each post's outermost element with its pid, in page order, once per pid: by the
    profile's selectors, else by meaning (an element ided post_PID or pidPID that holds a
    message; in older templates, the largest ancestor of a message ided with its pid)."""
    for expression in profile.posts:
        found: dict[int, etree._Element] = {}
        for element in compiled(expression)(root):
            pid = None if isinstance(element, str) else _pid_of(element, profile)
            if pid is not None and pid not in found:
                found[pid] = element
        if found:
            return list(found.items())
    roots: dict[int, etree._Element] = {}
    for element in _POST_CANDIDATES(root):
        match = _POST_ID.match(element.get("id") or "")
        if match and int(match[1]) not in roots and _HOLDS_MESSAGE(element):
            roots[int(match[1])] = element
    if roots:
        return list(roots.items())
    messages = [(int(m[1]), e) for e in _MESSAGE_CANDIDATES(root) if (m := _MESSAGE_ID.match(e.get("id") or ""))]
    # How many messages each element holds, counted up from the messages (not by walking
    # every ancestor's descendants). The keys keep their proxies alive, so getparent()
    # returns these same objects.
    holds: dict[etree._Element, int] = {}
    for _, message in messages:
        for ancestor in message.iterancestors():
            holds[ancestor] = holds.get(ancestor, 0) + 1
    result = []
    for pid, message in messages:
        post = message
        while (parent := post.getparent()) is not None and holds[parent] == 1:
            post = parent
        result.append((pid, post))
    return result


def _pid_of(element: etree._Element, profile: Profile) -> int | None:
    """The first number in the post's id, else in its message's id."""
    if match := _FIRST_NUMBER.search(element.get("id") or ""):
        return int(match[0])
    for expression in selectors(profile, "message"):
        for message in compiled(expression)(element, pid=""):
            if match := _FIRST_NUMBER.search(message.get("id") or ""):
                return int(match[0])
    return None


class _PostReader:
    """Reads each post of one page with the page's profile."""

    def __init__(self, profile: Profile, base_url: str, tz: tzinfo, fetched_at: datetime | None,
                 ids: PageIds, attachments: bool = True) -> None:
        self.base_url, self.tz, self.fetched_at = base_url, tz, fetched_at
        self.attachments = attachments  # whether the page has any (_ATTACHMENT_MARKERS)
        self.finders = {field: [pid_selector(x) for x in selectors(profile, field)] for field in ("message", "author", "time", "floor")}
        self.ids = ids
        # each post read, its message element and its attachment lists, for messages()
        self.pending: list[tuple[Post, etree._Element, tuple[list[str], list[str]]]] = []

    # Each method below asks the field's selectors in turn (the document-wide id() ones too,
    # for this pid), by a loop of its own: a generator left at its first find costs its close.

    def post(self, pid: int, root: etree._Element) -> Post:
        """The post as its markup shows it, but for its message: that is read by messages(),
        once nothing else reads the page."""
        message_el = None
        for find in self.finders["message"]:
            if (found := find(root, str(pid), self.ids)) and not isinstance(found[0], str):
                message_el = found[0]
                break
        author, uid = self.author(pid, root)
        post = Post(pid=pid, floor=None, author=author, author_uid=uid)
        post.posted_at = self.posted_at(pid, root)
        if message_el is None:
            notice = LOCKED_NOTICE(root) or _NOTICE_TEXT(root)
            notice_text = squash(" ".join(notice[0].itertext())) if notice else ""
            _flag_notice(post, notice_text)
            return post
        listed = post_attachments(root, self.base_url) if self.attachments else ([], [])
        self.pending.append((post, message_el, listed))
        return post

    def messages(self) -> None:
        """Fill each post read with its message. The last reading of the page: each message is
        cleaned in place where no message holds another (cleaning one then changes no other
        and nothing reads the page after), else in a copy."""
        elements = [element for _, element, _ in self.pending]
        held = set(elements)  # lxml gives a live element's proxy back: identity is the node's
        in_place = len(held) == len(elements) and not _one_holds_another(elements, held)
        for post, message_el, (list_images, attachments) in self.pending:
            message = extract_message(message_el, self.base_url, in_place=in_place)
            if _is_whole_notice(message.text):  # the touch view draws the notice as the message
                _flag_notice(post, squash(message.text))
                continue
            apply_message(post, message, self.tz)
            post.attachments = attachments
            post.images = message.images + [src for src in list_images if src not in message.images]
        self.pending = []

    def author(self, pid: int, root: etree._Element) -> tuple[str | None, int | None]:
        for find in self.finders["author"]:
            for link in find(root, str(pid), self.ids):
                name = squash(shown_words(link))
                if name:
                    match = None if isinstance(link, str) else UID_IN_HREF.search(link.get("href") or "")
                    return name, int(match[1]) if match else None
        # A deleted member: the name as plain text, "<em>该用户已被删除</em>" after it, no link.
        for notice in _DELETED_MEMBER(root):
            before = notice.getprevious()
            name = squash((before.tail if before is not None else notice.getparent().text) or "")
            if name:
                return name, None
        # Any named link to a member's space; else a bold name (legacy templates).
        for link in _ANY_LINK(root):
            match = UID_IN_HREF.search(link.get("href"))
            name = squash(shown_words(link))
            if match and name:
                return name, int(match[1])
        bold = _BOLD_NAME(root)
        if bold:
            return squash(words_of(bold[0])), None
        # Guests: "匿名" (and an IP) with no link, in the author block.
        authi = _AUTHOR_BLOCK(root)
        return (squash(shown_words(authi[0])).split(" ")[0] or None, None) if authi else (None, None)

    def posted_at(self, pid: int, root: etree._Element) -> str | None:
        for find in self.finders["time"]:
            for element in find(root, str(pid), self.ids):
                # Relative times wrap the exact time in a span's title (none without children).
                exact = _EXACT_TIME(element) if not isinstance(element, str) and len(element) else []
                for candidate in exact + [shown_words(element)]:
                    if value := page_time(candidate, self.tz, self.fetched_at):
                        return value
        # Legacy templates: the first date with a time of day in the post outside its message
        # (a date alone is more likely the author's registration date).
        for text_node in texts_outside_message(root):
            if (match := ABSOLUTE.search(text_node)) and match["H"]:
                return page_time(match[0], self.tz)
        return None

    def floor_label(self, pid: int, root: etree._Element) -> str | None:
        for find in self.finders["floor"]:
            if found := find(root, str(pid), self.ids):
                return squash(words_of(found[0]))
        return None


def _one_holds_another(elements: list[etree._Element], held: set[etree._Element]) -> bool:
    """Whether one of ``elements`` (``held``: the same, as a set) is inside another. Each
    ancestor is walked once for them all (a page nesting its posts deep has many)."""
    walked: set[etree._Element] = set()
    for element in elements:
        for ancestor in element.iterancestors():
            if ancestor in held:
                return True
            if ancestor in walked:
                break
            walked.add(ancestor)
    return False


def texts_outside_message(root: etree._Element) -> Iterator[str]:
    """The texts under ``root`` that no element ided as a message holds (``root`` and what
    holds it included), in document order: .//text()[not(ancestor::*[starts-with(@id,
    'message') or starts-with(@id, 'postmessage_')])], whose ancestor test libxml2 runs for
    each text (a legacy page's posts are mostly texts), read here as the post is walked."""
    if not any((element.get("id") or "").startswith(_MESSAGE_IDS) for element in (root, *root.iterancestors())):
        yield from _texts_outside(root)


def _texts_outside(root: etree._Element) -> Iterator[str]:
    """Texts and tails in document order, a message's skipped (its tail kept). A stack, not
    recursion: a hostile page may nest deeper than Python recurses."""
    if root.text:
        yield root.text
    stack = [iter(root)]
    while stack:
        node = next(stack[-1], None)
        if node is None:
            stack.pop()
        elif isinstance(node, tuple):  # the end of an element walked into: its tail
            if node[0].tail:
                yield node[0].tail
        elif isinstance(node.tag, str) and not (node.get("id") or "").startswith(_MESSAGE_IDS):
            if node.text:
                yield node.text
            stack.append(chain(node, [(node,)]))
        elif node.tail:
            yield node.tail


def _flag_notice(post: Post, notice_text: str) -> None:
    """A post Discuz shows as a notice alone: the notice is its text, flagged by its meaning
    (a banned author's is ``masked``, a moderator's block ``blocked``, else ``hidden``)."""
    post.content_text, post.content_html = notice_text, ""
    post.masked = bool(BANNED_NOTICE.search(notice_text))
    post.blocked = bool(BLOCKED_NOTICE.search(notice_text))
    post.hidden = not (post.masked or post.blocked)


def _is_whole_notice(text: str) -> bool:
    """The whole message is one of Discuz's banned or blocked notices ("提示: 该帖被管理员或版主屏蔽"),
    word for word: a reply that only mentions one is a reply. (Each form ends in 屏蔽: a message
    without it is no notice, and its text is not squashed to say so.)"""
    return "屏蔽" in text and bool(_WHOLE_NOTICE.fullmatch(squash(text)))


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


def _views_replies(root: etree._Element, xpaths: tuple[str, ...]) -> tuple[int | None, int | None]:
    for xpath in xpaths:
        numbers = [first_int(words_of(found)) for found in compiled(xpath)(root)]
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
