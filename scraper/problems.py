"""What a page is when it is not the page asked for: a deleted thread, a login wall, a closed
site, the anti-scraping script, a server's error page, a page cut short. The thread, listing
and mobile API parsers raise the PageProblem these rules find, and the crawl records it.
"""

from __future__ import annotations

import re

from lxml import etree
from parsel import Selector

from scraper.kinds import PageKind
from scraper.xpath import has_class, squash


class PageProblem(Exception):
    """The page is not the page we can read; ``kind`` (a PageKind: missing, login, closed,
    antiscraping, empty, broken, error, unknown, or no_posts and no_listing for a template the
    parser does not know) says what it is instead. ``message`` is what the page said, else
    what we saw."""

    def __init__(self, kind: PageKind, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


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
# What a message says, by meaning; the mobile API's messages (messagestr) are the same words.
MISSING_PHRASES = re.compile(r"不存在|已被删除|已被刪除|does not exist|not exist|nonexist|(?:was|been) deleted", re.I)
CLOSED_PHRASES = re.compile(r"关闭|關閉|closed", re.I)
LOGIN_PHRASES = re.compile(
    r"登录|登錄|登入|权限|權限|无权|無權|密码|密碼|特定用户|特定用戶|log ?in|sign in|permission|password", re.I
)
# 防采集 (helper_antitheft.php): a page of one obfuscated script that sends the browser to the
# same URL plus &_dsign=…, the URL cut into pieces (so "_dsign" itself may not show) and the
# redirect spelt eight ways; all of them name `location`. Discuz's CC defence (attackevasive:
# 频繁刷新限制, 代理服务器访问限制, 页面重载开启, bit 8's question and its secqsubmit button) and a
# CDN's browser check also stand in the page's place (scraper.challenges tells them apart for
# the crawl, which gets past some: spiders.anti_cc).
_REDIRECT_SCRIPT = re.compile(r"_dsign|\blocation\b")
_BOT_CHECK = re.compile(
    r"刷新限制|速度过快|刷新间隔|代理服务器访问限制|页面重载开启|正在重新载入|name=\"secqsubmit\"|"
    r"challenge-platform|cf-browser-verification|Checking your browser",
    re.I,
)
# The web server's own error pages ("503 Service Temporarily Unavailable", nginx, Apache) and
# Discuz's when its database is down ("Discuz! Database Error").
_SERVER_ERROR = re.compile(r"^\s*(?:HTTP\s*)?[45]\d\d\b|Database Error|System Error", re.I)
# A page that ran to its end; a cut connection or a full disk on the server stops before it.
_END_OF_PAGE = re.compile(r"</(?:html|body)\s*>", re.I)
_NOT_SHOWN = {"script", "style", "noscript"}
_VISIBLE_TEXT = "//body//text()[not(ancestor::script or ancestor::style or ancestor::noscript)]"


def is_complete(text: str) -> bool:
    """The page reached its end (``</body>`` or ``</html>``): it was not cut short. Looked for
    near the end first: a search from the top reads the whole page."""
    return bool(_END_OF_PAGE.search(text, len(text) - 4096) or _END_OF_PAGE.search(text))


def cut_short(found: int, what: str) -> PageProblem:
    """A page that ends before its list closes (a thread page with no whole post on it: one
    that has some keeps them, see ThreadPage.cut_short). What it holds is not kept: its last item may
    be cut mid-text (and would later read as an edit), and keeping the rest would tell the
    crawl the page is done, so the items after the cut would never be fetched. As an error
    the page is read again by the next run."""
    return PageProblem(
        PageKind.BROKEN, f"the page is cut short (it ends before </html>): {found} {what} on it, none kept"
    )


def closed_before_the_end(element: etree._Element) -> bool:
    """On a page cut short: the element's end tag (or a later tag that ends it) came before the
    cut. The recovering parser closes whatever is open at the end of the text, so the tree
    alone cannot tell a closed element; what can is that something follows it in the page:
    text or an element after it, or after one of its ancestors (an element still open at the
    cut holds everything after its start)."""
    for node in (element, *element.iterancestors()):
        if node.tail or node.getnext() is not None:
            return True
    return False


def antiscraping_problem() -> PageProblem:
    return PageProblem(
        PageKind.ANTISCRAPING, "an anti-scraping page (防采集, a redirect script or a bot check) instead of the page"
    )


def problem_of(
    sel: Selector,
    text: str,
    kind: PageKind = PageKind.NO_POSTS,
    message: str = "no posts found on the page (an unknown template?)",
) -> PageProblem:
    """Say what a page without what we looked for is, so the crawl records it rather than
    guessing; ``kind`` and ``message`` when it is no page Discuz makes for such cases."""
    said = discuz_message(sel)
    asks_login = bool(sel.xpath(LOGIN_FORMS))
    if said:
        if MISSING_PHRASES.search(said):
            return PageProblem(PageKind.MISSING, said)
        if CLOSED_PHRASES.search(said):
            return PageProblem(PageKind.CLOSED, said)
        if asks_login or LOGIN_PHRASES.search(said):
            return PageProblem(PageKind.LOGIN, said)
        return PageProblem(PageKind.ERROR, said)
    if asks_login:
        return PageProblem(PageKind.LOGIN, "the forum asks for a login or a password")
    if is_redirect_script(sel) or _BOT_CHECK.search(text):
        return antiscraping_problem()
    if not is_complete(text):
        return PageProblem(PageKind.BROKEN, "the page is cut short (it ends before </html>) or is not HTML")
    heading = squash(sel.xpath("string(//title)").get() or "") or squash(sel.xpath("string(//h1)").get() or "")
    if _SERVER_ERROR.search(heading):
        return PageProblem(PageKind.ERROR, f"the server's error page: {heading}")
    return PageProblem(kind, message)


def discuz_message(sel: Selector) -> str:
    """The message of Discuz's message page ("抱歉，指定的主题不存在…"), or ""."""
    for xpath in MESSAGE_BOXES:
        for box in sel.xpath(xpath):
            said = squash(" ".join(box.xpath(".//text()[not(ancestor::script)]").getall()))
            if said:
                return said
    return ""


def shows_anything(sel: Selector) -> bool:
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


def is_redirect_script(sel: Selector) -> bool:
    """Only a script that sends the browser elsewhere: the 防采集 page."""
    scripts = " ".join(sel.xpath("//script/text()").getall())
    return bool(_REDIRECT_SCRIPT.search(scripts)) and not shows_anything(sel)
