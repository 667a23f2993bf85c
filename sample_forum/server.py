"""Serve a bundled Discuz! X3.5 snapshot over HTTP on 127.0.0.1, fully offline.

Why: `scrapy crawl discuz` with no URL, and the end-to-end tests, need a real forum
to crawl without touching the network. The pages were saved from a forum that ran
at http://127.0.0.1:8080/ (another snapshot says where it ran: ``saved_at``), so that
absolute base is rewritten to wherever this server really listens (port 0 picks a free
port, so tests never collide).

Any snapshot directory with a URLS.tsv (url, file, status, content_type, location) serves:
a directory holding only the files that changed since another snapshot names that one as
its ``fallback`` for the rest. ``charset`` serves the UTF-8 pages re-encoded (e.g. gbk), as a
forum installed in that charset sends them; ``dynamic`` serves a forum saved with URL rewriting
on as one with it off: its links in dynamic form (forum.php?mod=viewthread&tid=…), and those
answered from the rewritten pages. ``posts_per_page``, ``threads_per_page``, ``raters_shown``
and ``date_format`` serve the forum as Discuz renders it with other settings
(sample_forum.pagination, .listing_pages, .ratelog and .dateformat say what each changes).
"""

import csv
import re
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlencode

from sample_forum.dateformat import reformat
from sample_forum.listing_pages import listing_page
from sample_forum.pagination import thread_page
from sample_forum.ratelog import fewer_raters, viewratings_page

HOST = "127.0.0.1"
HERE = Path(__file__).resolve().parent
VERSIONS = ("v1", "v2")
SNAPSHOT_BASE = "http://127.0.0.1:8080/"
THREAD_FIRST_PAGE = re.compile(r"thread-(\d+)-1-1\.html")
THREAD_PAGE = re.compile(r"thread-(\d+)-(\d+)-\d+\.html")
FORUM_PAGE = re.compile(r"forum-(\d+)-(\d+)\.html")
# the snapshot's file name of a post's viewratings ajax answer (its README: "?" becomes "@")
VIEWRATINGS_ANSWER = "forum.php@mod=misc&action=viewratings&tid={}&pid={}&infloat=yes&handlekey=viewratings&inajax=1&ajaxtarget=fwin_content_viewratings.html"
NOT_FOUND = b"<!DOCTYPE html><html><body><h1>404 Not Found</h1><p>Not in this snapshot.</p></body></html>"


