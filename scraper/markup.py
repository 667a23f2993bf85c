"""What every Discuz page shares, whatever it lists: reading it, its breadcrumb, its pager
markup, and telling what a page is when it is not what was asked for (an error message,
a login wall, the anti-scraping script). Used by the thread and the listing parsers.
"""

from __future__ import annotations

import re
from datetime import tzinfo
from urllib.parse import urljoin

from parsel import Selector

from scraper.dates import DEFAULT_UTC_OFFSET, parse_offset


class PageProblem(Exception):
    """The page is not the page we can read; ``kind`` says what it is instead."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


UID_IN_HREF = re.compile(r"(?:[?&]uid=|space-uid-|profile-uid-|space\.php\?uid=)(\d+)")
FID_IN_HREF = re.compile(r"(?:[?&]fid=|forum-|forumdisplay\.php\?fid=|fid-)(\d+)")
_GMT_OFFSET = re.compile(r"GMT\s*([+-]\d{1,2})(?::?(\d{2}))?")
_INT = re.compile(r"\d+")


def has_class(name: str) -> str:
    """XPath predicate: the element has CSS class ``name`` (among others)."""
    return f"contains(concat(' ', normalize-space(@class), ' '), ' {name} ')"


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
# Pages that are not what was asked for: Discuz's message box, the login form, the
# anti-scraping script (防采集), and its "no such thread/forum" messages.
_ANTITHEFT = re.compile(r"_dsign=|location\.replace\(|window\.location\s*=", re.I)
_MISSING_HINTS = re.compile(r"不存在|已被删除|已被刪除|does not exist|not exist|was deleted", re.I)
_LOGIN_HINTS = re.compile(r"您需要先登录|需要登录|請先登錄|登录后|您无权|沒有權限|没有权限|无权访问", re.I)
_MESSAGE_BOX = "//*[@id='messagetext']//p[1]//text() | //div[contains(@class, 'alert_')]//text()[not(ancestor::script)]"


def read_page(text: str, url: str, utc_offset: str | tzinfo | None) -> tuple[Selector, str, tzinfo]:
    """The page's selector, the base its links resolve against, and the forum's UTC offset
    (given, else the footer's "GMT+8", else Discuz's default +08:00)."""
    if not text.strip():
        raise PageProblem("empty", "the page is empty")
    sel = Selector(text=text)
    base_url = urljoin(url, sel.xpath("//base/@href").get() or "")
    tz = parse_offset(utc_offset) if utc_offset else footer_offset(text) or parse_offset(DEFAULT_UTC_OFFSET)
    return sel, base_url, tz


def footer_offset(text: str) -> tzinfo | None:
    """Discuz prints the forum's offset in the footer: "GMT+8, 2024-1-2 12:00"."""
    match = _GMT_OFFSET.search(text[-6000:])
    if not match:
        return None
    hours = int(match[1])
    return parse_offset(f"{'-' if hours < 0 else '+'}{abs(hours):02d}:{match[2] or '00'}")


def problem_of(
    sel: Selector,
    text: str,
    kind: str = "no_posts",
    message: str = "no posts found on the page (an unknown template?)",
) -> PageProblem:
    """Say what a page without what we looked for is, so the crawl records it rather than
    guessing; ``kind`` and ``message`` when it is no page Discuz makes for such cases."""
    message = squash(" ".join(sel.xpath(_MESSAGE_BOX).getall()))
    if sel.xpath("//form[contains(@id, 'login') or contains(@name, 'login')]") and (
        not message or _LOGIN_HINTS.search(message)
    ):
        return PageProblem("login", message or "the forum asks for a login")
    if message:
        if _LOGIN_HINTS.search(message):
            return PageProblem("login", message)
        if _MISSING_HINTS.search(message):
            return PageProblem("missing", message)
        return PageProblem("error", message)
    scripts = " ".join(sel.xpath("//script/text()").getall())
    if _ANTITHEFT.search(scripts) and not sel.xpath("//body//div"):
        return PageProblem("antiscraping", "an anti-scraping script page (防采集) instead of the page")
    if not sel.xpath("//body"):
        return PageProblem("broken", "no HTML body: the page is truncated or not HTML")
    return PageProblem(kind, message)


def breadcrumb_forum(sel: Selector, text: str) -> tuple[int | None, str | None]:
    """The forum a page belongs to: the breadcrumb's last forum link, else ``var fid``."""
    for xpath in BREADCRUMB:
        links = sel.xpath(xpath)
        for link in reversed(links):
            href = link.attrib.get("href", "")
            if "tid" in href or "thread" in href and "fid" not in href:
                continue
            if match := FID_IN_HREF.search(href):
                return int(match[1]), squash(link.xpath("string()").get()) or None
    if match := re.search(r"\bfid\s*=\s*parseInt\('(\d+)'\)", text):
        return int(match[1]), None
    return None, None


def first_text(sel: Selector, xpaths: tuple[str, ...]) -> str | None:
    for xpath in xpaths:
        value = squash(sel.xpath(xpath).xpath("string()").get() or "")
        if value:
            return value
    return None


def title_tag(sel: Selector) -> str | None:
    title = squash(sel.xpath("//title/text()").get() or "")
    return title.split(" - ")[0] or None


def first_int(value: str | None) -> int | None:
    match = _INT.search(value or "")
    return int(match[0]) if match else None


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\xa0", " ")).strip()
