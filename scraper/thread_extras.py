"""What a Discuz thread page shows besides its posts, to a ThreadExtras: the thread's tags,
type (分类) and special kind, its poll, and each post's 点评, ratings and attachments.
No Scrapy, no I/O. Read beside scraper.thread (which reads the posts) from the same page.

Attachments: Discuz wraps each in ``<ignore_js_op>``: a file as ``span#attach_AID`` (link,
then ``(12.5 KB, 下载次数: 3)``), an image placed in the message as ``img#aimg_AID[aid]`` with
a tip holding its name, size and link; the ones not placed in the message are listed after
it (``div.pattl > dl.tattl``, ``a#aidAID``). Download links carry the aid encoded
(``aidencode``: urlencoded base64 of ``aid|hash|time|uid|tid``), new on every view: the aid
is decoded and the attachment keyed on it. A paid attachment shows its price and a 购买 link
(``action=attachpay``) instead of a download link.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from datetime import datetime, timedelta, tzinfo
from urllib.parse import parse_qs, unquote

from lxml import etree

from scraper.content import real_image_src
from scraper.dates import page_time
from scraper.encoding import decode_html
from scraper.extras_models import Attachment, Poll, PollOption, ThreadExtras
from scraper.html_page import open_page
from scraper.kinds import PageKind
from scraper.post_extras import comments_in, ratings_in
from scraper.problems import PageProblem, problem_of
from scraper.urls import absolute_url, site_of, thread_ref
from scraper.xpath import class_words, compiled, first_int, has_class, squash, words_of

# Each post's element, ided with its pid: div#post_PID (X2/X3, 7.x), div#pidPID (touch);
# through id('postlist') first, a lookup, where the whole-page search walks every element.
_NUMBERED = "[translate(substring-after(@id, '{0}'), '0123456789', '') = ''][substring-after(@id, '{0}') != '']"
_POSTS = (
    compiled("id('postlist')/div[starts-with(@id, 'post_')]" + _NUMBERED.format("post_")),
    compiled("//div[starts-with(@id, 'post_')]" + _NUMBERED.format("post_")
             + " | //div[starts-with(@id, 'pid')]" + _NUMBERED.format("pid")),
)
_PID = re.compile(r"\d+")
# An image whose only reference is its address (forum.php?mod=attachment&aid=CODE as src,
# X2.5 and themes that drop the aid attributes) is an attachment too.
_ATTACHMENT_SRC = "[contains(@src, 'mod=attachment') or contains(@src, 'attachment.php?aid=')][contains(@src, 'aid=')]"
_ATTACH_BLOCKS = compiled(
    "descendant::ignore_js_op"
    f" | descendant::dl[{has_class('tattl')}][not(ancestor::ignore_js_op)]"
    " | descendant::span[starts-with(@id, 'attach_')][not(ancestor::ignore_js_op)]"
    f" | descendant::img{_ATTACHMENT_SRC}[not(ancestor::ignore_js_op or ancestor::dl[{has_class('tattl')}]"
    " or ancestor::span[starts-with(@id, 'attach_')])]"
)
_ALL_TEXT = compiled(".//text()")
_TAGS = compiled(f".//div[{has_class('ptg')}]//a[contains(@href, 'mod=tag') or contains(@href, 'tag-')]")
_TYPE_LINKS = (
    compiled("id('thread_subject')/preceding-sibling::a[contains(@href, 'typeid=')]"),
    compiled(f"//h1[{has_class('ts')}]/a[contains(@href, 'typeid=')]"),
)
_POLL = compiled(f".//form[@id='poll'] | .//div[{has_class('pcht')}]")
_POLL_INFO = compiled(f".//div[{has_class('pinf')}] | preceding::div[{has_class('pinf')}][1]")
_POLL_LABELS = compiled(".//label[starts-with(@for, 'option_')] | .//td[contains(@class, 'pvt')]")
_VOTES_ROW = compiled("ancestor::tr[1]/following-sibling::tr[1]")
# What each part's markup cannot be without: the part is looked for only in a page whose
# text holds one of these (a substring test in C over the page), so a page pays only for the
# parts it shows. Every selector of the part needs one of its words in an attribute or a tag.
_MARKERS = {
    "type": ("typeid=",),
    "ratings": ("ratelog_", "action=viewratings"),  # a rating block, or a link to the list
    "attachments": ("ignore_js_op", "tattl", "attach_", "mod=attachment", "attachment.php?aid="),
}
# Words several markers hold: a page without one is spared the scans for each marker that
# holds it (a scan for a word the page lacks reads all of it, and most pages lack them all).
_SHARED_WORDS = ("attachment", "attl")
# 点评 live in div#comment_PID, which Discuz draws under every post, empty where it has none:
# one with anything in it (a search for its id's words, then a look at what follows the tag).
# The rest of the tag is read up to the next "comment_" at most: a page of those words before
# one ">" then costs one pass over them, not one pass for each.
_COMMENT_BLOCK_SHOWN = re.compile(r"""comment_\d+["']?(?:[^>c]|c(?!omment_))*>\s*(?!</div>)\S""")
# Markup of the special threads' own blocks (templates viewthread_poll/_reward/_trade/
# _activity/_debate.htm). Only the poll's is in the feature snapshot; the others are by the
# template names and may miss a modified theme. Each kind's test of one element, in the order
# they are tried; _special reads them from one walk of the first post's divs and forms (few)
# and one search for the ids, not a walk a kind.
_SPECIAL_TESTS = (
    ("poll", f"self::form[@id='poll'] or self::div[{has_class('pcht')}]"),
    ("reward", f"self::div[{has_class('rwd')}] or starts-with(@id, 'reward')"),
    ("trade", "starts-with(@id, 'trade') and contains(@id, '_') or self::form[contains(@action, 'action=trade')]"),
    ("activity", f"self::div[{has_class('act')}] or self::form[contains(@action, 'action=activityapplies')]"),
    ("debate", f"self::div[{has_class('dbt')}] or self::form[contains(@action, 'action=debatevote')]"),
)
_SPECIAL_CLASSES = {"pcht": "poll", "rwd": "reward", "act": "activity", "dbt": "debate"}  # of a div
_SPECIAL_ACTIONS = (("action=trade", "trade"), ("action=activityapplies", "activity"), ("action=debatevote", "debate"))
_SPECIAL_IDS = compiled(".//*[@id][starts-with(@id, 'reward') or starts-with(@id, 'trade') and contains(@id, '_')]")

