"""What a Discuz thread page shows besides its posts, to a ThreadExtras: the thread's tags,
type (分类) and special kind, its poll, and each post's 点评, ratings and attachments
(scraper.attachments). No Scrapy, no I/O. Read beside scraper.thread (which reads the posts)
from the same page.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta, tzinfo

from lxml import etree

from scraper.attachments import attachments_in, query_of
from scraper.encoding import decode_html
from scraper.extras_models import Poll, PollOption, ThreadExtras
from scraper.html_page import open_page
from scraper.kinds import PageKind
from scraper.page_ids import PageIds
from scraper.post_extras import comments_in, ratings_in
from scraper.problems import PageProblem, problem_of
from scraper.urls import query_values, site_of, thread_ref
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
_ALL_TEXT = compiled(".//text()")
_TAG_LINK = "a[contains(@href, 'mod=tag') or contains(@href, 'tag-')]"
_TAG_LINKS = compiled(f".//{_TAG_LINK}")
_TAGS = compiled(f"descendant::div[{has_class('ptg')}]//{_TAG_LINK}")
# The thread type's links: before the subject (X3), else in the h1.ts (X2). The h1s come from
# lxml's walk of the page (its tag test in C), where XPath's "//h1" is a step from every node.
_SUBJECT_TYPE_LINKS = compiled("id('thread_subject')/preceding-sibling::a[contains(@href, 'typeid=')]")
_H1_TYPE_LINKS = compiled(f"//h1[{has_class('ts')}]/a[contains(@href, 'typeid=')]")
_POLL = compiled(f".//form[@id='poll'] | .//div[{has_class('pcht')}]")
_POLL_INFO = compiled(f".//div[{has_class('pinf')}] | preceding::div[{has_class('pinf')}][1]")
_POLL_LABELS = compiled(".//label[starts-with(@for, 'option_')] | .//td[contains(@class, 'pvt')]")
_VOTES_ROW = compiled("ancestor::tr[1]/following-sibling::tr[1]")
# What each part's markup cannot be without: the part is looked for only in a page whose
# text holds one of these (a substring test in C over the page), so a page pays only for the
# parts it shows. Every selector of the part needs one of its words in an attribute or a tag,
# or an id that begins with one of its _ID_MARKERS.
_MARKERS = {
    "ratings": ("action=viewratings",),  # a link to the list
    "attachments": ("ignore_js_op", "tattl", "mod=attachment", "attachment.php?aid="),
}
# The parts an element's id names (a rating block's dl#ratelog_PID, an attachment's
# span#attach_AID): looked for in the page's table of ids (scraper.page_ids), which costs
# less than a scan of the page, first.
_ID_MARKERS = {"ratings": ("ratelog_",), "attachments": ("attach_",)}
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
# they are tried; _first_post_parts reads them from one walk of the first post's divs and forms (few)
# and one search for the ids (where the page's table of ids holds one that begins so), not a
# walk a kind.
_SPECIAL_TESTS = (
    ("poll", f"self::form[@id='poll'] or self::div[{has_class('pcht')}]"),
    ("reward", f"self::div[{has_class('rwd')}] or starts-with(@id, 'reward')"),
    ("trade", "starts-with(@id, 'trade') and contains(@id, '_') or self::form[contains(@action, 'action=trade')]"),
    ("activity", f"self::div[{has_class('act')}] or self::form[contains(@action, 'action=activityapplies')]"),
    ("debate", f"self::div[{has_class('dbt')}] or self::form[contains(@action, 'action=debatevote')]"),
)
_SPECIAL_CLASSES = {"pcht": "poll", "rwd": "reward", "act": "activity", "dbt": "debate"}  # of a div
_SPECIAL_ACTIONS = (("action=trade", "trade"), ("action=activityapplies", "activity"), ("action=debatevote", "debate"))
_SPECIAL_ID_PREFIXES = ("reward", "trade")  # what _SPECIAL_IDS's ids begin with
_SPECIAL_IDS = compiled("descendant::*[@id][starts-with(@id, 'reward') or starts-with(@id, 'trade') and contains(@id, '_')]")

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


class Markers:
    """Which markers the page's text holds, each looked for once and only when asked: a part
    asks for its markers in turn and stops at the first the page holds (``shows``), so a page
    that has the part pays for a scan up to its first marker, not for a scan for each (a scan
    for a word the page lacks reads all of it). A marker holding one of ``_SHARED_WORDS`` is
    looked for only where the page holds that word."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._known: dict[str, bool] = {}

    def _holds(self, word: str) -> bool:
        if (known := self._known.get(word)) is None:
            known = self._known[word] = word in self.text
        return known

    def __contains__(self, marker: str) -> bool:
        return all(self._holds(word) for word in _SHARED_WORDS if word in marker) and self._holds(marker)

    def shows(self, markers: Iterable[str]) -> bool:
        return any(marker in self for marker in markers)


def thread_extras_of(root: etree._Element, url: str, tid: int, page: int, base_url: str, tz: tzinfo,
                     fetched_at: datetime | None = None, text: str | None = None,
                     shown: Markers | None = None, ids: PageIds | None = None) -> ThreadExtras:
    """parse_thread_extras for a page already read (scraper.html_page.open_page): the thread
    parser can call it with its own tree, so a page is parsed by lxml once.

    Everything is looked for inside the posts (the first post holds the poll, the tags and
    a special thread's block), the whole page only where no post is found; and, given the
    page's ``text``, only where the page holds the part's markers (``_MARKERS``; ``shown``:
    the page's Markers, the answers the caller asked for already kept; ``ids``: its PageIds)."""
    if shown is None and text is not None:
        shown = Markers(text)
    ids = ids or PageIds(root)

    def shows(part: str) -> bool:
        return shown is None or ids.begins(_ID_MARKERS.get(part, ())) or shown.shows(_MARKERS[part])

    site = site_of(url)
    extras = ThreadExtras(url=url, site=site, tid=tid, page=page)
    extras.type_id, extras.type_name = _thread_type(root)
    posts = _posts(root, ids)
    first = posts[0][1] if posts else root
    extras.special, tag_lists = _first_post_parts(first, ids)
    extras.tags = _tags(first, tag_lists)
    if extras.special == "poll":  # the poll's block is what makes a poll thread
        extras.poll = _poll(first, site, tid, fetched_at, tz)
    comments = text is None or _shows_comment_block(text)
    ratings = shows("ratings")
    attachments = shows("attachments")
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


