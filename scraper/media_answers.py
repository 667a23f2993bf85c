"""What a media download's answer is when it is not the file: Discuz answers a guest with an HTML
page instead of the attachment in several cases, with status 200. Those bytes must never be
stored as the file; the media store records why instead.

Statuses (post_images.status, portal_images.status, attachments.file_status): ``stored`` (the
file), ``denied`` (没有权限下载, 您无权…, 您所在的用户组(游客)无法进行此操作: the visitor's group
may not), ``login`` (需要登录, 尚未登录: "please log in", or a login form and no other word), ``paid`` (a paid attachment: the buy page), ``missing`` (no such attachment, or 404),
``not_a_file`` (another HTML page), ``http_error`` (another 4xx/5xx answer). The crawl's own
refusals (``offsite``, ``private_address``, ``too_large``) and ``network`` come from the
download, not from the answer.
"""

from __future__ import annotations

import re

from parsel import Selector

from scraper.encoding import decode_ajax, decode_html
from scraper.kinds import PageKind
from scraper.post_extras import ajax_html
from scraper.problems import problem_of

STORED = "stored"
# Discuz's words (lang_message.php): attachment_forum_nopermission 抱歉，您没有权限下载此附件,
# attachment_nonexistence 抱歉，附件不存在或已被删除, attachpay 购买附件 (misc.php?action=attachpay).
DENIED_PHRASES = re.compile(r"没有权限下载|沒有權限下載|无权下载|無權下載|not allowed to download|no permission to download", re.I)
# What Discuz's message says, in this order: log in first (viewperm_login_nopermission 抱歉，您尚未
# 登录，没有权限访问该版块 asks a guest to), else no permission (group_nopermission 抱歉，您所在的
# 用户组(游客)无法进行此操作, the viewvote answer 抱歉，您无权查看本帖投票人; a guest gets a login box
# with these too, which alone does not make them a login request).
LOG_IN_FIRST = re.compile(r"需要登录|需要登錄|尚未登录|尚未登錄|还没有登录|還沒有登錄|先登录|先登錄|登录后|登錄後|log ?in first|not logged in", re.I)
NO_PERMISSION = re.compile(r"无权|無權|没有权限|沒有權限|用户组.{0,20}无法|用戶組.{0,20}無法|no permission|not allowed", re.I)
PAID_PHRASES = re.compile(r"购买|購買|attachpay|purchase|积分不足|金钱不足", re.I)
# Content types a file is not served with: a page, or an ajax answer wrapping one.
PAGE_TYPES = ("text/html", "application/xhtml+xml", "text/xml", "application/xml")
KINDS = {PageKind.MISSING: "missing", PageKind.LOGIN: "login"}
# Discuz's own interface images (file type icons beside attachments, smilies, buttons): part
# of the template, not of what was posted.
UI_IMAGES = re.compile(r"/static/image/|/images/(?:default|common|smilies|attachicons)/", re.I)


def is_ui_image(url: str) -> bool:
    return bool(UI_IMAGES.search(url))


def looks_like_a_page(body: bytes, content_type: str | None) -> bool:
    """Whether the answer is a web page: by its Content-Type, or by its first bytes when the
    server calls everything application/octet-stream."""
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind in PAGE_TYPES:
        return True
    start = body[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return start.startswith((b"<!doctype html", b"<html")) or (start.startswith(b"<?xml") and b"<root>" in body[:1024])


def refused_answer(body: bytes, content_type: str | None, status: int, *, html_expected: bool = False) -> tuple[str, str] | None:
    """(status, message) when this answer is not the file asked for; None when it is.

    ``html_expected``: the file is itself a web page (an attachment named .html), so only the
    HTTP status can refuse it.
    """
    if status == 404 or status == 410:
        return "missing", f"HTTP {status}"
    if status >= 400:
        return "http_error", f"HTTP {status}"
    if html_expected or not looks_like_a_page(body, content_type):
        return None
    text = _answer_text(body, content_type)
    if match := DENIED_PHRASES.search(text):
        return "denied", _said(text, match)
    sel = Selector(text=text)
    problem = problem_of(sel, text, PageKind.ERROR, "an HTML page instead of the file")
    said = problem.message
    if problem.kind in (PageKind.LOGIN, PageKind.ERROR) and NO_PERMISSION.search(said) and not LOG_IN_FIRST.search(said):
        return "denied", said
    if match := PAID_PHRASES.search(problem.message) or (problem.kind == PageKind.ERROR and PAID_PHRASES.search(text)):
        return "paid", problem.message if PAID_PHRASES.search(problem.message) else _said(text, match)
    if problem.kind in KINDS:
        return KINDS[problem.kind], problem.message
    return "not_a_file", problem.message


def _answer_text(body: bytes, content_type: str | None) -> str:
    """The answer's text; an ajax answer's (``<?xml …><root><![CDATA[page]]></root>``, what a
    link asked with inajax=1 gets) is the page it wraps."""
    if body[:64].lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<?xml"):
        return ajax_html(decode_ajax(body, content_type).text)
    return decode_html(body, content_type).text


def _said(text: str, match: re.Match) -> str:
    """The words around what matched: the message the page shows."""
    start = max(text.rfind(">", 0, match.start()) + 1, match.start() - 60)
    end = text.find("<", match.end())
    return " ".join(text[start : end if end != -1 else match.end() + 60].split())