_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*(Bytes|Byte|B|KB|K|MB|M|GB|G|TB)\b", re.I)
_UNITS = {"b": 0, "byte": 0, "bytes": 0, "k": 1, "kb": 1, "m": 2, "mb": 2, "g": 3, "gb": 3, "tb": 4}
_DOWNLOADS = re.compile(r"(?:下载次数|下載次數|downloads?)\s*[:：]\s*(\d+)", re.I)
_PRICE = re.compile(r"(?:售价|售價|price)\s*[:：]\s*(\d+)\s*([^\s,，)）]*)", re.I)
_UPLOADED = re.compile(r"(.+?)\s*(?:上传|上傳|upload)", re.I)
_UPLOAD_WORD = re.compile("上传|上傳|upload", re.I)
_ID_AID = re.compile(r"^(?:attach_|aid|aimg_)(\d+)$")
_IMAGE_NAME = re.compile(r"\.(?:jpe?g|png|gif|webp|bmp)$", re.I)
_OPTION = re.compile(r"^\s*(\d+)\s*[.、]\s*(.*)$", re.S)
_VOTES = re.compile(r"\((\d+)\)")
_VOTERS = re.compile(r"(?:共有|共)\s*(\d+)\s*人")
_MAX_CHOICES = re.compile(r"(?:最多可选|最多可選|最多)\s*(\d+)\s*项|(?:up to|max)\D{0,12}(\d+)", re.I)
_REMAINING = re.compile(r"(?:(\d+)\s*天)?\s*(?:(\d+)\s*小[时時])?\s*(?:(\d+)\s*分[钟鐘]?)?")
_ENDED = re.compile(r"投票已[经經]?[结結]束|已[结結]束|poll (?:has )?ended", re.I)


def parse_thread_extras(
    body: bytes | str,
    url: str,
    *,
    content_type: str | None = None,
    fetched_at: datetime | None = None,
    utc_offset: str | tzinfo | None = None,
) -> ThreadExtras:
    """Read the extras of one thread page. Raises PageProblem as the post parser does for a
    page that is not a thread (a message, a login wall); a thread with no extras gives an
    empty ThreadExtras, and so does a template whose posts this does not know (attachments
    are looked for inside each post)."""
    text = body if isinstance(body, str) else decode_html(body, content_type).text
    sel, base_url, tz = open_page(text, url, utc_offset)
    if not _posts(sel.root) and (problem := problem_of(sel, text)).kind != "no_posts":
        raise problem  # a message page, a login wall: not a thread page at all
    ref = thread_ref(url)
    if ref is None:
        raise PageProblem(PageKind.UNKNOWN, "thread page without a thread id in its URL")
    return thread_extras_of(sel.root, url, ref.tid, ref.page, base_url, tz, fetched_at, text)


