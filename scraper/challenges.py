"""Which of Discuz's own defences answered in a page's place, from the answer alone.

Discuz's defences against CC (flood) attacks (``$_config['security']['attackevasive']``, a
bit mask; misc_security.php's ``securitymessage()``) and the admin's 防采集 (helper_antitheft)
answer with small pages of their own. A browser passes some by itself: with its cookies and a
reload. Others are the site asking for a person, or saying no. Pure: bytes in, a Challenge
out; what to do about each is the crawl's (spiders.anti_cc).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from enum import StrEnum

from parsel import Selector

from scraper.problems import is_redirect_script

# Challenge pages are a few KB; a real page is tens. Larger answers are never looked into.
_LARGEST = 16 * 1024
# securitymessage(): its subject is the title and a 16px <b>; the ajax form (inajax=1) is a
# <div id="attackevasive_1"> in an XML CDATA. The subjects (lang_security.php, Simplified
# and Traditional): 频繁刷新限制 (bit 1), 代理服务器访问限制 (bit 2), 页面重载开启 (bit 4); bit 8's
# is the sum itself, "16 + 17 + 18 = ?", with its answer box.
_SECURITY_PAGE = re.compile(rb'<b style="font-size: 16px">|id="attackevasive_1"')
_SUBJECT = re.compile(r'<b style="font-size: 16px">([^<]*)</b>')
_QUESTION = re.compile(r"^\s*\d+(?:\s*\+\s*\d+)+\s*=\s*\?\s*$")
_RATE_LIMIT = re.compile(r"刷新限制|速度过快|速度過快|refresh", re.I)
_PROXY = re.compile(r"代理|proxy", re.I)
_RELOAD = re.compile(r"重载|重載|reload", re.I)
# discuz_error::show_error(): "Discuz! System Error", answered 503 with Retry-After: 3600.
_SYSTEM_ERROR = re.compile(rb"<h1>Discuz! System Error</h1>")


class Challenge(StrEnum):
    FIRST_VISIT = "first_visit"  # bit 1 on PHP 8: a 503 system error that sets lastrequest
    RATE_LIMIT = "rate_limit"  # bit 1: 频繁刷新限制, two requests in one second
    PROXY = "proxy"  # bit 2: 代理服务器访问限制, a proxy header on the request
    RELOAD = "reload"  # bit 4: 页面重载开启, no recent lastrequest cookie
    QUESTION = "question"  # bit 8: a sum for a person to compute
    ANTITHEFT = "antitheft"  # 防采集: a bare script (no <html>) that sends the browser on with _dsign

    @property
    def needs_a_person(self) -> bool:
        """Only a person (or the site's owner) gets past it: the crawl stops asking."""
        return self in (Challenge.PROXY, Challenge.QUESTION, Challenge.ANTITHEFT)


def challenge_of(status: int, body: bytes, sets_cookies: list[str]) -> Challenge | None:
    """The defence that answered, or None for any other page. ``sets_cookies``: the names of
    the answer's cookies (Set-Cookie), as Discuz names them with its prefix (xxxx_2132_saltkey)."""
    if len(body) > _LARGEST:
        return None
    if status == 503:
        sets_lastrequest = any(name.endswith("lastrequest") for name in sets_cookies)
        return Challenge.FIRST_VISIT if sets_lastrequest and _SYSTEM_ERROR.search(body) else None
    if status != 200:
        return None
    if _SECURITY_PAGE.search(body):
        return next((found for text in _texts(body) if (found := _security_message(text))), None)
    bare = body.strip()
    if bare.startswith(b"<script") and bare.endswith(b"</script>") and is_redirect_script(Selector(text=next(_texts(body)))):
        return Challenge.ANTITHEFT
    return None


def _security_message(text: str) -> Challenge | None:
    found = _SUBJECT.search(text)
    subject = found[1] if found else ""
    if _QUESTION.match(subject) and 'name="answer"' in text:
        return Challenge.QUESTION
    if _RATE_LIMIT.search(subject):
        return Challenge.RATE_LIMIT
    if _PROXY.search(subject):
        return Challenge.PROXY
    if _RELOAD.search(subject):
        return Challenge.RELOAD
    return None


def _texts(body: bytes) -> Iterator[str]:
    """A challenge page's text in each charset it may be in: UTF-8, or the GBK or Big5 of forums
    installed so (the page names none: Discuz sends it before it knows the site's charset). Each
    is read in turn: Big5 bytes decode as GB18030 too, into other words."""
    decoded = False
    for charset in ("utf-8", "gb18030", "big5"):
        try:
            yield body.decode(charset)
            decoded = True
        except UnicodeDecodeError:
            continue
    if not decoded:
        yield body.decode("utf-8", "replace")
