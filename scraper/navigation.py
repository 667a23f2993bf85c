"""Where a page sits in its forum: the breadcrumb that names the forum, the pager markup of
every generation, and what a link to a forum calls it. Shared by the page parsers.
"""

from __future__ import annotations

import re

from lxml import etree
from parsel import Selector

from scraper.urls import FID_IN_HREF
from scraper.xpath import compiled, has_class, squash, words_of

BREADCRUMB = (
    "//div[@id='pt']//a",
    "//div[@id='nav']//a",
    f"//div[{has_class('header')}]/h2//a",
    f"//*[{has_class('tophead')}]//a",
)
PAGER = (
    f"//div[@id='pgt']//div[{has_class('pg')}]",
    f"//div[{has_class('pgs')}]//div[{has_class('pg')}]",
    f"//div[{has_class('pages')}]",
    f"//div[{has_class('pg')}][not(ancestor::*[starts-with(@id, 'comment_')])]",
)


def breadcrumb_forum(sel: Selector, text: str, xpaths: tuple[str, ...] = BREADCRUMB) -> tuple[int | None, str | None]:
    """The forum a page belongs to: the breadcrumb's last forum link, else ``var fid``."""
    for xpath in xpaths:
        links = compiled(xpath)(sel.root)
        for link in reversed(links):
            href = link.get("href", "")
            if "tid" in href or "thread" in href and "fid" not in href:
                continue
            if match := FID_IN_HREF.search(href):
                return int(match[1]), squash(words_of(link)) or None
    if match := re.search(r"\bfid\s*=\s*parseInt\('(\d+)'\)", text):
        return int(match[1]), None
    return None, None


def forum_link_name(link: etree._Element) -> str:
    """A forum link's name: its words (touch: the p.mtit's own text, without the counts), else
    the icon's title or alt."""
    titled = compiled(f".//*[{has_class('mtit')}]/text()")(link)
    name = squash("".join(titled)) if titled else squash(words_of(link))
    return name or squash(link.get("title") or "") or squash(next(iter(compiled(".//@alt")(link)), ""))
