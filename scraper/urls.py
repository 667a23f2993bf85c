"""Discuz URL forms: which thread and page a URL names, and which site it belongs to.

Thread pages come as ``thread-TID-PAGE-1.html`` (rewrite), ``forum.php?mod=viewthread&tid=TID
&page=N`` (X2/X3), ``viewthread.php?tid=TID&page=N`` (Discuz 7), ``archiver/?tid-TID.html``
and the mobile API ``api/mobile/index.php?module=viewthread&tid=TID&page=N``. Sites that write
their own rewrite rules shorten the stock ones (``t123-1-1``, ``f45-1``, with or without
``.html``; static mirrors ``thread123-2.html``): read alike, the last path segment only.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import NamedTuple
from urllib.parse import parse_qs, parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

# The member or forum a link names, in every URL form Discuz writes.
UID_IN_HREF = re.compile(r"(?:[?&]uid=|space-uid-|profile-uid-|space\.php\?uid=)(\d+)")
FID_IN_HREF = re.compile(r"(?:[?&]fid=|forum-|forumdisplay\.php\?fid=|fid-)(\d+)")

# thread-TID-PAGE-PREV.html and the shorter custom forms: tTID-PAGE-PREV, threadTID-PAGE.html.
_REWRITE_THREAD = re.compile(r"(?:^|/)(?:thread-?|t)(\d+)(?:-(\d+)(?:-(\d+))?)?(?:\.s?html?)?$")
_ARCHIVER_THREAD = re.compile(r"tid-(\d+)(?:-page-(\d+))?\.html")
# Scripts and folders that sit at the forum's root; what comes before them is the site's path.
_ROOT_MARKERS = re.compile(
    r"/(?:archiver/|api/mobile/|[\w-]+\.php$|(?:thread|forum|space|group|article|blog)-[\w-]+\.html$)"
)


def query_values(query: str) -> dict[str, list[str]]:
    """parse_qs(query): a query with nothing to unquote (no "%", no "+", as most links are) is
    split here, each name=value with a value kept, as parse_qs keeps them, without its steps
    for each pair (Python too, and a link's dearest part)."""
    if "%" in query or "+" in query:
        return parse_qs(query)
    values: dict[str, list[str]] = {}
    for pair in query.split("&"):
        name, _, value = pair.partition("=")
        if value:
            values.setdefault(name, []).append(value)
    return values


@dataclass(frozen=True)
class ThreadRef:
    tid: int
    page: int = 1


def thread_ref(url: str) -> ThreadRef | None:
    """The thread (and page) a URL names, or None when it names none."""
    parts = urlsplit(url)
    if match := _REWRITE_THREAD.search(parts.path):
        return ThreadRef(int(match[1]), max(int(match[2] or 1), 1))
    query = query_values(parts.query)
    legacy = "archiver" in parts.path or parts.path.endswith("read.php")  # read.php: pre-7 era
    if legacy and (match := _ARCHIVER_THREAD.search(parts.query or parts.path)):
        page = match[2] or (query.get("page") or ["1"])[0]
        return ThreadRef(int(match[1]), int(page))
    script = parts.path.rsplit("/", 1)[-1]
    viewthread = (
        script in ("viewthread.php", "read.php")
        or query.get("mod") == ["viewthread"]
        or query.get("module") == ["viewthread"]
    )
    tid = (query.get("tid") or [""])[0]
    if viewthread and tid.isdecimal():
        page = (query.get("page") or ["1"])[0]
        return ThreadRef(int(tid), int(page) if page.isdecimal() and int(page) > 0 else 1)
    return None


def thread_page_url(url: str, page: int) -> str | None:
    """The same thread's page ``page`` in the URL's own form (None for forms we cannot build)."""
    parts = urlsplit(url)
    if match := _REWRITE_THREAD.search(parts.path):
        if match[2] is None:  # a form without the page: page 1 is the URL, others are unknown
            return url if page == 1 else None
        return urlunsplit(parts._replace(path=parts.path[: match.start(2)] + str(page) + parts.path[match.end(2):]))
    if thread_ref(url) is not None and "archiver" not in parts.path:
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "page"]
        return urlunsplit(parts._replace(query=urlencode(query + ([("page", str(page))] if page > 1 else [])), fragment=""))
    return None