def markers_in(text: str, markers: Iterable[str]) -> set[str]:
    """Which of ``markers`` the page's text holds (``_SHARED_WORDS`` first)."""
    lacks = [word for word in _SHARED_WORDS if word not in text]
    return {marker for marker in set(markers) if not any(word in marker for word in lacks) and marker in text}


def all_markers() -> list[str]:
    return [marker for markers in _MARKERS.values() for marker in markers]


def thread_extras_of(root: etree._Element, url: str, tid: int, page: int, base_url: str, tz: tzinfo,
                     fetched_at: datetime | None = None, text: str | None = None,
                     shown: set[str] | None = None) -> ThreadExtras:
    """parse_thread_extras for a page already read (scraper.html_page.open_page): the thread
    parser can call it with its own tree, so a page is parsed by lxml once.

    Everything is looked for inside the posts (the first post holds the poll, the tags and
    a special thread's block), the whole page only where no post is found; and, given the
    page's ``text``, only where the page holds the part's markers (``_MARKERS``; ``shown``:
    those markers_in found already, for all_markers())."""
    if shown is None and text is not None:
        shown = markers_in(text, all_markers())

    def shows(*markers: str) -> bool:
        return shown is None or any(marker in shown for marker in markers)

    site = site_of(url)
    extras = ThreadExtras(url=url, site=site, tid=tid, page=page)
    if shows(*_MARKERS["type"]):
        extras.type_id, extras.type_name = _thread_type(root)
    posts = _posts(root)
    first = posts[0][1] if posts else root
    extras.tags = _tags(first)
    extras.special = _special(first)
    if extras.special == "poll":  # the poll's block is what makes a poll thread
        extras.poll = _poll(first, site, tid, fetched_at, tz)
    comments = text is None or _COMMENT_BLOCK_SHOWN.search(text) is not None
    ratings = shows(*_MARKERS["ratings"])
    attachments = shows(*_MARKERS["attachments"])
    if not (comments or ratings or attachments):
        return extras
    for pid, element in posts or [(None, root)]:
        if comments:
            found, more = comments_in(element, site, tid, tz, fetched_at, base_url)
            extras.comments.extend(found)
            extras.comments_more.update(more)
        if ratings:
            found, more = ratings_in(element, site, tid, base_url)
            extras.ratings.extend(found)
            extras.ratings_more.update(more)
        if pid is not None and attachments:
            extras.attachments.extend(attachments_in(element, site, tid, pid, base_url, tz))
    return extras


def _posts(root: etree._Element) -> list[tuple[int, etree._Element]]:
    for xpath in _POSTS:
        if found := xpath(root):
            return [(int(_PID.search(element.get("id"))[0]), element) for element in found]
    return []


def _thread_type(root: etree._Element) -> tuple[int | None, str | None]:
    for link in (link for xpath in _TYPE_LINKS for link in xpath(root)):
        values = parse_qs(_query_of(link.get("href") or "")).get("typeid")
        name = squash(words_of(link)).strip("[]【】 ") or None
        if values or name:
            return (first_int(values[-1]) if values else None), name
    return None, None


def _special(root: etree._Element) -> str | None:
    """The first kind in _SPECIAL_TESTS's order that an element under ``root`` passes the test of."""
    kinds = set()
    for div in root.iterdescendants("div"):
        kinds.update(_SPECIAL_CLASSES[word] for word in class_words(div) if word in _SPECIAL_CLASSES)
    for form in root.iterdescendants("form"):
        if form.get("id") == "poll":
            kinds.add("poll")
        action = form.get("action") or ""
        kinds.update(kind for word, kind in _SPECIAL_ACTIONS if word in action)
    for element in _SPECIAL_IDS(root):
        kinds.add("reward" if element.get("id").startswith("reward") else "trade")
    return next((name for name, _ in _SPECIAL_TESTS if name in kinds), None)


def _tags(root: etree._Element) -> list[str]:
    tags: list[str] = []
    for link in _TAGS(root):
        tag = squash(link.get("title") or words_of(link))
        if tag and tag not in tags:
            tags.append(tag)
    return tags


# --- polls ----------------------------------------------------------------------------------


