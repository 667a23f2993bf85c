"""A member's profile page (``home.php?mod=space&uid=N&do=profile``, ``space-uid-N.html``) to a
UserProfile. No Scrapy, no I/O.

Guests usually get Discuz's message page instead (抱歉，您需要登录后才能查看, HTTP 200):
that raises PageProblem ``login`` (scraper.problems.problem_of), to be recorded, not retried.
A profile shows its facts as label/value pairs (``<li><em>注册时间</em>2018-3-1 09:00</li>``,
``<dt>积分</dt><dd>2</dd>``) and its counts as links (``回帖数 12``, ``主题数 3``); they are
read by their labels, in Simplified, Traditional Chinese and English, whatever the layout.
"""

from __future__ import annotations

import re
from datetime import datetime, tzinfo
from urllib.parse import parse_qs, urlsplit

from scraper.dates import page_time
from scraper.encoding import decode_html
from scraper.extras_models import UserProfile
from scraper.html_page import open_page
from scraper.kinds import PageKind
from scraper.problems import PageProblem, discuz_message, problem_of
from scraper.urls import UID_IN_HREF, site_of
from scraper.xpath import compiled, first_int, squash, words_of

_PAIRS = compiled("//li[em] | //dl[dt and dd]/dt")
_LABEL = compiled("./em[1]")
_DD = compiled("following-sibling::dd[1]")
_COUNT_LINKS = compiled("//a[contains(@href, 'do=thread')]")
_NAME = compiled("//h2[contains(., 'UID')] | //div[@id='uhd']//h2")
# X3 lists the credits in div#psts; where it is, a number elsewhere is no credit.
_CREDIT_BOX = compiled("boolean(id('psts'))")
_IN_CREDIT_BOX = compiled("boolean(ancestor::*[@id='psts'])")
_GROUP_LINK = compiled(".//a[contains(@href, 'usergroup')]")
_LABELS = {
    "group": re.compile(r"^(?:用户组|用戶組|user ?group)$", re.I),
    "registered_at": re.compile(r"^(?:注册时间|註冊時間|register(?:ed)?(?: time| date)?)$", re.I),
    "last_visit_at": re.compile(r"^(?:最后访问|最後訪問|last visit)$", re.I),
    "posts": re.compile(r"^(?:帖子数?|發帖數|posts)$", re.I),
    "threads": re.compile(r"^(?:主题数?|主題數?|threads)$", re.I),
    "credits": re.compile(r"^(?:积分|積分|credits)$", re.I),
}
_COUNT = re.compile(r"(回帖数|回帖數|主题数|主題數|replies|threads)\s*(\d+)", re.I)
_NOT_CREDITS = re.compile(r"时间|時間|空间|空間|用户组|用戶組|在线|在線|ip|邮箱|郵箱|生日|性别|性別|地|签名|簽名", re.I)


def profile_uid(url: str) -> int | None:
    match = UID_IN_HREF.search(url)
    if match:
        return int(match[1])
    values = parse_qs(urlsplit(url).query).get("uid")
    return first_int(values[-1]) if values else None


def parse_profile(
    body: bytes | str,
    url: str,
    *,
    content_type: str | None = None,
    fetched_at: datetime | None = None,
    utc_offset: str | tzinfo | None = None,
) -> UserProfile:
    """Read a profile page. Raises PageProblem ``login`` for the members-only answer (and the
    other kinds of scraper.problems for other message pages), ``no_profile`` for a page that
    shows no profile facts."""
    text = body if isinstance(body, str) else decode_html(body, content_type).text
    sel, _, tz = open_page(text, url, utc_offset)
    if discuz_message(sel):
        raise problem_of(sel, text)
    uid = profile_uid(url)
    if uid is None:
        raise PageProblem(PageKind.UNKNOWN, "a profile URL without a uid")
    profile = UserProfile(site=site_of(url), uid=uid)
    found = False
    credit_box = bool(_CREDIT_BOX(sel.root))
    for element in _PAIRS(sel.root):
        if element.tag == "li":
            label_el = _LABEL(element)[0]
            label = squash(words_of(label_el)).rstrip(":：")
            value_words = squash(words_of(element))[len(squash(words_of(label_el))):]
            holder = element
        else:
            label = squash(words_of(element)).rstrip(":：")
            dd = _DD(element)
            holder = dd[0]
            value_words = squash(words_of(holder))
        value = squash(value_words)
        for name, pattern in _LABELS.items():
            if pattern.match(label):
                found = True
                _set(profile, name, value, holder, tz, fetched_at)
                break
        else:
            number = re.fullmatch(r"([+-]?\d+)\s*\S*", value)
            if number and label and not _NOT_CREDITS.search(label) and len(label) <= 8 and (
                not credit_box or _IN_CREDIT_BOX(element)
            ):
                profile.extcredits.setdefault(label, int(number[1]))
    for link in _COUNT_LINKS(sel.root):
        if match := _COUNT.search(squash(words_of(link))):
            found = True
            if match[1] in ("主题数", "主題數") or match[1].lower() == "threads":
                profile.threads = int(match[2])
            elif profile.posts is None:
                profile.posts = int(match[2])
    names = _NAME(sel.root)
    if names:
        profile.username = squash(re.sub(r"\(?\s*UID\s*[:：]\s*\d+\s*\)?", "", words_of(names[0]))) or None
    if not found:
        raise problem_of(sel, text, kind=PageKind.NO_PROFILE, message="no profile facts found on the page")
    return profile


def _set(profile: UserProfile, name: str, value: str, holder, tz: tzinfo, fetched_at: datetime | None) -> None:
    if name == "group":
        links = _GROUP_LINK(holder)
        profile.group = squash(words_of(links[0])) if links else value or None
    elif name in ("registered_at", "last_visit_at"):
        setattr(profile, name, page_time(value, tz, fetched_at))
    else:
        setattr(profile, name, first_int(value))
