"""What every Discuz page shares, whatever it lists: reading it, its breadcrumb, its pager
markup, and telling what a page is when it is not what was asked for (an error message,
a login wall, the anti-scraping script). Used by the thread and the listing parsers.
"""

from __future__ import annotations

import functools
import re
from datetime import datetime, tzinfo
from urllib.parse import urljoin, urlsplit

import lxml.html
from lxml import etree
from parsel import Selector

from scraper.dates import DEFAULT_UTC_OFFSET, parse_discuz_time, parse_offset


class PageProblem(Exception):
    """The page is not the page we can read; ``kind`` says what it is instead: ``missing``
    (a deleted thread or forum), ``login`` (members only, no permission, a password),
    ``closed`` (the site or forum), ``antiscraping``, ``empty``, ``broken`` (cut short, or
    not HTML), ``error`` (Discuz's other messages, the web server's error pages), ``unknown``
    (no id to file it under), or the parser's own for a template it does not know
    (``no_posts``, ``no_listing``). ``message`` is what the page said, else what we saw."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


UID_IN_HREF = re.compile(r"(?:[?&]uid=|space-uid-|profile-uid-|space\.php\?uid=)(\d+)")
FID_IN_HREF = re.compile(r"(?:[?&]fid=|forum-|forumdisplay\.php\?fid=|fid-)(\d+)")
_GMT_OFFSET = re.compile(r"GMT\s*([+-]\d{1,2})(?::?(\d{2}))?")
_INT = re.compile(r"\d+")


def has_class(name: str) -> str:
    """XPath predicate: the element has CSS class ``name`` (among others). The plain
    contains() goes first: libxml2 stops there for most elements, and the exact test with
    normalize-space() cost about 1 µs per element with a class (a third of some searches)."""
    return f"(contains(@class, '{name}') and contains(concat(' ', normalize-space(@class), ' '), ' {name} '))"


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
# Pages that are not what was asked for, told apart by what Discuz prints on them.
#
# Its message page (showmessage): X2/X3 div#messagetext (the message is its first paragraph;
# a guest asked to log in also gets div#messagelogin), the touch template's div.jump_c, 7.x's
# div.showmessage. The words are Discuz's own (lang_message.php), Simplified, Traditional,
# English: thread_nonexistence 抱歉，指定的主题不存在或已被删除或正在被审核, forum_nonexistence
# 抱歉，指定的版块不存在, board_closed 抱歉，本站点暂时关闭, viewperm_login_nopermission
# 抱歉，您尚未登录，没有权限访问该版块, to_login 您需要先登录才能继续本操作, thread_nopermission
# 抱歉，本帖要求阅读权限高于 N 才能浏览, forum_passwd 本版块需要密码, 7.x not_loggedin
# 對不起，您還沒有登錄，無法進行此操作.
MESSAGE_BOXES = (
    "//*[@id='messagetext']/p[1]",
    "//*[@id='messagetext']",
    f"//div[{has_class('jump_c')}]/p[1]",
    f"//div[{has_class('showmessage')}]/p[1]",
    "//div[starts-with(@class, 'alert_')][not(ancestor::*[@id='main_succeed'])]",
)
# The login box a message page gets, a login form, a password-protected forum's form.
LOGIN_FORMS = (
    "//*[@id='messagelogin'] | //form[contains(@id, 'login') or contains(@name, 'login')]"
    " | //form[contains(@action, 'action=pwverify')]"
)
_MISSING_HINTS = re.compile(r"不存在|已被删除|已被刪除|does not exist|not exist|nonexist|(?:was|been) deleted", re.I)
_CLOSED_HINTS = re.compile(r"关闭|關閉|closed", re.I)
_LOGIN_HINTS = re.compile(
    r"登录|登錄|登入|权限|權限|无权|無權|密码|密碼|特定用户|特定用戶|log ?in|sign in|permission|password", re.I
)
# 防采集 (helper_antitheft.php): a page of one obfuscated script that sends the browser to the
# same URL plus &_dsign=…, the URL cut into pieces (so "_dsign" itself may not show) and the
# redirect spelt eight ways; all of them name `location`. Discuz's CC defence (attackevasive:
# 频繁刷新限制, 代理服务器访问限制, 页面重载开启) and a CDN's browser check also stand in the
# page's place.
_REDIRECT_SCRIPT = re.compile(r"_dsign|\blocation\b")
_BOT_CHECK = re.compile(
    r"刷新限制|速度过快|刷新间隔|代理服务器访问限制|页面重载开启|正在重新载入|"
    r"challenge-platform|cf-browser-verification|Checking your browser",
    re.I,
)
# The web server's own error pages ("503 Service Temporarily Unavailable", nginx, Apache) and
# Discuz's when its database is down ("Discuz! Database Error").
_SERVER_ERROR = re.compile(r"^\s*(?:HTTP\s*)?[45]\d\d\b|Database Error|System Error", re.I)
# A page that ran to its end; a cut connection or a full disk on the server stops before it.
_END_OF_PAGE = re.compile(r"</(?:html|body)\s*>", re.I)
# Characters XML (and so lxml) refuses in text: Discuz 7's archiver jammer uses chr(0..59), so
# real pages carry them, invisible. They would make lxml fail when the parser edits the tree.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_NOT_XML_BYTES = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)])
_NOT_SHOWN = {"script", "style", "noscript"}
_BASE_HREF = etree.XPath("/html/head/base/@href | /html/body/base/@href")
_VISIBLE_TEXT = "//body//text()[not(ancestor::script or ancestor::style or ancestor::noscript)]"


def read_page(text: str, url: str, utc_offset: str | tzinfo | None) -> tuple[Selector, str, tzinfo]:
    """The page's selector, the base its links resolve against, and the forum's UTC offset
    (given, else the footer's "GMT+8", else Discuz's default +08:00). Raises PageProblem for
    a page with nothing in it: empty, cut short before its body, or only a redirect script."""
    sel = Selector(root=_html_tree(text))
    if sel.root is None:
        raise PageProblem("empty", "the page is empty (no bytes)")
    if not _shows_anything(sel):
        if _is_redirect_script(sel):
            raise antiscraping_problem()
        if is_complete(text):
            raise PageProblem("empty", "the page has nothing in it (an empty body)")
        raise PageProblem("broken", "the page is cut short before its body")
    base_url = absolute_url(url, next(iter(_BASE_HREF(sel.root)), None)) or url
    tz = parse_offset(utc_offset) if utc_offset else footer_offset(text) or parse_offset(DEFAULT_UTC_OFFSET)
    return sel, base_url, tz


def _html_tree(text: str) -> etree._Element | None:
    """The page's tree (None when the page is blank), without the characters XML refuses.
    They are dropped from the UTF-8 bytes lxml reads anyway, at C speed: a regex over the
    text would cost a quarter of the parse."""
    data = text.encode("utf-8", "replace").translate(None, _NOT_XML_BYTES)
    if b"\xef\xbf\xbe" in data or b"\xef\xbf\xbf" in data:  # U+FFFE, U+FFFF
        data = _NOT_XML.sub("", text).encode("utf-8", "replace")
    data = data.strip()
    if not data:
        return None
    parser = lxml.html.HTMLParser(recover=True, encoding="utf-8", huge_tree=True)
    root = etree.fromstring(data, parser)
    return root if root is not None else etree.fromstring(b"<html/>", parser)  # only comments, say


def absolute_url(base_url: str, href: str | None) -> str | None:
    """``href`` resolved against ``base_url`` (empty: only checked), or None when it is no URL
    at all: urllib raises on some (``http://[``), and one broken link must cost that link only."""
    try:
        url = urljoin(base_url, (href or "").strip())
        urlsplit(url)  # urljoin returns an href unparsed when the base is empty
    except ValueError:
        return None
    return url


def footer_offset(text: str) -> tzinfo | None:
    """Discuz prints the forum's offset in the footer: "GMT+8, 2024-1-2 12:00"."""
    match = _GMT_OFFSET.search(text[-6000:])
    if not match or not -12 <= int(match[1]) <= 14:  # the offsets Discuz offers
        return None
    hours = int(match[1])
    minutes = int(match[2] or 0)
    if minutes >= 60:
        return None
    return parse_offset(f"{'-' if hours < 0 else '+'}{abs(hours):02d}:{minutes:02d}")


def page_time(text: str | None, tz: tzinfo, now: datetime | None = None) -> str | None:
    """parse_discuz_time for a time a page prints. A damaged or hostile page may print one no
    calendar has (2013-13-45, year 0, "99999999999 天前"): that is no time, not a crash."""
    try:
        return parse_discuz_time(text, tz=tz, now=now)
    except (ValueError, OverflowError):
        return None


def is_complete(text: str) -> bool:
    """The page reached its end (``</body>`` or ``</html>``): it was not cut short. Looked for
    near the end first: a search from the top reads the whole page."""
    return bool(_END_OF_PAGE.search(text, len(text) - 4096) or _END_OF_PAGE.search(text))


def cut_short(found: int, what: str) -> PageProblem:
    """A page that ends before its list closes. What it holds is not kept: its last item may
    be cut mid-text (and would later read as an edit), and keeping the rest would tell the
    crawl the page is done, so the items after the cut would never be fetched. As an error
    the page is read again by the next run."""
    return PageProblem(
        "broken", f"the page is cut short (it ends before </html>): {found} {what} on it, none kept"
    )


def antiscraping_problem() -> PageProblem:
    return PageProblem(
        "antiscraping", "an anti-scraping page (防采集, a redirect script or a bot check) instead of the page"
    )


def problem_of(
    sel: Selector,
    text: str,
    kind: str = "no_posts",
    message: str = "no posts found on the page (an unknown template?)",
) -> PageProblem:
    """Say what a page without what we looked for is, so the crawl records it rather than
    guessing; ``kind`` and ``message`` when it is no page Discuz makes for such cases."""
    said = discuz_message(sel)
    asks_login = bool(sel.xpath(LOGIN_FORMS))
    if said:
        if _MISSING_HINTS.search(said):
            return PageProblem("missing", said)
        if _CLOSED_HINTS.search(said):
            return PageProblem("closed", said)
        if asks_login or _LOGIN_HINTS.search(said):
            return PageProblem("login", said)
        return PageProblem("error", said)
    if asks_login:
        return PageProblem("login", "the forum asks for a login or a password")
    if _is_redirect_script(sel) or _BOT_CHECK.search(text):
        return antiscraping_problem()
    if not is_complete(text):
        return PageProblem("broken", "the page is cut short (it ends before </html>) or is not HTML")
    heading = squash(sel.xpath("string(//title)").get() or "") or squash(sel.xpath("string(//h1)").get() or "")
    if _SERVER_ERROR.search(heading):
        return PageProblem("error", f"the server's error page: {heading}")
    return PageProblem(kind, message)


def discuz_message(sel: Selector) -> str:
    """The message of Discuz's message page ("抱歉，指定的主题不存在…"), or ""."""
    for xpath in MESSAGE_BOXES:
        for box in sel.xpath(xpath):
            said = squash(" ".join(box.xpath(".//text()[not(ancestor::script)]").getall()))
            if said:
                return said
    return ""


def _shows_anything(sel: Selector) -> bool:
    """Any element or text a browser would show: not only scripts. (Walked, not an XPath:
    the first element shown answers, where "//body//*" would collect them all.)"""
    body = sel.root.find("body")
    if body is not None:
        for element in body.iterdescendants():
            if isinstance(element.tag, str) and element.tag not in _NOT_SHOWN and not any(
                ancestor.tag in _NOT_SHOWN for ancestor in element.iterancestors()
            ):
                return True
    return bool(squash("".join(sel.xpath(_VISIBLE_TEXT).getall())))


def _is_redirect_script(sel: Selector) -> bool:
    """Only a script that sends the browser elsewhere: the 防采集 page."""
    scripts = " ".join(sel.xpath("//script/text()").getall())
    return bool(_REDIRECT_SCRIPT.search(scripts)) and not _shows_anything(sel)


def breadcrumb_forum(sel: Selector, text: str, xpaths: tuple[str, ...] = BREADCRUMB) -> tuple[int | None, str | None]:
    """The forum a page belongs to: the breadcrumb's last forum link, else ``var fid``."""
    for xpath in xpaths:
        links = compiled(xpath)(sel.root)
        for link in reversed(links):
            href = link.get("href", "")
            if "tid" in href or "thread" in href and "fid" not in href:
                continue
            if match := FID_IN_HREF.search(href):
                return int(match[1]), squash(_STRING(link)) or None
    if match := re.search(r"\bfid\s*=\s*parseInt\('(\d+)'\)", text):
        return int(match[1]), None
    return None, None


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
    profile may select text() or an attribute)."""
    return found if isinstance(found, str) else _STRING(found)


def shown_words(found: etree._Element | str) -> str:
    """words_of without what the page hides: a theme puts labels such as 作者： and 时间：
    in author and time cells inside an element hidden by a class (display_none) or a style,
    and they are no part of the name or the time."""
    if isinstance(found, str) or not _HIDDEN_INSIDE(found):
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


def first_int(value: str | None) -> int | None:
    match = _INT.search(value or "")
    return int(match[0]) if match else None


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\xa0", " ")).strip()