def _poll(root: etree._Element, site: str, tid: int, fetched_at: datetime | None, tz: tzinfo) -> Poll | None:
    found = _POLL(root)
    if not found:
        return None
    box = found[0]
    info = squash(" ".join(words_of(e) for e in _POLL_INFO(box)))
    multiple = bool(re.search("多选|多選|multiple", info, re.I))
    max_match = _MAX_CHOICES.search(info)
    poll = Poll(
        site=site,
        tid=tid,
        multiple=multiple,
        max_choices=int(max_match[1] or max_match[2]) if max_match else (None if multiple else 1),
        voters=int(m[1]) if (m := _VOTERS.search(info)) else None,
    )
    whole = squash(" ".join(_ALL_TEXT(box)))
    poll.ended = bool(_ENDED.search(whole))
    poll.expires_at = _expiry(whole, fetched_at, tz)
    seen = set()
    for label in _POLL_LABELS(box):
        match = _OPTION.match(squash(words_of(label)))
        if not match or int(match[1]) in seen:
            continue
        seen.add(int(match[1]))
        rows = _VOTES_ROW(label)
        votes = _VOTES.search(squash(words_of(rows[0]))) if rows else None
        poll.options.append(PollOption(option_no=int(match[1]), text=squash(match[2]),
                                       votes=int(votes[1]) if votes else None))
    poll.results_visible = bool(poll.options) and all(o.votes is not None for o in poll.options)
    if not poll.results_visible:
        for option in poll.options:
            option.votes = None
    return poll


def _expiry(text: str, fetched_at: datetime | None, tz: tzinfo) -> str | None:
    """"距结束还有: 2 天 3 小时": the end, from the fetch time (to the minute it shows)."""
    match = re.search(r"(?:距结束还有|距結束還有|剩余时间|remaining)\s*[:：]?\s*(.{0,40})", text, re.I)
    if not match or fetched_at is None:
        return None
    parts = _REMAINING.match(match[1])
    if not parts or not any(parts.groups()):
        return None
    days, hours, minutes = (int(v or 0) for v in parts.groups())
    end = fetched_at.astimezone(tz) + timedelta(days=days, hours=hours, minutes=minutes)
    return end.replace(second=0, microsecond=0).isoformat()


# --- attachments ----------------------------------------------------------------------------


def _query_of(url: str) -> str:
    """A link's query, cut out by hand: urlsplit raises on a broken host ("http://[…"), and one
    broken address must cost its own link only, not the page."""
    return url.partition("?")[2].partition("#")[0]


def decode_aid(url_or_code: str | None) -> int | None:
    """The aid in an attachment link: ``aid=N`` as it is, or Discuz's aidencode (urlencoded
    base64 of ``aid|hash|time|uid|tid``). None for anything else."""
    if not url_or_code:
        return None
    values = parse_qs(_query_of(url_or_code)).get("aid") if "aid=" in url_or_code else [url_or_code]
    if not values:
        return None
    code = values[-1].strip()
    if code.isdigit():
        return int(code)
    code = unquote(code)
    try:
        decoded = base64.b64decode(code + "=" * (-len(code) % 4), validate=False).decode("ascii", "replace")
    except (binascii.Error, ValueError):
        return None
    fields = decoded.split("|")
    return int(fields[0]) if len(fields) >= 2 and fields[0].isdigit() else None


def size_in_bytes(shown: str | None) -> int | None:
    """"23.87 KB" -> 24443 (Discuz's units are powers of 1024): as exact as the page shows."""
    match = _SIZE.search(shown or "")
    if not match:
        return None
    return round(float(match[1]) * 1024 ** _UNITS[match[2].lower()])


def attachments_in(post: etree._Element, site: str, tid: int, pid: int, base_url: str,
                   tz: tzinfo) -> list[Attachment]:
    """One Attachment per aid the post shows, the places it appears merged (an image shown
    in the message and listed after it is one attachment)."""
    found: dict[int, Attachment] = {}
    for block in _ATTACH_BLOCKS(post):
        attachment = _attachment(block, site, tid, pid, base_url, tz)
        if attachment is None:
            continue
        known = found.get(attachment.aid)
        if known is None:
            found[attachment.aid] = attachment
            continue
        for name, value in vars(attachment).items():
            if getattr(known, name) in (None, False, "") and value not in (None, False, ""):
                setattr(known, name, value)
    return list(found.values())


