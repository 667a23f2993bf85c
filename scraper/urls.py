"""Discuz URL forms: which thread and page a URL names, and which site it belongs to.

Thread pages come as ``thread-TID-PAGE-1.html`` (rewrite), ``forum.php?mod=viewthread&tid=TID
&page=N`` (X2/X3), ``viewthread.php?tid=TID&page=N`` (Discuz 7), ``archiver/?tid-TID.html``
and the mobile API ``api/mobile/index.php?module=viewthread&tid=TID&page=N``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

_REWRITE_THREAD = re.compile(r"(?:^|/)thread-(\d+)-(\d+)-\d+\.html$")
_ARCHIVER_THREAD = re.compile(r"tid-(\d+)(?:-page-(\d+))?\.html")
# Scripts and folders that sit at the forum's root; what comes before them is the site's path.
_ROOT_MARKERS = re.compile(
    r"/(?:archiver/|api/mobile/|[\w-]+\.php$|(?:thread|forum|space|group|article|blog)-[\w-]+\.html$)"
)


@dataclass(frozen=True)
class ThreadRef:
    tid: int
    page: int = 1


def thread_ref(url: str) -> ThreadRef | None:
    """The thread (and page) a URL names, or None when it names none."""
    parts = urlsplit(url)
    if match := _REWRITE_THREAD.search(parts.path):
        return ThreadRef(int(match[1]), int(match[2]))
    query = parse_qs(parts.query)
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
    if viewthread and tid.isdigit():
        page = (query.get("page") or ["1"])[0]
        return ThreadRef(int(tid), int(page) if page.isdigit() and int(page) > 0 else 1)
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