def _shows_comment_block(text: str) -> bool:
    r"""_COMMENT_BLOCK_SHOWN.search(text), read with str's methods: each "comment_" found by
    str.find (a scan in C that skips ahead, where re steps through the page a character at a
    time for its first word), then what the regex asks of it: a digit next; the tag's end
    (">") before the next "comment_"; and after it and any white space (re's \s is
    str.isspace), something other than "</div>"."""
    end = len(text)
    start = text.find("comment_")
    while start >= 0:
        after = start + 8
        following = text.find("comment_", after)
        if after < end and text[after].isdecimal():  # re's \d: Unicode's decimal digits
            close = text.find(">", after)
            if close >= 0 and (following < 0 or close < following):
                shown = close + 1
                while shown < end and text[shown].isspace():
                    shown += 1
                if shown < end and not text.startswith("</div>", shown):
                    return True
        start = following
    return False


def _posts(root: etree._Element, ids: PageIds | None = None) -> list[tuple[int, etree._Element]]:
    """Each post's element with its pid. Given the page's ids, _POSTS's first XPath is read
    from them: the element id('postlist') names, and its divs ided post_ and ASCII digits."""
    if ids is not None and ids.known:
        postlist = ids.get("postlist")
        found = [] if postlist is None else [
            element for element in postlist.iterchildren("div")
            if (id_ := element.get("id")) and id_.startswith("post_") and id_[5:].isascii() and id_[5:].isdigit()]
        if found:
            return [(int(element.get("id")[5:]), element) for element in found]
        xpaths = _POSTS[1:]
    else:
        xpaths = _POSTS
    for xpath in xpaths:
        if found := xpath(root):
            return [(int(_PID.search(element.get("id"))[0]), element) for element in found]
    return []


def _type_links(root: etree._Element) -> Iterator[etree._Element]:
    """What _SUBJECT_TYPE_LINKS, then _H1_TYPE_LINKS find, the h1s only when asked for more
    than the first's: those whose class holds ts, read from the walk; where two do (one may
    hold the other), by the XPath."""
    yield from _SUBJECT_TYPE_LINKS(root)
    top = root.getroottree().getroot()  # and the elements beside it: a page may have two <html>
    tops = [*reversed(list(top.itersiblings(preceding=True))), top, *top.itersiblings()]
    h1s = [h1 for element in tops for h1 in element.iter("h1")
           if (classes := h1.get("class")) and "ts" in classes and "ts" in class_words(h1)]
    if len(h1s) > 1:
        yield from _H1_TYPE_LINKS(root)
    else:
        yield from (link for h1 in h1s for link in h1.iterchildren("a") if "typeid=" in (link.get("href") or ""))


def _thread_type(root: etree._Element) -> tuple[int | None, str | None]:
    for link in _type_links(root):
        values = query_values(query_of(link.get("href") or "")).get("typeid")
        name = squash(words_of(link)).strip("[]【】 ") or None
        if values or name:
            return (first_int(values[-1]) if values else None), name
    return None, None


def _first_post_parts(root: etree._Element, ids: PageIds | None = None) -> tuple[str | None, list[etree._Element]]:
    """The special kind (the first in _SPECIAL_TESTS's order that an element under ``root``
    passes the test of), and the tag lists (div.ptg) under ``root``, from one walk of its divs
    and forms (a first post has hundreds of divs; few have a class that holds a word looked for)."""
    kinds = set()
    tag_lists = []
    for element in root.iterdescendants("div", "form"):
        if element.tag == "div":
            if not (classes := element.get("class")):
                continue
            # split only a class that holds one of the words
            if "pcht" in classes or "rwd" in classes or "act" in classes or "dbt" in classes:
                kinds.update(_SPECIAL_CLASSES[word] for word in class_words(element) if word in _SPECIAL_CLASSES)
            if "ptg" in classes and "ptg" in class_words(element):
                tag_lists.append(element)
            continue
        if element.get("id") == "poll":
            kinds.add("poll")
        action = element.get("action") or ""
        kinds.update(kind for word, kind in _SPECIAL_ACTIONS if word in action)
    # searched for only where the page has an id that begins so (most have none)
    if (ids or PageIds(root)).begins(_SPECIAL_ID_PREFIXES):
        for element in _SPECIAL_IDS(root):
            kinds.add("reward" if element.get("id").startswith("reward") else "trade")
    return next((name for name, _ in _SPECIAL_TESTS if name in kinds), None), tag_lists


def _tags(root: etree._Element, tag_lists: list[etree._Element] | None = None) -> list[str]:
    """The thread's tags: _TAGS's links, read under the one tag list where ``tag_lists`` (the
    div.ptg under ``root``) holds one, none where it holds none."""
    if tag_lists is None or len(tag_lists) > 1:  # lists in lists: XPath gives each link once
        links = _TAGS(root)
    else:
        links = _TAG_LINKS(tag_lists[0]) if tag_lists else []
    tags: list[str] = []
    for link in links:
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
