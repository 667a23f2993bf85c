"""The page model (browse/forum.py) as HTML: one set of Jinja2 templates (browse/templates/forum/)
for the datasette plugin and the static mirror alike; only their ``Links`` differ.

A post's HTML was sanitised when crawled and is sanitised again here (rows may come from other
programs). Then its images point at the media store: an image whose file is stored is shown
from it, with its original address kept in ``data-original``; one that is not stored becomes
a link to its original address, marked as not archived, so no page of the archive hangs on a
dead forum for its pictures. Links to the forum's own threads, forums, members and articles
lead to the archive's pages.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from datetime import datetime
from pathlib import Path

import jinja2
import lxml.html
from markupsafe import Markup

from scraper.content import sanitize_html
from scraper.media_answers import is_ui_image

TEMPLATES = Path(__file__).parent / "templates" / "forum"
LANG = "zh-CN"
# The archive's status codes as the page says them to a reader (metadata.yml describes each):
# why a file is not in the store (attachments.file_status), and why a member's profile is not
# (users.profile_status). A code not listed is shown as it is.
STATUS_LABELS = {
    "file": {"paid": "需购买", "denied": "无权下载", "login": "需登录", "missing": "论坛上已不存在",
             "not_a_file": "论坛给出的不是文件", "too_large": "文件过大", "robots": "robots.txt 不许下载",
             "offsite": "在论坛以外的网站", "private_address": "内网地址", "http_error": "下载出错",
             "network": "网络不通", "error": "下载未完成"},
    "profile": {"members_only": "仅会员可见，未存档", "missing": "论坛上已无此会员"},
}


class Links:
    """Where each page is. Subclasses: the mirror's file names (export/site.py), datasette's
    routes (browse/live.py)."""

    def index(self) -> str: raise NotImplementedError
    def forum(self, fid: int, page: int = 1, type_id: int | None = None) -> str: raise NotImplementedError
    def thread(self, tid: int, page: int = 1) -> str: raise NotImplementedError
    def member(self, uid: int, page: int = 1) -> str: raise NotImplementedError
    def article(self, aid: int, page: int = 1) -> str: raise NotImplementedError
    def tag(self, name: str) -> str: raise NotImplementedError
    def media(self, sha256: str) -> str: raise NotImplementedError
    search_field = "q"

    def search(self) -> str | None: return None
    def revisions(self, pid: int) -> str | None: return None
    def table(self) -> str | None: return None

    def post(self, tid: int, page: int | None, pid: int) -> str:
        return (self.thread(tid, page) if page else "") + f"#pid{pid}"

    def forum_url(self, url: str, site: str) -> str | None:
        """The archive's page for an address of the forum itself, or None."""
        parts = urllib.parse.urlsplit(url)
        if parts.netloc and parts.netloc != site:
            return None
        name, query = parts.path.rsplit("/", 1)[-1], dict(urllib.parse.parse_qsl(parts.query))
        if match := re.fullmatch(r"thread-(\d+)-(\d+)-\d+\.html", name):
            return self.thread(int(match[1]), int(match[2]))
        if match := re.fullmatch(r"forum-(\d+)-(\d+)\.html", name):
            return self.forum(int(match[1]), int(match[2]))
        if match := re.fullmatch(r"space-uid-(\d+)\.html", name):
            return self.member(int(match[1]))
        if match := re.fullmatch(r"article-(\d+)-(\d+)\.html", name):
            return self.article(int(match[1]), int(match[2]))
        mod, number = query.get("mod"), lambda key: int(query[key]) if query.get(key, "").isdigit() else None
        if name in ("forum.php", "viewthread.php") and (mod in (None, "viewthread")) and number("tid"):
            return self.thread(number("tid"), number("page") or 1)
        if name in ("forum.php", "forumdisplay.php") and (mod in (None, "forumdisplay")) and number("fid"):
            return self.forum(number("fid"), number("page") or 1)
        if name in ("home.php", "space.php") and number("uid"):
            return self.member(number("uid"))
        if name == "portal.php" and mod == "view" and number("aid"):
            return self.article(number("aid"), number("page") or 1)
        return None


def date(value: str | None, seconds: bool = False, offset: str | None = None) -> str:
    """An archived time as Discuz shows it, in the forum's own offset: ``2015-7-1 09:00``.

    Posts' times carry the forum's offset; the crawler's own (gone_since, a revision's
    seen_at) are UTC: given the forum's ``offset``, those are moved to it, so a page never
    mixes two clocks."""
    if not value:
        return ""
    if offset and not value.endswith(offset):
        try:
            moment = datetime.fromisoformat(value)
            zone = datetime.fromisoformat("2000-01-01T00:00:00" + offset).tzinfo
        except ValueError:
            moment = None
        if moment and moment.tzinfo:
            value = moment.astimezone(zone).isoformat()
    match = re.match(r"(\d{4})-(\d\d)-(\d\d)(?:[T ](\d\d):(\d\d)(?::(\d\d))?)?", value)
    if not match:
        return value
    year, month, day, hour, minute, second = match.groups()
    shown = f"{year}-{int(month)}-{int(day)}"
    if hour:
        shown += f" {hour}:{minute}" + (f":{second or '00'}" if seconds else "")
    return shown