def site_of(url: str) -> str:
    """The forum a URL belongs to: host[:port], plus the path Discuz lives under."""
    parts = urlsplit(url)
    path = parts.path or "/"
    marker = _ROOT_MARKERS.search(path)
    base = path[: marker.start()] if marker else path.rsplit("/", 1)[0]
    base = base.strip("/")
    return f"{parts.netloc}/{base}" if base else parts.netloc


def split_urls(value: str) -> list[str]:
    """Several URLs given as one argument, separated by commas or white space."""
    return [url for url in re.split(r"[\s,]+", value.strip()) if url]


def desktop_thread_url(url: str) -> str:
    """The page as the desktop template serves it, for URL forms whose markup is not a thread
    page's (the archiver's plain text, the mobile API's JSON): same site, same tid and page."""
    parts = urlsplit(url)
    ref = thread_ref(url)
    if ref is None or not ("archiver" in parts.path or "api/mobile" in parts.path):
        return url
    site = site_of(url)
    page = f"&page={ref.page}" if ref.page > 1 else ""
    return f"{parts.scheme}://{site}/forum.php?mod=viewthread&tid={ref.tid}{page}"


# Forum listings and the site index -------------------------------------------------------
# Listings come as ``forum-FID-PAGE.html`` (rewrite), ``forum.php?mod=forumdisplay&fid=FID
# &page=N`` (X2/X3, the touch template adds ``&mobile=2``) and ``forumdisplay.php?fid=FID
# &page=N`` (Discuz 7). The index is ``forum.php`` (no mod, or mod=index), ``index.php`` or the
# site root; a category is ``forum.php?gid=N`` (``index.php?gid=N`` on Discuz 7).

# forum-FID-PAGE.html and the shorter custom forms: fFID-PAGE, forumFID.html.
_REWRITE_FORUM = re.compile(r"(?:^|/)(?:forum-?|f)(\d+)(?:-(\d+))?(?:\.s?html?)?$")
_INDEX_SCRIPTS = ("forum.php", "index.php")
_NOT_FORUM_FOLDERS = ("archiver", "api")


class ForumRef(NamedTuple):
    fid: int
    page: int = 1


def forum_ref(url: str) -> ForumRef | None:
    """The forum (and page of its thread list) a URL names, or None when it names none.

    A forum alias in the rewrite form (``forum-news-1.html``) names no numeric fid: None.
    """
    parts = urlsplit(url)
    if match := _REWRITE_FORUM.search(parts.path):
        return ForumRef(int(match[1]), max(int(match[2] or 1), 1))
    query = parse_qs(parts.query)
    script = parts.path.rsplit("/", 1)[-1]
    listing = script == "forumdisplay.php" or (script == "forum.php" and query.get("mod") == ["forumdisplay"])
    fid = (query.get("fid") or [""])[0]
    if listing and fid.isdecimal():
        page = (query.get("page") or ["1"])[0]
        return ForumRef(int(fid), int(page) if page.isdecimal() and int(page) > 0 else 1)
    return None


# The guide (导读): forum.php?mod=guide&view=new|hot|digest|newthread|sofa, threads from every
# forum, newest or hottest first; plugins add views of their own (52pojie's view=tech, soft).
# ``my`` is a member's own list, not the site's.
def guide_view(url: str) -> str | None:
    """Which guide list a URL names (``new``, ``hot``…), or None when it names none."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    if parts.path.rsplit("/", 1)[-1] != "forum.php" or query.get("mod") != ["guide"]:
        return None
    view = (query.get("view") or ["new"])[0]  # the guide's default list
    return view if view and view != "my" else None


def is_index_url(url: str) -> bool:
    """True for the site index (forum.php, index.php, the site root) and category pages."""
    parts = urlsplit(url)
    path = parts.path or "/"
    query = parse_qs(parts.query)
    if "fid" in query or "tid" in query:
        return False
    if path.endswith("/"):
        folder = path.rstrip("/").rsplit("/", 1)[-1]
        return folder not in _NOT_FORUM_FOLDERS
    script = path.rsplit("/", 1)[-1]
    return script in _INDEX_SCRIPTS and query.get("mod", ["index"]) == ["index"]


def category_gid(url: str) -> int | None:
    """The category (group) a category page's URL names: ``forum.php?gid=N`` -> N."""
    gid = (parse_qs(urlsplit(url).query).get("gid") or [""])[0]
    return int(gid) if gid.isdecimal() and is_index_url(url) else None