def _attachment(block: etree._Element, site: str, tid: int, pid: int, base_url: str,
                tz: tzinfo) -> Attachment | None:
    parts = _BlockParts(block)
    links, pay_links, images = parts.links, parts.pay_links, parts.images
    aid = _aid_of(block, parts)
    if aid is None:
        return None
    info = " ".join(squash(words_of(em)) for em in parts.ems if _SIZE.search(words_of(em)) or
                    _DOWNLOADS.search(words_of(em)))
    texts = _ALL_TEXT(block)
    words = squash(" ".join(texts))
    image_url = real_image_src(images[0], base_url) if images else None
    filename = _filename(parts.name_places, images)
    size_match = _SIZE.search(info)
    price = _PRICE.search(info) or _PRICE.search(words)
    downloads = _DOWNLOADS.search(info) or _DOWNLOADS.search(words)
    uploaded = _UPLOADED.search(" ".join(squash(t) for t in texts if _UPLOAD_WORD.search(t)))
    # Without a download link, an image shown by its attachment address is its own link.
    source = links[0].get("href") if links else next(
        (src for img in images if decode_aid(src := img.get("src")) is not None), None)
    url = absolute_url(base_url, source) if source else None
    attachment = Attachment(
        site=site, aid=aid, pid=pid, tid=tid, filename=filename,
        size=size_in_bytes(info), size_shown=size_match[0] if size_match else None,
        downloads=int(downloads[1]) if downloads else None,
        is_image=bool(images) or bool(filename and _IMAGE_NAME.search(filename)),
        price=int(price[1]) if price and int(price[1]) else None,
        price_credit=(price[2] or None) if price and int(price[1]) else None,
        url=url, image_url=image_url,
        uploaded_at=page_time(uploaded[1], tz) if uploaded else None,
    )
    if url is None:
        attachment.denied = (price[0] if price else words) or None
        if pay_links:
            attachment.denied = squash(f"{attachment.denied or ''} {squash(words_of(pay_links[-1]))}")
    return attachment


class _BlockParts:
    """The elements of one attachment block that its reading needs, in document order, from
    one walk of its elements (a block is a dozen; an XPath call a part cost more than the
    walk). What each list holds, as XPath (the walk must keep to it):

    - links: .//a[contains(@href, 'mod=attachment') or contains(@href, 'attachment.php?aid=')][contains(@href, 'aid=')]
    - pay_links: .//a[contains(@href, 'action=attachpay')]
    - ided: .//*[@id or @aid]
    - ems: .//em
    - images: descendant-or-self::img[@aid or starts-with(@id, 'aimg_') or ATTACHMENT_SRC]
    - name_places: .//a[starts-with(@id, 'aid')] | .//span[starts-with(@id, 'attach_')]//a | .//p/strong
    """

    def __init__(self, block: etree._Element) -> None:
        self.links: list[etree._Element] = []
        self.pay_links: list[etree._Element] = []
        self.ided: list[etree._Element] = []
        self.ems: list[etree._Element] = []
        self.images: list[etree._Element] = [block] if block.tag == "img" and _attachment_image(block) else []
        self.name_places: list[etree._Element] = []
        for element in block.iterdescendants(etree.Element):
            tag, id_ = element.tag, element.get("id")
            if id_ is not None or element.get("aid") is not None:
                self.ided.append(element)
            if tag == "a":
                href = element.get("href") or ""
                if ("mod=attachment" in href or "attachment.php?aid=" in href) and "aid=" in href:
                    self.links.append(element)
                if "action=attachpay" in href:
                    self.pay_links.append(element)
                if (id_ or "").startswith("aid") or _in_attach_span(element, block):
                    self.name_places.append(element)
            elif tag == "em":
                self.ems.append(element)
            elif tag == "img":
                if _attachment_image(element):
                    self.images.append(element)
            elif tag == "strong":
                parent = element.getparent()
                if parent.tag == "p" and parent is not block:
                    self.name_places.append(element)


def _attachment_image(img: etree._Element) -> bool:
    src = img.get("src") or ""
    return (img.get("aid") is not None or (img.get("id") or "").startswith("aimg_")
            or ("mod=attachment" in src or "attachment.php?aid=" in src) and "aid=" in src)


def _in_attach_span(element: etree._Element, block: etree._Element) -> bool:
    """Whether a span ided attach_AID below ``block`` holds ``element``."""
    parent = element.getparent()
    while parent is not block:
        if parent.tag == "span" and (parent.get("id") or "").startswith("attach_"):
            return True
        parent = parent.getparent()
    return False


def _aid_of(block: etree._Element, parts: _BlockParts) -> int | None:
    for element in [block, *parts.ided]:
        if (aid := element.get("aid")) and aid.isdigit():
            return int(aid)
        if match := _ID_AID.match(element.get("id") or ""):
            return int(match[1])
    for link in parts.links + parts.pay_links:
        if (aid := decode_aid(link.get("href"))) is not None:
            return aid
    for img in parts.images:
        if (aid := decode_aid(img.get("src"))) is not None:
            return aid
    return None


def _filename(name_places: list[etree._Element], images: list[etree._Element]) -> str | None:
    for element in name_places:
        name = squash(words_of(element))
        if name:
            return name
    for img in images:
        if name := squash(img.get("title") or img.get("alt") or ""):
            return name
    return None