def message(html: str | None, site: str, images: dict[str, str], attachments: list[dict], links: Links,
            shown: set | None = None, quoted: str | None = None) -> Markup:
    """A post's HTML, sanitised, its images on the media store and its links on the archive;
    the SHA-256 of each stored image it shows goes into ``shown``; ``quoted``: where the post it
    quotes is in the archive, for the quote's own link (``goto=findpost``)."""
    html = sanitize_html(html or "")
    if "<img" not in html and "<a" not in html:  # nothing to point elsewhere: no need to parse it
        return Markup(html)
    root = lxml.html.fragment_fromstring(html, create_parent="div")
    files = {a["url"]: a for a in attachments if a.get("url") and a.get("sha256")}
    for img in list(root.iter("img")):
        src = img.get("src") or ""
        stored = images.get(src) or images.get(urllib.parse.urljoin(f"http://{site}/", src))
        if stored:
            img.set("src", links.media(stored))
            img.set("data-original", src)
            img.set("alt", img.get("alt") or "图片")
            if shown is not None:
                shown.add(stored)
            continue
        if is_ui_image(src):  # a smiley or file-type icon of the forum's theme: its text, if any
            replacement = lxml.html.Element("span", {"class": "ui-image"})
            replacement.text = img.get("alt") or img.get("title") or ""
        else:
            replacement = lxml.html.Element("a", {"class": "unarchived", "href": src, "rel": "nofollow noopener"})
            replacement.text = "[图片未存档 · 原址]"
        replacement.tail = img.tail
        img.getparent().replace(img, replacement)
    for anchor in root.iter("a"):
        href = anchor.get("href") or ""
        if href in files:
            anchor.set("href", links.media(files[href]["sha256"]))
            anchor.set("download", files[href]["filename"] or "")
        elif local := _local(href, site, links, quoted):
            anchor.set("href", local)
    inner = "".join(lxml.html.tostring(child, encoding="unicode") for child in root)
    return Markup.escape(root.text or "") + Markup(inner)


def _local(href: str, site: str, links: Links, quoted: str | None = None) -> str | None:
    if not href or href.startswith("#"):
        return None
    parts = urllib.parse.urlsplit(href)
    if parts.scheme not in ("", "http", "https"):
        return None
    query = dict(urllib.parse.parse_qsl(parts.query))
    if query.get("goto") == "findpost" and query.get("pid", "").isdigit() and query.get("ptid", "").isdigit():
        # the quote's own link (its author and time): to the quoted post, where the archive has it
        return quoted if quoted and quoted.endswith(f"#pid{query['pid']}") else None
    return links.forum_url(href, site)


def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True, undefined=jinja2.ChainableUndefined)
    # the forum's offset is the page's (render's utc_offset): a filter that reads it from the page
    env.filters["date"] = jinja2.pass_context(lambda page, value, seconds=False: date(value, seconds, page.get("utc_offset")))
    env.globals["pager_numbers"] = pager_numbers
    env.filters["status"] = lambda code, kind: STATUS_LABELS[kind].get(code, code)
    env.filters["json_list"] = _json_list
    env.filters["json_obj"] = lambda value: (found if isinstance(found := _json_list(value), dict) else {}) if value else {}
    return env


def pager_numbers(count: int, current: int) -> list[int | None]:
    """The page numbers a pager shows: the first two, the last two, three each side of the
    current one; None where it skips some."""
    shown = sorted({n for n in (1, 2, count - 1, count, *range(current - 3, current + 4)) if 1 <= n <= count})
    numbers = []
    for number in shown:
        if numbers and number > numbers[-1] + 1:
            numbers.append(None)
        numbers.append(number)
    return numbers


def _json_list(value) -> list | dict:
    """A JSON column's value (flags, extcredits); a value that is not JSON, as a one-item list."""
    if not value:
        return []
    try:
        return json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return [value]


_ENV = None


def render(context: dict, links: Links, lang: str = LANG, **extra) -> str:
    """The page of ``context`` (a page model's) as HTML; ``utc_offset`` in ``extra``: the
    forum's (browse.forum.utc_offset), for the times the crawler stamped in UTC."""
    global _ENV
    if _ENV is None:
        _ENV = environment()
    site = context["site"]
    for post in context.get("posts", ()):
        inline = set()
        quoted = links.post(post["quote"][0], post["quote"][1], post["quote_pid"]) if post.get("quote") else None
        post["message"] = message(post.get("content_html"), site, post["images"], post["attachments"], links, inline, quoted)
        for attachment in post["attachments"]:  # an image attachment the message does not show: under it
            attachment["show_image"] = bool(attachment.get("is_image") and attachment.get("sha256") not in inline)
    for revision in context.get("revisions", ()):
        revision["message"] = message(revision.get("content_html"), site, {}, [], links)
    if context["kind"] == "revisions":
        context["post"]["message"] = message(context["post"].get("content_html"), site, {}, [], links)
    if context["kind"] == "article":
        context["message"] = message(context["content_html"], site, context["images"], [], links)
    return _ENV.get_template(f"{context['kind']}.html").render(
        **context, links=links, lang=lang, page_url=page_url(context, links), **extra)


def page_url(context: dict, links: Links):
    """The address of page N of the same thread, forum, member or article."""
    kind = context["kind"]
    if kind == "thread":
        return lambda n: links.thread(context["article"]["tid"], n)
    if kind == "forum":
        return lambda n: links.forum(context["forum"]["fid"], n, context["type_id"])
    if kind == "member":
        return lambda n: links.member(context["uid"], n)
    if kind == "article":
        return lambda n: links.article(context["article"]["aid"], n)
    return None
