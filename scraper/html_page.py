"""An HTML page's text to the tree every page parser reads: its selector, the base its links
resolve against, and the forum's UTC offset. A page with nothing in it is refused here.
"""

from __future__ import annotations

import re
from datetime import tzinfo

from lxml import etree
from parsel import Selector

from scraper.dates import DEFAULT_UTC_OFFSET, footer_offset, parse_offset
from scraper.encoding import take_utf8
from scraper.kinds import PageKind
from scraper.problems import PageProblem, antiscraping_problem, is_complete, is_redirect_script, shows_anything
from scraper.urls import absolute_url

# Characters XML (and so lxml) refuses in text: Discuz 7's archiver jammer uses chr(0..59), so
# real pages carry them, invisible. They would make lxml fail when the parser edits the tree.
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_NOT_XML_BYTES = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)])
# A character reference to one of them ("&#1;", "&#x1f;", "&#65535;": Discuz's escaping lets a
# member type one): libxml2 makes the character of it, as HTML5 says. A page whose reading then
# fails on one is read again without them (scraper.reading), so no page pays the search.
_NOT_XML_REFERENCE = re.compile(
    rb"&#(?:0*(?:[1-8]|1[124-9]|2[0-9]|3[01]|6553[45])(?![0-9])|[xX]0*(?:[1-8bBcCeEfF]|1[0-9a-fA-F]|[fF]{3}[eEfF])(?![0-9a-fA-F]));?"
)
_BASE_HREF = etree.XPath("/html/head/base/@href | /html/body/base/@href")


def open_page(text: str, url: str, utc_offset: str | tzinfo | None) -> tuple[Selector, str, tzinfo]:
    """The page's selector, the base its links resolve against, and the forum's UTC offset
    (given, else the footer's "GMT+8", else Discuz's default +08:00). Raises PageProblem for
    a page with nothing in it: empty, cut short before its body, or only a redirect script."""
    sel = Selector(root=_html_tree(text))
    if sel.root is None:
        raise PageProblem(PageKind.EMPTY, "the page is empty (no bytes)")
    if not shows_anything(sel):
        if is_redirect_script(sel):
            raise antiscraping_problem()
        if is_complete(text):
            raise PageProblem(PageKind.EMPTY, "the page has nothing in it (an empty body)")
        raise PageProblem(PageKind.BROKEN, "the page is cut short before its body")
    base_url = absolute_url(url, next(iter(_BASE_HREF(sel.root)), None)) or url
    tz = parse_offset(utc_offset) if utc_offset else footer_offset(text) or parse_offset(DEFAULT_UTC_OFFSET)
    return sel, base_url, tz


def _html_tree(text: str) -> etree._Element | None:
    """The page's tree (None when the page is blank), without the characters XML refuses.
    They are dropped from the UTF-8 bytes lxml reads anyway, by bytes.translate in C, rather
    than by a regex over the whole text."""
    if "\ufffe" in text or "\uffff" in text:  # looked for in the text: one character, a fast scan
        data = NOT_XML.sub("", text).encode("utf-8", "replace")
    else:  # a page decoded from UTF-8 (scraper.encoding.take_utf8) is not encoded again
        data = take_utf8(text) or text.encode("utf-8", "replace")
        data = data.translate(None, _NOT_XML_BYTES)
    data = data.strip()
    if not data:
        return None
    # lxml.etree's own parser, not lxml.html's: lxml.html gives every element a Python class
    # chosen by a Python lookup, paid each time the parsers touch an element.
    parser = etree.HTMLParser(recover=True, encoding="utf-8", huge_tree=True)
    root = etree.fromstring(data, parser)
    return root if root is not None else etree.fromstring(b"<html/>", parser)  # only comments, say


def without_refused_references(body: bytes) -> bytes:
    """The page's bytes without references to characters XML refuses (the same bytes, the same
    object, when it has none). The page's charset keeps ASCII's "&#" and digits as they are
    (UTF-8, GBK, Big5: their second bytes are letters at most)."""
    return _NOT_XML_REFERENCE.sub(b"", body) if _NOT_XML_REFERENCE.search(body) else body
