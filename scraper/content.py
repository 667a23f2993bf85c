"""A post's message element to clean HTML and readable text.

Works on a copy of the message element: noise goes first (element level), then the parts
of Discuz's UI that live inside messages (copy-code buttons, image menus, scripts), then the
HTML is sanitised with an allow-list (nh3) so it is safe to render, and links are made
absolute so the archive still points at the forum.
"""

from __future__ import annotations

import copy
import functools
import re
from dataclasses import dataclass, field
from html import escape

import nh3
from lxml import etree, html

from scraper.html_page import NOT_XML
from scraper.urls import absolute_url
from scraper.xpath import has_class, squash, words_of
from scraper.noise import NOISE_WORDS, drop_tree, remove_noise_elements

# Discuz UI inside a message that is not what the author wrote, each part with the words its
# markup cannot be without (looked for in the message's markup first: see _clean_elements).
# Scripts, styles and noscripts are found by lxml's tag matching in C (_CODE_TAGS), not by an
# XPath walk.
_CODE_WORDS = (b"<script", b"<style", b"<noscript")
_CODE_TAGS = ("script", "style", "noscript")
_UI_PARTS = (
    ((b"copycode",), "descendant::em[starts-with(@onclick, 'copycode')]"),  # 复制代码 under code blocks
    # the guest prompt; [@class] first: an element without one is let go on a test of its
    # attributes, where contains() would build a string from it (aimg_tip holds tip)
    ((b"tip", b"attach_nopermission"),
     "descendant::*[@class][contains(@class, 'tip') or contains(@class, 'attach_nopermission')]"
     f"[{has_class('aimg_tip')} or {has_class('tip')} or {has_class('attach_nopermission')}]"),
    # the guest's login link under a thumbnail (登录/注册后可看大图); the image stays
    ((b"guestviewthumb",),
     f"descendant::*[contains(@class, 'guestviewthumb')][{has_class('guestviewthumb')}]"
     "//a[contains(@href, 'mod=logging')]"),
)


@functools.lru_cache(maxsize=None)
def _ui_xpath(parts: tuple[int, ...]) -> etree.XPath:
    """One union of the parts a message shows: the same elements, in document order, as the
    union of all of them."""
    return etree.XPath(" | ".join(_UI_PARTS[part][1] for part in parts))


_EDIT_NOTE_XPATH = etree.XPath(f"descendant::i[{has_class('pstatus')}]")
# The notice Discuz puts where content is hidden from guests (or replaces a banned author's post).
LOCKED_NOTICE = etree.XPath(f"descendant::div[{has_class('locked')}]")
_LAZY_SRC_ATTRS = ("zoomfile", "file", "data-original", "data-src", "src")
_PLACEHOLDER_IMAGE = re.compile(r"(?:none|loading)\.gif$|/static/image/common/", re.I)
_SMILEY = re.compile(r"/smiley/|/smilies/", re.I)
_PID_IN_LINK = re.compile(r"[?&]pid=(\d+)")
# Elements that break lines (a blockquote too, as its own "> " lines).
_BREAKING_TAGS = (
    "p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6",
    "ul", "ol", "table", "dl", "dd", "dt", "pre", "hr",
)
_BLOCK_TAGS = tuple(tag for tag in _BREAKING_TAGS if tag != "br")  # a break before and after
_BREAK = "\ufdd0"  # marks a line break in the tree (a noncharacter: no page carries it)
_BLANK_LINES = re.compile(r"\n{3,}")