def listed_thread_url(url: str) -> str:
    """A thread link as a forum listing gives it, without the listing page it came back from:
    ``thread-T-P-PREV.html`` gets PREV 1 and ``extra=page%3DN…`` goes, so that every listing page
    (and every filter) links a thread by one URL."""
    parts = urlsplit(url)
    if (match := _REWRITE_THREAD.search(parts.path)) and match[3] is not None:
        return urlunsplit(parts._replace(path=parts.path[: match.start(3)] + "1" + parts.path[match.end(3):]))
    if "extra=" not in parts.query:
        return url
    query = [(key, value) for key, value in parse_qsl(parts.query, keep_blank_values=True) if key != "extra"]
    return urlunsplit(parts._replace(query=urlencode(query)))


# The mobile API --------------------------------------------------------------------------
# ``api/mobile/index.php?version=4&module=viewthread&tid=N&page=M`` (and ``module=forumdisplay
# &fid=N&page=M``, ``module=forumindex``) sits at the forum's root like forum.php, so its URLs
# belong to the same site (site_of already stops at ``api/mobile/``).

API_SCRIPT = "api/mobile/index.php"
API_VERSION = "4"


def site_root_url(url: str) -> str:
    """The forum's root as a URL, from any of its URLs: ``scheme://host[:port]/path/``
    (``https://example.com/bbs/`` for ``https://example.com/bbs/thread-1-1-1.html``).
    A root given without its final slash (``https://example.com/bbs``) reads as a page of
    ``https://example.com/``."""
    return f"{urlsplit(url).scheme}://{site_of(url)}/"


def api_thread_url(site_base_url: str, tid: int, page: int = 1) -> str:
    """The mobile API's page ``page`` of thread ``tid``. The page is always named, page 1 too
    (the form the sample forum saved). ``site_base_url``: the site's root, or any of its URLs."""
    return _api_url(site_base_url, f"module=viewthread&tid={tid}&page={max(page, 1)}")


def api_forum_url(site_base_url: str, fid: int, page: int = 1) -> str:
    """The mobile API's page ``page`` of forum ``fid``'s thread list (page 1 without ``page``)."""
    return _api_url(site_base_url, f"module=forumdisplay&fid={fid}" + (f"&page={page}" if page > 1 else ""))


def api_index_url(site_base_url: str) -> str:
    """The mobile API's forum index: every category and forum."""
    return _api_url(site_base_url, "module=forumindex")


def api_module(url: str) -> str | None:
    """``viewthread``, ``forumdisplay``, ``forumindex``…: what a mobile API URL asks for;
    None for a URL that is not the API's."""
    parts = urlsplit(url)
    if not parts.path.endswith("/" + API_SCRIPT):
        return None
    return (parse_qs(parts.query).get("module") or [""])[0] or None


def api_page_url(url: str, page: int) -> str:
    """The same API list's page ``page``, keeping the URL's other parameters (``version``,
    a ``ppp``/``tpp`` override): a thread's page is always named, a forum's page 1 is not."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    named = api_module(url) == "viewthread" or page > 1
    pairs, done = [], False
    for key, value in query:
        if key != "page":
            pairs.append((key, value))
        elif named and not done:
            pairs.append(("page", str(page)))
            done = True
    if named and not done:
        pairs.append(("page", str(page)))
    return urlunsplit(parts._replace(query=urlencode(pairs), fragment=""))


def _api_url(site_base_url: str, query: str) -> str:
    return f"{site_root_url(site_base_url)}{API_SCRIPT}?version={API_VERSION}&{query}"


def absolute_url(base_url: str, href: str | None) -> str | None:
    """``href`` resolved against ``base_url`` (empty: only checked), or None when it is no URL
    at all: urllib raises on some (``http://[``), and one broken link must cost that link only."""
    # Plain strings into the cache: lxml's "smart" strings keep their whole tree alive.
    return _absolute_url(str(base_url), None if href is None else str(href))


# Remembered: a page names the same few addresses over and over (an attachment's link, its
# image, its tip), and urljoin is the dearest call a post's links make.
@functools.lru_cache(maxsize=4096)
def _absolute_url(base_url: str, href: str | None) -> str | None:
    try:
        url = urljoin(base_url, (href or "").strip())
        urlsplit(url)  # urljoin returns an href unparsed when the base is empty
    except ValueError:
        return None
    return url


def forum_ref_at(base_url: str, href: str | None) -> ForumRef | None:
    """The forum a link points at; None for none, or for an href that is no URL."""
    url = absolute_url(base_url, href)
    return forum_ref(url) if url else None