def url_key(target, drop=()):
    """Lookup key for a request target: no leading '/', query params sorted, `drop` params removed.

    Sorting makes parameter order irrelevant, as it is to Discuz itself.
    """
    path, _, query = target.lstrip("/").partition("?")
    params = sorted((k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k not in drop)
    return unquote(path) + ("?" + urlencode(params) if params else "")


@dataclass(frozen=True)
class Page:
    """One saved response: what URLS.tsv says about it, and where its body is."""

    status: int
    content_type: str
    location: str
    file: Path


class Snapshot:
    """One snapshot directory (v1/, v2/), indexed by its URLS.tsv; the files it lacks are
    ``fallback``'s (directories holding the same snapshot's other files)."""

    def __init__(self, directory, fallback=None):
        self.directory = Path(directory)
        self.fallback = fallback
        with open(self.directory / "URLS.tsv", encoding="utf-8", newline="") as f:
            rows = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
            self.pages = {
                url_key(r["url"]): Page(int(r["status"]), r["content_type"], r["location"], self._file(r["file"], fallback))
                for r in rows
            }
        self.pages.setdefault("robots.txt", Page(200, "text/plain", "", self._file("robots.txt", fallback)))

    def saved(self, name):
        """A file of this snapshot by its file name (README: the URL, "?" as "@"), or None."""
        path = self._file(name, self.fallback)
        return path if path.exists() else None

    def _file(self, name, fallback):
        """The file in this directory, else in the first of ``fallback`` (a directory or a
        list of them, searched in order) that has it."""
        folders = [fallback] if isinstance(fallback, (str, Path)) else list(fallback or ())
        for folder in (self.directory, *map(Path, folders)):
            if (folder / name).exists():
                return folder / name
        return self.directory / name

    def find(self, target):
        """The Page for a request target, or None.

        Falls back to ignoring Discuz's `extra=` link parameter, and serves `/` and
        `/index.php` as forum.php (Discuz's own index does the same).
        """
        for key in (url_key(target), url_key(target, drop={"extra"})):
            path, sep, query = key.partition("?")
            if path in ("", "index.php") and key not in self.pages:
                key = "forum.php" + sep + query
            if key in self.pages:
                return self.pages[key]
        return None


def snapshot_dir(version):
    """A bundled version name ("v1", "v2") or a path to any snapshot directory."""
    return HERE / version if version in VERSIONS else Path(version)


class _Handler(BaseHTTPRequestHandler):
    """Answers GET/HEAD from the forum's current snapshot."""

    server_version = "SampleForum/1"

    def do_GET(self):
        self.server.forum._record(self.path)
        status, headers, body = self.server.forum.answer(self.path, self.headers)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_HEAD = do_GET

    def log_message(self, format, *args):
        """Quiet: no stderr line per request (tests and crawls make hundreds)."""


class SampleForum:
    """A local HTTP server for one snapshot, run in a daemon thread.

    `switch()` swaps the snapshot under the running server, so one base URL can be
    crawled as v1 and then re-crawled as v2. `requests` lists the request paths
    received (e.g. "/thread-1-2-1.html"), so tests can count fetches.
    """

    def __init__(self, version="v1", port=0, saved_at=SNAPSHOT_BASE, fallback=None, charset=None, dynamic=False,
                 posts_per_page=None, threads_per_page=None, raters_shown=None, date_format=None, ranges=None):
        self.saved_at = saved_at
        self.ranges = ranges
        self.charset = charset
        self.dynamic = dynamic
        self.posts_per_page = posts_per_page
        self.threads_per_page = threads_per_page
        self.raters_shown = raters_shown
        self.date_format = date_format  # (dateformat, timeformat), e.g. ("Y/n/j", "h:i A")
        self._snapshot = Snapshot(snapshot_dir(version), fallback)
        self._lock = threading.Lock()
        self._requests = []
        self._httpd = ThreadingHTTPServer((HOST, port), _Handler)
        self._httpd.forum = self
        self.port = self._httpd.server_address[1]
        self.base_url = f"http://{HOST}:{self.port}/"
        self._thread = None

    @property
    def version(self):
        """Name of the snapshot directory being served ("v1" or "v2")."""
        return self._snapshot.directory.name

    @property
    def requests(self):
        """Copy of the request paths received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def clear_requests(self):
        """Forget the requests seen so far (e.g. between a crawl and a re-crawl)."""
        with self._lock:
            self._requests.clear()

    def _record(self, path):
        with self._lock:
            self._requests.append(path)

    def thread_urls(self):
        """Absolute first-page URL of every thread the current snapshot has (status 200), by tid.

        The seeds for a crawl of the whole sample forum (`scrapy crawl discuz` with no URL).
        """
        pages = self._snapshot.pages.items()
        tids = sorted(int(m[1]) for key, page in pages if page.status == 200 and (m := THREAD_FIRST_PAGE.fullmatch(key)))
        return [f"{self.base_url}thread-{tid}-1-1.html" for tid in tids]

    def switch(self, version, fallback=None):
        """Serve another snapshot from now on; the port and base URL stay the same."""
        self._snapshot = Snapshot(snapshot_dir(version), fallback)

    def respond(self, target):
        """(status, headers, body) for a request target such as "/forum.php?mod=viewthread&tid=1"."""
        wanted = _rewritten(target) if self.dynamic else target
        page = self._snapshot.find(wanted)
        made = self._made(url_key(wanted), page)
        if page is None and made is None:
            return 404, {"Content-Type": "text/html; charset=utf-8", "Content-Length": str(len(NOT_FOUND))}, NOT_FOUND
        page, body = made or (page, page.file.read_bytes())
        content_type = page.content_type
        if content_type.startswith("text/") and (self.raters_shown or self.date_format):
            body = self._with_settings(url_key(wanted), body.decode("utf-8", "surrogateescape"))
        body = self._rebase(body, content_type)
        if self.dynamic and content_type.startswith("text/"):
            body = _REWRITTEN_LINK.sub(_dynamic_link, body)
        if self.charset and content_type.startswith("text/") and "charset=utf-8" in content_type.lower():
            body, content_type = _transcode(body, content_type, self.charset)
        headers = {"Content-Type": content_type, "Content-Length": str(len(body))}
        if page.location:
            headers["Location"] = page.location.replace(self.saved_at, self.base_url)
        return page.status, headers, body

    def _made(self, key, page):
        """(Page, body) of a page these settings render otherwise than the snapshot saved it
        and make from its pages: a thread page with posts_per_page, a thread list page with
        threads_per_page, a viewratings page the snapshot lacks with raters_shown. None for the others."""
        pages = self._snapshot.pages
        for pattern, per_page, name, render in (
            (FORUM_PAGE, self.threads_per_page, "forum-{}-{}.html", listing_page),
            (THREAD_PAGE, self.posts_per_page, "thread-{}-{}-1.html", thread_page),
        ):
            if per_page and (found := pattern.fullmatch(key)):
                number, saved = int(found[1]), []
                while (one := pages.get(name.format(number, len(saved) + 1))) and one.status == 200:
                    saved.append(one.file.read_bytes().decode("utf-8"))
                if saved:
                    text = render(saved, number, int(found[2]), per_page)
                    return pages[name.format(number, 1)], text.encode("utf-8")
        params = dict(parse_qsl(key.partition("?")[2]))
        if self.raters_shown and page is None and params.get("action") == "viewratings" and "inajax" not in params:
            tid, pid = params.get("tid"), params.get("pid")
            template = next((p for k, p in pages.items() if "action=viewratings" in k and "inajax" not in k), None)
            answer = self._ratings_answer(tid, pid)
            thread = pages.get(f"thread-{tid}-1-1.html")
            if template and answer and thread:
                template_text, thread_text = (p.file.read_bytes().decode("utf-8") for p in (template, thread))
                text = viewratings_page(template_text, answer, thread_text)
                return template, text.encode("utf-8")
        return None

    def _with_settings(self, key, text):
        """A saved page's text as these settings render it: fewer raters shown, other date formats."""
        if self.raters_shown and (thread := THREAD_PAGE.fullmatch(key)):
            text = fewer_raters(text, self.raters_shown, lambda pid: self._ratings_answer(thread[1], pid))
        if self.date_format:
            text = reformat(text, *self.date_format)
        return text.encode("utf-8", "surrogateescape")

    def _ratings_answer(self, tid, pid):
        """The text of a post's viewratings ajax answer, or '' when the snapshot lacks it."""
        answer = self._snapshot.saved(VIEWRATINGS_ANSWER.format(tid, pid))
        return answer.read_bytes().decode("utf-8") if answer else ""

    def answer(self, target, headers):
        """respond()'s answer to a request with these headers: a file (not a page) cut to the
        request's Range when ``ranges`` is "bytes" (as a web server serves a static file) or
        "start" (as Discuz's attachment module does: from the Range's start to the end);
        whole when ``ranges`` is None, as Discuz's default attachment read mode does."""
        status, response_headers, body = self.respond(target)
        asked = _RANGE.match(headers.get("Range") or "")
        kind = response_headers.get("Content-Type", "")
        if not (self.ranges and asked and status == 200) or kind.startswith(("text/", "application/json")):
            return status, response_headers, body
        start, total = int(asked[1]), len(body)
        if start >= total:
            return 416, {"Content-Range": f"bytes */{total}", "Content-Length": "0"}, b""
        end = min(int(asked[2]) if asked[2] and self.ranges == "bytes" else total - 1, total - 1)
        sep = " " if self.ranges == "bytes" else "="  # Discuz writes "bytes=a-b/total"
        response_headers = response_headers | {"Content-Range": f"bytes{sep}{start}-{end}/{total}", "Content-Length": str(end - start + 1)}
        return 206, response_headers, body[start : end + 1]

    def _rebase(self, body, content_type):
        """Point absolute links at this server: plain, and JSON-escaped ("http:\\/\\/…") in the API files."""
        if self.base_url == self.saved_at or not content_type.startswith(("text/", "application/json")):
            return body
        saved = self.saved_at
        for old, new in ((saved, self.base_url), (saved.replace("/", "\\/"), self.base_url.replace("/", "\\/"))):
            body = body.replace(old.encode(), new.encode())
        return body

    def start(self):
        """Start serving in a daemon thread; returns self."""
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), name=f"sample-forum:{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self):
        """Stop serving and free the port."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def serve(version="v1", port=0, **options):
    """`with serve("v1") as forum:` runs a SampleForum at forum.base_url until the block ends;
    ``options`` are SampleForum's (saved_at, fallback, charset, dynamic, posts_per_page,
    threads_per_page, raters_shown, date_format)."""
    return SampleForum(version, port, **options)


_RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")
_CHARSET_NAMES = re.compile(rb"charset=[\"']?utf-8|encoding=[\"']utf-8", re.IGNORECASE)


def _transcode(body, content_type, charset):
    """A UTF-8 page as a forum installed in ``charset`` sends it: its bytes, its meta tag or
    XML declaration, and its Content-Type name that charset. What the charset cannot hold
    becomes an HTML character reference, as the browser would submit it."""
    text = body.decode("utf-8", errors="replace")
    body = text.encode(charset, errors="xmlcharrefreplace")
    body = _CHARSET_NAMES.sub(lambda m: m[0][: -len("utf-8")] + charset.encode(), body)
    return body, re.sub("utf-8", charset, content_type, flags=re.IGNORECASE)


# Discuz's rewritten URLs (rewrite rules forum_viewthread, forum_forumdisplay, portal_article,
# home_space) and the dynamic forms they stand for.
_REWRITTEN_LINK = re.compile(rb"(?<=[\"'/])(thread|forum|article|space)-(uid-)?(\d+)(?:-(\d+))?(?:-\d+)?\.html")
_DYNAMIC = {
    b"thread": b"forum.php?mod=viewthread&amp;tid=%s&amp;page=%s",
    b"forum": b"forum.php?mod=forumdisplay&amp;fid=%s&amp;page=%s",
    b"article": b"portal.php?mod=view&amp;aid=%s&amp;page=%s",
}
_DYNAMIC_TARGET = {  # (script, mod): (the id's parameter, the rewritten form)
    ("forum.php", "viewthread"): ("tid", "/thread-{}-{}-1.html"),
    ("forum.php", "forumdisplay"): ("fid", "/forum-{}-{}.html"),
    ("portal.php", "view"): ("aid", "/article-{}-{}.html"),
}


def _dynamic_link(match):
    kind, uid, number, page = match[1], match[2], match[3], match[4] or b"1"
    if kind == b"space" or uid:
        return b"home.php?mod=space&amp;uid=" + number
    return _DYNAMIC[kind] % (number, page)


def _rewritten(target):
    """The rewritten page a dynamic request stands for (its other parameters dropped)."""
    path, _, query = target.lstrip("/").partition("?")
    params = dict(parse_qsl(query))
    if (path, params.get("mod")) == ("home.php", "space") and "uid" in params and "do" not in params:
        return f"/space-uid-{params['uid']}.html"
    name, form = _DYNAMIC_TARGET.get((path, params.get("mod")), (None, None))
    if name in params and params.get("action") is None:
        return form.format(params[name], params.get("page", "1"))
    return target