_ALLOWED_TAGS = nh3.ALLOWED_TAGS | {"font", "span", "div", "table", "tbody", "tr", "td", "th"}
_ALLOWED_ATTRIBUTES = {
    "*": {"class", "title", "align"},
    "a": {"href"},
    "img": {"src", "alt", "width", "height"},
    "font": {"color", "size", "face"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
}

# Attributes Discuz puts in messages that the sanitiser drops from every tag (none of them is
# in _ALLOWED_ATTRIBUTES): stripped first, in C, from a long message, they are neither
# serialised for the sanitiser nor parsed by it. (In a short one the strip costs more than
# it saves.)
_LONG = 8192  # bytes of markup
_DROPPED_ATTRIBUTES = ("style", "id", "onclick", "onmouseover", "onload", "zoomfile", "file", "aid", "inpost", "target")
# The searches (by their first word) that a long message runs without looking for their words.
_SEARCHED_WHEN_LONG = {b"<script", b"copycode", b"pstatus", b"<blockquote", b"locked"}

# Built once: nh3.clean() builds its allow-lists anew on every call, which outweighs the cleaning.
_CLEANER = nh3.Cleaner(
    tags=_ALLOWED_TAGS,
    attributes=_ALLOWED_ATTRIBUTES,
    url_schemes={"http", "https", "mailto", "ftp"},
    link_rel="noopener noreferrer nofollow",
    strip_comments=True,
)


@dataclass
class Message:
    html: str
    text: str
    images: list[str] = field(default_factory=list)
    edit_note: str | None = None  # "本帖最后由 X 于 2024-1-2 12:00 编辑"
    quote_pid: int | None = None
    quote_header: str | None = None  # "author 发表于 time", the quoted post's heading
    hidden: bool = False


def real_image_src(img: etree._Element, base_url: str) -> str | None:
    """The image's real address: lazy-loading Discuz keeps it in zoomfile/file, not src."""
    for attr in _LAZY_SRC_ATTRS:
        value = (img.get(attr) or "").strip()
        if value and not _PLACEHOLDER_IMAGE.search(value) and (url := absolute_url(base_url, value)):
            return url
    return None


def is_content_image(img: etree._Element) -> bool:
    """Smilies are decoration, not the post's images."""
    src = " ".join(img.get(a) or "" for a in _LAZY_SRC_ATTRS)
    return img.get("smilieid") is None and not _SMILEY.search(src)


def extract_message(element: etree._Element, base_url: str, *, in_place: bool = False) -> Message:
    """Clean one message element: a copy of it (the caller's tree is left as it was), or with
    ``in_place`` the element itself, for a caller that reads nothing under it, nor its tail,
    after (the copy of a long message costs as much as its cleaning's searches)."""
    if not len(element):
        # Most messages are text alone: nothing in them to drop, look for or make absolute,
        # nor to copy; their text is read without marking breaks in the tree.
        return Message(html=_text_html(element.text or ""), text=_text_alone(element))
    root = element if in_place else copy.deepcopy(element)
    root.tail = None
    message = _clean_elements(root, base_url)
    message.html = sanitize_html(_inner_html(root)).strip()
    message.text = html_to_text(root)
    return message


def _inner_html(root: etree._Element) -> str:
    """The markup inside ``root``: its text, escaped as the sanitiser has always had it (lxml
    gives it unescaped: "&lt;b&gt;" typed by the author would reach the sanitiser as a tag),
    and its children serialised in one call, cut out of the element's own tags."""
    text = root.text
    # A text holding a character XML refuses (libxml2 makes one of "&#1;", which a member
    # may type) could not be put back: such a message's children are serialised one by one.
    whole = ""
    if not (text and NOT_XML.search(text)):
        root.text = None
        whole = etree.tostring(root, encoding="unicode", method="html", with_tail=False)
        root.text = text
    start = whole.find(">") + 1  # the serialiser escapes ">" in attribute values
    end = f"</{root.tag}>"
    if start and whole.endswith(end) and whole.startswith(f"<{root.tag}"):
        children = whole[start : len(whole) - len(end)]
    else:  # not an element of one start and one end tag
        children = "".join(etree.tostring(child, encoding="unicode", method="html") for child in root)
    return escape(text or "", quote=False) + children


def _text_html(text: str) -> str:
    """A message of text alone as sanitize_html gives it. What the sanitiser changes in escaped
    text: a carriage return becomes a line feed, a NUL goes, a no-break space becomes &nbsp;,
    a byte-order mark that begins it goes; escaped text without them comes out of it as it went
    in (tests/test_content.py holds nh3 to that for every character, alone and first)."""
    escaped = escape(text, quote=False)
    if "\r" in escaped or "\x00" in escaped or "\xa0" in escaped or escaped.startswith("\ufeff"):
        escaped = sanitize_html(escaped)
    return escaped.strip()


def _clean_elements(root: etree._Element, base_url: str) -> Message:
    """Drop the noise and Discuz's UI inside the message, take its edit note, quote, images and
    hidden flag, and make its links absolute; its html and text are the caller's to fill."""
    markup = etree.tostring(root, encoding="utf-8")
    if _runs(markup, NOISE_WORDS):
        remove_noise_elements(root)
    # Dropping a set of elements (their tails kept) gives the same tree in any order.
    if _runs(markup, _CODE_WORDS):
        for code in list(root.iterdescendants(*_CODE_TAGS)):
            drop_tree(code)
    if parts := tuple(n for n, (words, _) in enumerate(_UI_PARTS) if _runs(markup, words)):
        for ui in _ui_xpath(parts)(root):
            drop_tree(ui)

    edit_note = None
    for note in _EDIT_NOTE_XPATH(root) if _runs(markup, (b"pstatus",)) else ():
        edit_note = edit_note or squash(words_of(note))
        _drop_with_following_breaks(note)

    quote_pid = quote_header = None
    # The first quote in the message (one in a div.quote is one too), by lxml's walk in C.
    quote = next(root.iterdescendants("blockquote"), None) if _runs(markup, (b"<blockquote",)) else None
    if quote is not None:
        for link in quote.iter("a"):
            if match := _PID_IN_LINK.search(link.get("href") or ""):
                quote_pid = int(match[1])
                quote_header = squash(words_of(link)) or None
                break
        if quote_header is None:
            first_line = (quote.text or "").strip() or _first_text(quote)
            quote_header = first_line or None

    images = []
    for img in root.iter("img"):
        src = real_image_src(img, base_url)
        if src:
            img.set("src", src)
            if is_content_image(img) and src not in images:
                images.append(src)
    for link in root.iter("a"):
        href = link.get("href")
        if href and not href.strip().lower().startswith("javascript:"):
            if url := absolute_url(base_url, href):
                link.set("href", url)
            else:  # no URL at all: the link's words stay
                del link.attrib["href"]

    hidden = _runs(markup, (b"locked",)) and bool(LOCKED_NOTICE(root))
    if len(markup) > _LONG:
        etree.strip_attributes(root, *_DROPPED_ATTRIBUTES)
    return Message(
        html="",
        text="",
        images=images,
        edit_note=edit_note,
        quote_pid=quote_pid,
        quote_header=quote_header,
        hidden=hidden,
    )


def _runs(markup: bytes, words: tuple[bytes, ...]) -> bool:
    """Whether the search these words stand for runs on a message of this markup. Each search
    walks every element of the message: it runs only where the markup, serialised in C, holds
    a word the search's finds cannot be without. But a scan for a word the markup lacks reads
    all of it: in a long message, dearer than some searches themselves, which run there
    without asking (_SEARCHED_WHEN_LONG)."""
    if words[0] in _SEARCHED_WHEN_LONG and len(markup) > _LONG:
        return True
    return any(word in markup for word in words)


def sanitize_html(fragment: str) -> str:
    """Allow-list sanitising: no script, style, iframe, event handler or javascript: URL."""
    return _CLEANER.clean(fragment)


def html_to_text(root: etree._Element) -> str:
    """Readable text: line breaks and paragraphs kept, quotes marked "> ", code lines kept.

    Source newlines are markup whitespace (Discuz writes one after every <br />); line breaks
    come from elements, except inside <pre>. Consumes ``root``: the breaks are marked in the
    tree and lxml serialises the text in C, where a walk in Python would visit every element
    in the interpreter."""
    if not len(root):
        return _text_alone(root)
    for pre in root.iter("pre"):
        for node in pre.iter():
            if node.text:
                node.text = node.text.replace("\n", _BREAK)
            if node is not pre and node.tail:
                node.tail = node.tail.replace("\n", _BREAK)
    # A <br> holds nothing, so its break can be its text rather than the start of its tail:
    # the same text, from one assignment where the tail's is a read, a join and a new node
    # (a long message has a thousand of them). The message's own <br> shows no break.
    for br in root.iterdescendants("br"):
        if br.text is None:
            br.text = _BREAK
        else:
            br.tail = _BREAK + (br.tail or "")
    for element in root.iter(*_BLOCK_TAGS):
        element.text = _BREAK + (element.text or "")
        if element.tag != "li":  # a code block's <li> is one line: a break before it only
            element.tail = _BREAK + (element.tail or "")
    for quote in reversed(list(root.iter("blockquote"))):  # the innermost first
        marked = _inner_text(quote)
        for child in list(quote):
            quote.remove(child)  # its tail goes with it: read already
        quote.text = _quoted(marked)
    return _tidy(_lines(_inner_text(root)))


def _text_alone(element: etree._Element) -> str:
    """html_to_text of an element with no child, from its own text: of the marks html_to_text
    puts in the tree, only the ones its tag asks for apply, so no matcher of tags is built,
    nothing is marked in the tree and nothing serialised."""
    text = element.text or ""
    if element.tag == "pre":
        text = text.replace("\n", _BREAK)
    if element.tag in _BLOCK_TAGS:
        text = _BREAK + text
    elif element.tag == "blockquote":
        text = _quoted(text)
    return _tidy(_lines(text))


def _quoted(marked: str) -> str:
    """A quote's marked text as its own "> " lines."""
    lines = [line.strip() for line in _lines(marked).split("\n") if line.strip()]
    return _BREAK + _BREAK.join("> " + line for line in lines) + _BREAK


def _tidy(text: str) -> str:
    """Lines without their trailing space, runs of blank lines shortened to one."""
    text = "\n".join(map(str.rstrip, text.split("\n")))
    if "\n\n\n" in text:  # most texts have no run of blank lines to shorten
        text = _BLANK_LINES.sub("\n\n", text)
    return text.strip("\n").strip()


def _inner_text(element: etree._Element) -> str:
    return etree.tostring(element, method="text", encoding="unicode", with_tail=False)


def _lines(marked: str) -> str:
    """Marked text to lines: source newlines dropped, the marked breaks made newlines."""
    return marked.replace("\r", "").replace("\n", "").replace(_BREAK, "\n").replace("\xa0", " ")


def _drop_with_following_breaks(element: etree._Element) -> None:
    """Remove an element and the <br>s Discuz put right after it."""
    following = element.getnext() if not (element.tail or "").strip() else None
    drop_tree(element)
    while following is not None and following.tag == "br":
        after = following.getnext() if not (following.tail or "").strip() else None
        drop_tree(following)
        following = after


def _first_text(element: etree._Element) -> str:
    for text in element.itertext():
        if text.strip():
            return squash(text)
    return ""


def fragment_root(markup: str) -> etree._Element:
    """Parse an HTML fragment into one wrapping element (for tests and the API source)."""
    return html.fragment_fromstring(markup, create_parent="div")
