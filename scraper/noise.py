"""Discuz's anti-copy noise (干扰码), removed at the element level and from plain text.

Discuz X2/X3 put a random string at every line break of a post, wrapped either in
``<font class="jammer">`` or in ``<span style="display:none">``; Discuz 7 wraps it in
``<font style="font-size:0px">`` and may put real site keywords inside, so elements are
judged by their markup, never by their text. Removing whole elements (keeping the text
that follows them) is what keeps this non-greedy: text between two noise elements stays.

Text that was copied from a browser already carries the noise inline; ``clean_text``
removes the runs the generator makes (5-15 groups of ``[\\x20-\\x3b] [\\x3f-\\x7e]``) where
they touch a line boundary, which is where Discuz puts them.
"""

from __future__ import annotations

import re

from lxml import etree

from scraper.xpath import class_words, has_class

# Invisible in every browser: the generator's two X2/X3 wrappers and the Discuz 7 one. The
# styles are tested by Python's re, on the elements with a style: the same test as XPath's
# re:test (EXSLT, which lxml runs with Python's re), without a call from C for each element.
_NOISE_CANDIDATES = etree.XPath(f"descendant::font[{has_class('jammer')}] | descendant::*[@style]")
# Where no font is a jammer (most messages), the elements with a style are reached through the
# attribute, each its own parent: a step to an attribute builds no context for each element
# walked, as the predicate of `*[@style]` does; XPath's own step back up (`@style/..`) would
# check each find against every one before it.
_STYLES = etree.XPath("descendant::*/@style")
_HIDING_STYLE = re.compile(r"display\s*:\s*none|font-size\s*:\s*0(?:\.0+)?(?:px|pt|em|%)?\s*(?:;|$)", re.I)
# What the noise's finds cannot be without, in their serialised markup (the commoner first: a
# scan stops at the first found).
NOISE_WORDS = (b"style=", b"jammer")


def noise_elements(root: etree._Element) -> list[etree._Element]:
    """The noise elements under ``root``, in document order."""
    if any("jammer" in (font.get("class") or "") for font in root.iterdescendants("font")):
        candidates = _NOISE_CANDIDATES(root)
    else:
        candidates = [style.getparent() for style in _STYLES(root)]
    return [
        element
        for element in candidates
        if (style := element.get("style")) is None
        or _HIDING_STYLE.search(style)
        or element.tag == "font" and "jammer" in class_words(element)
    ]


def remove_noise_elements(root: etree._Element) -> int:
    """Drop every noise element under ``root`` (tails kept); return how many went."""
    found = noise_elements(root)
    for element in found:
        drop_tree(element)
    return len(found)


def drop_tree(element: etree._Element) -> None:
    """Remove ``element`` and what it holds, keeping the text after it (lxml.html's
    drop_tree, for the plain lxml.etree elements the page parsers read)."""
    parent = element.getparent()
    if element.tail:
        previous = element.getprevious()
        if previous is None:
            parent.text = (parent.text or "") + element.tail
        else:
            previous.tail = (previous.tail or "") + element.tail
    parent.remove(element)


# One generator group: a char from space..';', a space, a char from '?'..'~'. Spaces may
# have become no-break spaces on the way (Discuz turns double spaces into &nbsp;).
_GROUP = r"[\x20-\x3b\xa0][\x20\xa0][\x3f-\x7e]"
_NOISE_AT_LINE_START = re.compile(rf"^[\x20\xa0]*(?:{_GROUP}){{5,15}}", re.M)
_NOISE_AT_LINE_END = re.compile(rf"(?:{_GROUP}){{5,15}}[\x20\xa0]*$", re.M)
_NOISE_LINE = re.compile(rf"^[\x20\xa0]*(?:{_GROUP}){{5,15}}[\x20\xa0]*\n", re.M)


def clean_text(text: str) -> str:
    """Remove jammer runs from plain text that already carries them.

    Whole noise lines go with their newline; runs glued to the start or end of a line
    of real text go alone, so the real text around them is untouched.
    """
    text = _NOISE_LINE.sub("", text)
    text = _NOISE_AT_LINE_START.sub("", text)
    return _NOISE_AT_LINE_END.sub("", text)


_NOISE_RUN = re.compile(rf"(?:{_GROUP}){{5,15}}")


def looks_like_noise(text: str) -> bool:
    """True when ``text`` holds a run the generator could have made (used by tests and checks)."""
    return bool(_NOISE_RUN.search(text))
