"""A thread page's attachments, to Attachment rows: each post's, the places one shows merged.
No Scrapy, no I/O (scraper.thread_extras reads them with the rest of a page's extras; the
thread parser takes a post's attachment links and listed images from post_attachments).

Discuz wraps each in ``<ignore_js_op>``: a file as ``span#attach_AID`` (link,
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
from collections.abc import Callable
from datetime import tzinfo
from urllib.parse import unquote

from lxml import etree

from scraper.content import real_image_src
from scraper.dates import page_time
from scraper.extras_models import Attachment
from scraper.urls import absolute_url, query_values
from scraper.xpath import class_words, compiled, squash, words_of

# The blocks an attachment shows in (attach_blocks): an <ignore_js_op>, and outside one a
# dl.tattl or a span#attach_AID, and outside those an image whose only reference is its
# address (forum.php?mod=attachment&aid=CODE as src, X2.5 and themes that drop the aid
# attributes).
_BLOCK_TAGS = ("ignore_js_op", "dl", "span", "img")
# The tags of the elements a block's reading looks at (_BlockParts).
_PART_TAGS = ("a", "em", "img", "span", "strong")
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*(Bytes|Byte|B|KB|K|MB|M|GB|G|TB)\b", re.I)
_UNITS = {"b": 0, "byte": 0, "bytes": 0, "k": 1, "kb": 1, "m": 2, "mb": 2, "g": 3, "gb": 3, "tb": 4}
_DOWNLOADS = re.compile(r"(?:下载次数|下載次數|downloads?)\s*[:：]\s*(\d+)", re.I)
_PRICE = re.compile(r"(?:售价|售價|price)\s*[:：]\s*(\d+)\s*([^\s,，)）]*)", re.I)
_UPLOADED = re.compile(r"(.+?)\s*(?:上传|上傳|upload)", re.I)
_UPLOAD_WORD = re.compile("上传|上傳|upload", re.I)
_ID_AID = re.compile(r"^(?:attach_|aid|aimg_)(\d+)$")
_IMAGE_NAME = re.compile(r"\.(?:jpe?g|png|gif|webp|bmp)$", re.I)
_ALL_TEXT = compiled(".//text()")


def query_of(url: str) -> str:
    """A link's query, cut out by hand: urlsplit raises on a broken host ("http://[…"), and one
    broken address must cost its own link only, not the page."""
    return url.partition("?")[2].partition("#")[0]


def decode_aid(url_or_code: str | None) -> int | None:
    """The aid in an attachment link: ``aid=N`` as it is, or Discuz's aidencode (urlencoded
    base64 of ``aid|hash|time|uid|tid``). None for anything else."""
    if not url_or_code:
        return None
    values = query_values(query_of(url_or_code)).get("aid") if "aid=" in url_or_code else [url_or_code]
    if not values:
        return None
    code = values[-1].strip()
    if code.isdecimal():
        return int(code)
    code = unquote(code)
    try:
        decoded = base64.b64decode(code + "=" * (-len(code) % 4), validate=False).decode("ascii", "replace")
    except (binascii.Error, ValueError):
        return None
    fields = decoded.split("|")
    return int(fields[0]) if len(fields) >= 2 and fields[0].isdecimal() else None


def size_in_bytes(shown: str | None) -> int | None:
    """"23.87 KB" -> 24443 (Discuz's units are powers of 1024): as exact as the page shows."""
    match = _SIZE.search(shown or "")
    return _bytes_of(match) if match else None


def _bytes_of(match: re.Match) -> int:
    return round(float(match[1]) * 1024 ** _UNITS[match[2].lower()])


def attachments_in(post: etree._Element, site: str, tid: int, pid: int, base_url: str,
                   tz: tzinfo) -> list[Attachment]:
    """One Attachment per aid the post shows, the places it appears merged (an image shown
    in the message and listed after it is one attachment)."""
    found: dict[int, Attachment] = {}
    for block in attach_blocks(post):
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


def attach_blocks(post: etree._Element) -> list[etree._Element]:
    """The attachment blocks under ``post``, in document order, from lxml's walk of its
    elements of the four tags (the tag test in C): what this XPath finds, whose tests built a
    string of every span's id and img's src and walked each one's ancestors:

    descendant::ignore_js_op
    | descendant::dl[has_class('tattl')][not(ancestor::ignore_js_op)]
    | descendant::span[starts-with(@id, 'attach_')][not(ancestor::ignore_js_op)]
    | descendant::img[ADDRESS][not(ancestor::ignore_js_op or ancestor::dl[has_class('tattl')]
      or ancestor::span[starts-with(@id, 'attach_')])]

    where ADDRESS is [contains(@src, 'mod=attachment') or contains(@src, 'attachment.php?aid=')]
    [contains(@src, 'aid=')]. The ancestors are the whole page's, as XPath's are."""
    found = []
    held: dict[etree._Element, bool] = {}
    for element in post.iterdescendants(*_BLOCK_TAGS):
        tag = element.tag
        if tag == "ignore_js_op":
            found.append(element)
        elif tag == "img":
            if _names_attachment(element.get("src") or "") and not _held(element.getparent(), None, _holds_images, held):
                found.append(element)
        elif _is_block(element) and next(element.iterancestors("ignore_js_op"), None) is None:
            found.append(element)
    return found


def _holds_images(element: etree._Element) -> bool:
    """An element whose attachment images are its block's: an <ignore_js_op>, a dl.tattl or a
    span#attach_AID."""
    return element.tag == "ignore_js_op" or element.tag in ("dl", "span") and _is_block(element)


def _is_block(element: etree._Element) -> bool:
    """A dl.tattl or a span#attach_AID."""
    if element.tag == "span":
        return (element.get("id") or "").startswith("attach_")
    return bool((classes := element.get("class")) and "tattl" in classes and "tattl" in class_words(element))


def _names_attachment(address: str) -> bool:
    return ("mod=attachment" in address or "attachment.php?aid=" in address) and "aid=" in address


def _attachment(block: etree._Element, site: str, tid: int, pid: int, base_url: str,
                tz: tzinfo) -> Attachment | None:
    parts = _BlockParts(block)
    links, pay_links, images = parts.links, parts.pay_links, parts.images
    aid = _aid_of(block, parts)
    if aid is None:
        return None
    ems = [words_of(em) for em in parts.ems]
    info = " ".join(squash(em) for em in ems if _SIZE.search(em) or _DOWNLOADS.search(em))
    texts = _ALL_TEXT(block)
    joined = " ".join(texts)
    words = squash(joined)
    image_url = real_image_src(images[0], base_url) if images else None
    filename = _filename(parts.name_places, images)
    size_match = _SIZE.search(info)
    # A price's word holds 售 or a c (re.I's c is ASCII's two), and info's letters are words':
    # most blocks have neither.
    price = (_PRICE.search(info) or _PRICE.search(words)) if "售" in words or "c" in words or "C" in words else None
    downloads = _DOWNLOADS.search(info) or _DOWNLOADS.search(words)
    uploaded = _uploaded(texts, joined)
    # Without a download link, an image shown by its attachment address is its own link.
    source = links[0].get("href") if links else next(
        (src for img in images if decode_aid(src := img.get("src")) is not None), None)
    url = absolute_url(base_url, source) if source else None
    attachment = Attachment(
        site=site, aid=aid, pid=pid, tid=tid, filename=filename,
        size=_bytes_of(size_match) if size_match else None, size_shown=size_match[0] if size_match else None,
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


def _uploaded(texts: list[str], joined: str) -> re.Match | None:
    """_UPLOADED's match in the texts that hold the upload word, each squashed, joined by a
    space (``joined``: ``texts`` joined by a space). The texts are tested with ``in``, not
    _UPLOAD_WORD, where ``joined`` holds the word in Chinese alone: re.I matches "upload" in
    ASCII's two cases only, and only ASCII letters lower to those letters, so the English word
    is in a text only where it is in the lowered ``joined``."""
    if "upload" in joined.lower():
        holding = [text for text in texts if _UPLOAD_WORD.search(text)]
    elif "上传" in joined or "上傳" in joined:
        holding = [text for text in texts if "上传" in text or "上傳" in text]
    else:
        return None
    return _UPLOADED.search(" ".join(squash(text) for text in holding))


class _BlockParts:
    """The elements of one attachment block that its reading needs, in document order, from
    one walk of its elements of the five tags they have (a block is a dozen elements; an
    XPath call a part cost more than the walk). What each list holds, as XPath (the walk must
    keep to it):

    - links: .//a[contains(@href, 'mod=attachment') or contains(@href, 'attachment.php?aid=')][contains(@href, 'aid=')]
    - pay_links: .//a[contains(@href, 'action=attachpay')]
    - ems: .//em
    - images: descendant-or-self::img[@aid or starts-with(@id, 'aimg_') or ATTACHMENT_SRC]
    - name_places: .//a[starts-with(@id, 'aid')] | .//span[starts-with(@id, 'attach_')]//a | .//p/strong
    """

    def __init__(self, block: etree._Element) -> None:
        self.links: list[etree._Element] = []
        self.pay_links: list[etree._Element] = []
        self.ems: list[etree._Element] = []
        self.images: list[etree._Element] = [block] if block.tag == "img" and _attachment_image(block) else []
        self.name_places: list[etree._Element] = []
        in_attach_span: dict[etree._Element, bool] = {}
        # The walk is in document order: a link's ancestors come before it, so a link is held
        # by a span#attach_ only once the walk has passed one (most blocks have none).
        spans = False
        for element in block.iterdescendants(*_PART_TAGS):
            tag = element.tag
            if tag == "a":
                href = element.get("href") or ""
                if _names_attachment(href):
                    self.links.append(element)
                if "action=attachpay" in href:
                    self.pay_links.append(element)
                if (element.get("id") or "").startswith("aid") or (
                        spans and _held(element.getparent(), block, _is_attach_span, in_attach_span)):
                    self.name_places.append(element)
            elif tag == "em":
                self.ems.append(element)
            elif tag == "img":
                if _attachment_image(element):
                    self.images.append(element)
            elif tag == "span":
                spans = spans or (element.get("id") or "").startswith("attach_")
            else:  # strong
                parent = element.getparent()
                if parent.tag == "p" and parent is not block:
                    self.name_places.append(element)


def _attachment_image(img: etree._Element) -> bool:
    src = img.get("src") or ""
    return (img.get("aid") is not None or (img.get("id") or "").startswith("aimg_")
            or _names_attachment(src))


def _is_attach_span(element: etree._Element) -> bool:
    return element.tag == "span" and (element.get("id") or "").startswith("attach_")


def _held(element: etree._Element | None, stop: etree._Element | None,
          holds: Callable[[etree._Element], bool], known: dict[etree._Element, bool]) -> bool:
    """Whether ``element`` or an element above it, below ``stop`` (None: up to the page's
    root), passes ``holds``. ``known`` keeps the answer of each element walked, for the next
    call: a block's links, or a post's images, each walked up to what holds them, would walk
    the same elements again, as often as a hostile page nests them deep and many."""
    walked = []
    while element is not None and element is not stop:
        if element in known:
            answer = known[element]
            break
        walked.append(element)
        if holds(element):
            answer = True
            break
        element = element.getparent()
    else:
        answer = False
    known.update(dict.fromkeys(walked, answer))
    return answer


def _aid_of(block: etree._Element, parts: _BlockParts) -> int | None:
    if (aid := aid_in_ids(block)) is not None:
        return aid
    for link in parts.links + parts.pay_links:
        if (aid := decode_aid(link.get("href"))) is not None:
            return aid
    for img in parts.images:
        if (aid := decode_aid(img.get("src"))) is not None:
            return aid
    return None


def aid_in_ids(block: etree._Element) -> int | None:
    """The aid of the first of ``block`` and the elements in it (descendant-or-self::*[@id or
    @aid]) with a numeric aid, or an id naming one: the block's first image or span, most
    often, so the walk stops a few elements in."""
    for element in block.iter(etree.Element):
        if (aid := element.get("aid")) and aid.isdecimal():
            return int(aid)
        if (id_ := element.get("id")) and (match := _ID_AID.match(id_)):
            return int(match[1])
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


def attachment_parts(root: etree._Element) -> list[etree._Element]:
    """The attachment links, and the attachment lists (div.pattl) Discuz puts after the
    message, in document order: descendant::a[contains(@href, 'mod=attachment') or
    contains(@href, 'attachment.php?aid=')] | descendant::div[has_class('pattl')]. Read from
    lxml's walk of the post's links and divs (its tag test in C), where the XPath built a
    string of each one's href or class to test it."""
    found = []
    for element in root.iterdescendants("a", "div"):
        if element.tag == "a":
            href = element.get("href")
            if href is not None and ("mod=attachment" in href or "attachment.php?aid=" in href):
                found.append(element)
        elif (classes := element.get("class")) and "pattl" in classes and "pattl" in class_words(element):
            found.append(element)
    return found


def post_attachments(root: etree._Element, base_url: str) -> tuple[list[str], list[str]]:
    """The images of the post's attachment lists, and its attachment links (the thread parser's
    Post.images and Post.attachments)."""
    images: list[str] = []
    links: list[str] = []
    for element in attachment_parts(root):
        if element.tag == "a":
            url = absolute_url(base_url, element.get("href"))
            if url and url not in links:
                links.append(url)
            continue
        for img in element.iter("img"):
            src = real_image_src(img, base_url)
            if src and src not in images:
                images.append(src)
    return images, links
