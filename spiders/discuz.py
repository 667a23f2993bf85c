"""The ``discuz`` spider: which thread pages to fetch next, nothing else.

Parsing lives in ``scraper`` (pure functions), storage in ``pipelines``. Every response
becomes one FetchedPage item, failures included, so the archive records what happened to
each URL.
"""

from __future__ import annotations

import contextlib
import hashlib
from datetime import datetime, timezone
from urllib.parse import urlsplit

import scrapy
from scrapy import signals
from scrapy.http import Response
from twisted.python.failure import Failure

from scraper.discuz import PageProblem, parse_thread_html
from scraper.encoding import decode_html
from scraper.models import FetchedPage
from scraper.urls import desktop_thread_url, site_of, split_urls, thread_ref


# Error answers reach the callback (redirects still followed), so each is recorded with its page.
ERROR_STATUSES = list(range(400, 600))
SAMPLE_PORT = 8080


class DiscuzSpider(scrapy.Spider):
    """Archive Discuz threads: every page of each thread given.

    Example:

        scrapy crawl discuz -a url=https://bbs.example.com/thread-123-1-1.html
        scrapy crawl discuz -a url="URL1, URL2" -s ARCHIVE_DB=forum.db
        scrapy crawl discuz            # the bundled sample forum, served on 127.0.0.1

    Arguments: ``url`` — one or more thread URLs (commas or spaces between them) in any
    form Discuz uses: thread-TID-PAGE-1.html, forum.php?mod=viewthread&tid=TID[&page=N],
    viewthread.php?tid=TID (Discuz 7); archiver and mobile API URLs are read through the
    thread's desktop page.
    """

    name = "discuz"

    def __init__(self, url: str | None = None, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._servers = contextlib.ExitStack()
        if url:
            self.seeds = [desktop_thread_url(seed) for seed in split_urls(url)]
        else:
            self.seeds = self._serve_sample_forum()
        self.sites = {site_of(seed) for seed in self.seeds}
        self.allowed_domains = sorted({_host(seed) for seed in self.seeds})
        self._requested: set[tuple[str, int, int]] = set()

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider._servers.close, signal=signals.spider_closed)
        return spider

    def _serve_sample_forum(self) -> list[str]:
        """No URL given: serve the bundled sample forum on 127.0.0.1 and crawl its threads."""
        from sample_forum import serve

        try:  # the snapshot's own address, so re-runs archive into the same site key
            forum = self._servers.enter_context(serve("v1", SAMPLE_PORT))
        except OSError:
            forum = self._servers.enter_context(serve("v1", 0))
            self.logger.warning("Port %s is busy: the sample forum gets another port (and site key)", SAMPLE_PORT)
        self.logger.info("No url given: crawling the bundled sample forum at %s", forum.base_url)
        self.download_delay = 0  # our own server: no need to wait between requests
        return forum.thread_urls()

    async def start(self):
        for seed in self.seeds:
            ref = thread_ref(seed)
            if ref is None:
                self.logger.error(
                    "Not a thread URL, skipped: %s (give thread-TID-PAGE-1.html, "
                    "forum.php?mod=viewthread&tid=TID or viewthread.php?tid=TID)",
                    seed,
                )
                self.crawler.stats.inc_value("archive/skipped_seeds")
                continue
            request = self._thread_request(seed, ref.tid, ref.page, posts_per_page=None)
            if request is not None:
                yield request

    def parse_thread(self, response: Response, tid: int, page: int, posts_per_page: int | None):
        fetched = _fetched_page(response)
        try:
            decoded = decode_html(response.body, _content_type(response))
            fetched.charset = decoded.charset
            if decoded.mismatch:
                fetched.declared_charset = decoded.declared
                self.logger.warning(
                    "%s declares %s but its bytes are %s; decoded as %s",
                    response.url, decoded.declared, decoded.charset, decoded.charset,
                )
            thread = parse_thread_html(
                decoded.text,
                response.url,
                fetched_at=datetime.fromisoformat(fetched.fetched_at),
                utc_offset=self.settings.get("DISCUZ_UTC_OFFSET") or None,
                posts_per_page=posts_per_page,
            )
        except PageProblem as problem:
            fetched.kind = problem.kind
            fetched.error = _with_status(response.status, problem.message)
            self.logger.warning("%s: %s (%s)", response.url, fetched.error, problem.kind)
            self.crawler.stats.inc_value(f"archive/problems/{problem.kind}")
            yield fetched
            return
        except Exception as exc:  # one bad page costs that page only, never the crawl
            fetched.kind = "parse_error"
            fetched.error = f"{type(exc).__name__}: {exc}"
            self.logger.exception("Could not parse %s", response.url)
            self.crawler.stats.inc_value("archive/problems/parse_error")
            yield fetched
            return

        if response.status >= 400:
            fetched.error = _with_status(response.status, "the server answered with an error")
        fetched.thread = thread
        self.logger.info(
            "Thread %s page %s/%s: %s posts (%s)",
            thread.tid, thread.page, thread.page_count, len(thread.posts), thread.title,
        )
        yield fetched

        if thread.page == 1 and thread.page_count > 1:
            posts_per_page = len(thread.posts)
        for number, url in sorted(thread.page_urls.items()):
            if number <= thread.page_count:
                request = self._thread_request(url, tid, number, posts_per_page)
                if request is not None:
                    yield request

    def network_error(self, failure: Failure):
        """A request that got no response at all: timeout, refused, DNS. Recorded, not raised."""
        request = failure.request
        self.logger.error("No response from %s: %s", request.url, failure.getErrorMessage())
        self.crawler.stats.inc_value("archive/problems/network")
        yield FetchedPage(
            url=request.url,
            site=site_of(request.url),
            kind="network",
            status=0,
            fetched_at=_now(),
            size=0,
            sha256="",
            error=f"{failure.type.__name__}: {failure.getErrorMessage()}",
        )

    def _thread_request(self, url: str, tid: int, page: int, posts_per_page: int | None):
        """A request for one thread page, once per (site, tid, page), never off the seeds' sites."""
        site = site_of(url)
        if site not in self.sites:
            self.logger.debug("Not following %s: another site", url)
            return None
        key = (site, tid, page)
        if key in self._requested:
            return None
        self._requested.add(key)
        return scrapy.Request(
            url,
            callback=self.parse_thread,
            errback=self.network_error,
            cb_kwargs={"tid": tid, "page": page, "posts_per_page": posts_per_page},
            meta={"handle_httpstatus_list": ERROR_STATUSES},  # recorded, not dropped
            dont_filter=True,  # (site, tid, page) is the identity, not the URL's spelling
        )


def _fetched_page(response: Response) -> FetchedPage:
    return FetchedPage(
        url=response.url,
        site=site_of(response.url),
        kind="thread",
        status=response.status,
        fetched_at=_now(),
        size=len(response.body),
        sha256=hashlib.sha256(response.body).hexdigest(),
    )


def _content_type(response: Response) -> str | None:
    value = response.headers.get(b"Content-Type")
    return value.decode("latin-1") if value else None


def _with_status(status: int, message: str) -> str:
    return f"HTTP {status}: {message}" if status >= 400 else message


def _host(url: str) -> str:
    return urlsplit(url).hostname or ""


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()
