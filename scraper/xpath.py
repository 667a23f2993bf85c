"""XPath helpers every parser shares: expressions compiled once, the CSS-class test, and the
words of what an expression finds.

A search with a test is written ``descendant::x[test]``, not ``.//x[test]`` (the same elements
when the test does not count positions): libxml2 reads ``.//`` as a child step from every node
below, text nodes too, and merges the finds of each, where ``descendant::`` is one walk.
"""

from __future__ import annotations

import functools
import re

from lxml import etree
from parsel import Selector

_INT = re.compile(r"\d+")


def has_class(name: str) -> str:
    """XPath predicate: the element has CSS class ``name`` (among others). The plain
    contains() goes first: libxml2 stops there for most elements, and the exact test with
    normalize-space() builds a new string for every element that has a class."""
    return f"(contains(@class, '{name}') and contains(concat(' ', normalize-space(@class), ' '), ' {name} '))"


_XML_SPACE = re.compile("[ \t\r\n]+")  # what XPath's normalize-space() takes for space


def class_words(element: etree._Element) -> list[str]:
    """The element's CSS classes as has_class() reads them, for a test in Python."""
    return _XML_SPACE.split(element.get("class") or "")


def shown_words(found: etree._Element | str) -> str:
    """words_of without what the page hides: a theme puts labels such as 作者： and 时间：
    in author and time cells inside an element hidden by a class (display_none) or a style,
    and they are no part of the name or the time."""
    if isinstance(found, str) or not len(found) or not _HIDDEN_INSIDE(found):
        return words_of(found)
    parts = [found.text or ""]
    for child in found:
        if isinstance(child.tag, str) and not _IS_HIDDEN(child):
            parts.append(shown_words(child))
        parts.append(child.tail or "")
    return "".join(parts)


@functools.lru_cache(maxsize=None)
def compiled(expression: str) -> etree.XPath:
    """An XPath compiled once per process (lxml compiles a string again on every call)."""
    return etree.XPath(expression, smart_strings=False)


_STRING = etree.XPath("string()")
_HIDDEN = (
    "(contains(@class, 'display_none') or contains(@class, 'hidden')"
    " or contains(translate(@style, ' ', ''), 'display:none'))"
)
_HIDDEN_INSIDE = etree.XPath(f"boolean(descendant::*[{_HIDDEN}])")
_IS_HIDDEN = etree.XPath(
    f"boolean(self::*[{has_class('display_none')} or {has_class('hidden')}"
    " or contains(translate(@style, ' ', ''), 'display:none')])"
)
_HEAD_TITLE = etree.XPath("/html/head/title/text()", smart_strings=False)
_ANY_TITLE = etree.XPath("//title/text()", smart_strings=False)


def first_text(sel: Selector, xpaths: tuple[str, ...]) -> str | None:
    """The words of the first element the first matching XPath finds."""
    for xpath in xpaths:
        found = compiled(xpath)(sel.root)
        value = squash(words_of(found[0])) if found else ""
        if value:
            return value
    return None


def title_tag(sel: Selector) -> str | None:
    found = _HEAD_TITLE(sel.root) or _ANY_TITLE(sel.root)
    title = squash(found[0] if found else "")
    return title.split(" - ")[0] or None


def words_of(found: etree._Element | str) -> str:
    """The words of what an XPath found: an element's text, or the string itself (a user's
    profile may select text() or an attribute). An element without children (most of those
    read: a floor, a link, a size) is its own text, read without an XPath call."""
    if isinstance(found, str):
        return found
    return (found.text or "") if not len(found) else _STRING(found)


def first_int(value: str | None) -> int | None:
    match = _INT.search(value or "")
    return int(match[0]) if match else None


def squash(text: str) -> str:
    r"""Runs of white space (a no-break space among them) made one space, none at the ends: what
    re.sub(r"\s+", " ", text).strip() gives (str.split's white space is re's \s), at a quarter
    of its cost."""
    return " ".join(text.split())
