"""The ``discuz`` spider: which pages to fetch next, nothing else.

Parsing lives in ``scraper`` (pure functions), storage in ``pipelines``. Every response
becomes one FetchedPage item, failures included, so the archive records what happened to
each URL. What is already archived (``pipelines.state``) decides what a re-crawl fetches:
an unchanged thread costs no request, a changed one is fetched from the page that holds its
first post not yet archived.

Each callback awaits the reading of its page by the crawl's page reader (pipelines.reader):
storage's component decides where pages are read and whether their bytes are kept.

What the spider works with is given to it, and it asks nothing about where it comes from:
``seeds`` (its ``url`` argument, or a component's: spiders.sample serves the bundled forum when
there is none), ``state`` (what is archived), ``tracker`` (which pages this crawl asked for) and
``sites`` (where it may go). They are the archive file's and this process's unless a component
replaces them before the crawl starts, as the distributed crawl's does (spiders.distributed).
"""

from __future__ import annotations

import inspect
import logging
from collections import Counter
from urllib.parse import urlsplit

import scrapy
from scrapy import signals
from scrapy.http import Response
from twisted.python.failure import Failure

from pipelines.reader import page_reader
from pipelines.refusals import refusal_of
from pipelines.state import ArchiveState, StoredThread
from scraper.cookies import cookie_header
from scraper.dates import utc_now_iso
from scraper.kinds import PageKind
from scraper.models import FetchedPage, ForumWalked
from scraper.portal import is_portal_url
from scraper.urls import (
    api_forum_url,
    api_index_url,
    api_module,
    api_thread_url,
    forum_ref,
    guide_view,
    is_index_url,
    site_of,
    thread_page_url,
    thread_ref,
)
from spiders import arguments
from spiders.extras import ExtrasRouting
from spiders.fetched import fetched_page
from spiders.guide import GuideRouting
from spiders.refusals import robots_summary
from spiders.schedule import Scheduling
from spiders.tracking import ThreadTask, ThreadTracker

# Error answers reach the callback (redirects still followed), so each is recorded with its page.
ERROR_STATUSES = list(range(400, 600))
READ_AS = "read_as"  # request.meta of a thread's first page asked: new, changed or refreshed (the summary's)


class DiscuzSpider(Scheduling, GuideRouting, ExtrasRouting, scrapy.Spider):
    """Archive Discuz forums: threads, forums, or a whole site; re-runs fetch only what changed.

    Example:

        scrapy crawl discuz -a url=https://bbs.example.com/                  # the whole site
        scrapy crawl discuz -a url=https://bbs.example.com/forum-2-1.html    # one forum
        scrapy crawl discuz -a url=https://bbs.example.com/thread-123-1-1.html -s ARCHIVE_DB=x.db
        scrapy crawl discuz            # the bundled sample forum, served on 127.0.0.1

    Arguments:
      url          thread, forum listing, guide, category, index, portal article or portal list
                   URLs (commas or spaces between)
      forums       only these forum ids, e.g. 2,5
      max_threads  fetch at most this many threads (new, changed or refreshed) this run; a forum
                   whose list the limit cut short is walked on by the next runs
      since        only threads with activity since this date in the forum's time, e.g. 2024-01-01;
                   the next run without it reaches the older threads
      refresh      also re-read threads whose listing did not change: all (and walk every list
                   page), recent:DAYS (threads active in those days), oldest:N (the N read longest ago)
      cookies      a cookies.txt file (Netscape format, as browsers' export tools write it) for
                   member-only boards; its cookies go to the forum only, never to the archive or logs
      source       pages (default): the forum's HTML pages; api: Discuz's mobile API (JSON), where
                   the site enables it (its robots.txt usually disallows /api/: see README)
      profiles     a selector profiles file for modified themes (docs/profiles.md); the setting
                   DISCUZ_PROFILES gives one for every crawl
      user_profiles  1: also read the profile page of every member the archive has none for
      media        images, attachments or all: also keep those files in the media store
                   (pipelines.media; the setting ARCHIVE_MEDIA gives it for every crawl)
    """

    name = "discuz"

    def __init__(
        self,
        url: str | None = None,
        forums: str | None = None,
        max_threads: str | None = None,
        since: str | None = None,
        refresh: str | None = None,
        cookies: str | None = None,
        source: str = "pages",
        profiles: str | None = None,
        user_profiles: str | None = None,
        media: str | None = None,
        *args,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.arguments = {
            key: value
            for key, value in dict(
                url=url, forums=forums, max_threads=max_threads, since=since, refresh=refresh, cookies=cookies,
                source=source if source != "pages" else None, profiles=profiles, user_profiles=user_profiles,
                media=media,
            ).items()
            if value is not None
        }
        self.set_seeds(arguments.seeds(url))
        self.take_arguments(self.arguments)
        self.cookies = arguments.load_cookies(cookies) if cookies else None
        self.profiles = arguments.load_profiles(profiles) if profiles else ()
        self.media = arguments.media(media)  # for the media store (pipelines.media)
        self._extras_init()
        self.tracker = ThreadTracker()
        self._walk_started: dict[tuple[str, int], str] = {}
        self._walk_may_stop: dict[tuple[str, int], bool] = {}
        self._refreshed: dict[str, list[StoredThread]] = {}  # site -> the threads the refresh re-reads
        self._listing_left: dict[tuple[str, int], int] = {}  # for the progress line
        self._robots_refused: Counter[str] = Counter()  # asked_as -> follow-up pages robots.txt forbade
        self.state: ArchiveState | None = None

    @classmethod
    def check_arguments(cls, given: dict[str, str]) -> None:
        """By the crawl command, before anything starts: a name this spider does not take (a
        typo would otherwise be ignored), then each value (spiders.arguments.check)."""
        names = [name for name in inspect.signature(cls.__init__).parameters if name not in ("self", "args", "kwargs")]
        for name in given:
            if name not in names:
                raise arguments.ArgumentError(f"{name}= is not an argument of this spider: it takes {', '.join(names)}")
        arguments.check(given)
    # What decides which pages the crawl asks for: a distributed crawl's workers all take the
    # seeding worker's (spiders.distributed), so the fleet keeps one crawl's rules.
    CRAWL_ARGUMENTS = ("forums", "max_threads", "since", "refresh", "source", "user_profiles")

    def take_arguments(self, given: dict[str, str]) -> None:
        """The CRAWL_ARGUMENTS among ``given``, as values; those not given are their defaults."""
        self.forums = arguments.forum_ids(given.get("forums"))
        self.max_threads = arguments.max_threads(given.get("max_threads"))
        self.since = arguments.since_date(given.get("since"))
        self.refresh = arguments.refresh(given.get("refresh"))
        self.source = arguments.source(given.get("source", "pages"))
        self.user_profiles = arguments.flag("user_profiles", given.get("user_profiles"))

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider._closed, signal=signals.spider_closed)
        settings = crawler.settings
        if not spider.profiles and settings.get("DISCUZ_PROFILES"):
            spider.profiles = arguments.load_profiles(settings["DISCUZ_PROFILES"])
        spider.state = ArchiveState(settings.get("ARCHIVE_DB"))
        return spider

    def set_seeds(self, urls: list[str]) -> None:
        """The URLs the crawl starts from; it stays on their sites."""
        self.seeds = urls
        self.sites = {site_of(seed) for seed in urls}
        self.allowed_domains = sorted({urlsplit(seed).hostname or "" for seed in urls})

    def _closed(self):
        if summary := robots_summary(self._robots_refused):
            self.logger.warning(summary)
        if self.state is not None:
            self.state.close()

    # -- what to fetch first (a distributed worker without seeds takes its work from Redis) --

    async def start(self):
        walked_sites, seen_sites = set(), {}
        for seed in self.seeds:
            site = site_of(seed)
            seen_sites.setdefault(site, seed)
            if ref := thread_ref(seed):
                if request := self._seed_thread_request(seed, site, ref):
                    yield request
            elif forum := forum_ref(seed):
                walked_sites.add(site)
                if request := self._forum_request(seed, site, forum.fid, forum.page):
                    yield request
            elif guide_view(seed):
                if request := self._guide_request(seed, site, 1):
                    yield request
            elif is_index_url(seed):
                walked_sites.add(site)
                yield self._index_request(seed)
                if request := self.portal_start(seed, site):
                    yield request
            elif is_portal_url(seed):
                if request := self.portal_seed(seed, site):
                    yield request
            else:
                self.logger.error("Not a Discuz URL we know, skipped: %s (give %s)", seed, arguments.SEED_KINDS)
                self.crawler.stats.inc_value("archive/skipped_seeds")
        for site in walked_sites:
            for request in self._from_the_archive(site):
                yield request
        for site, seed in seen_sites.items():
            for request in self.extras_from_the_archive(site, seed):
                yield request

    # -- callbacks -------------------------------------------------------------------------

    async def parse_index(self, response: Response):
        fetched, index = await self._read(response, PageKind.INDEX)
        yield fetched
        if index is None:
            return
        lists_forums = any(not link.is_category for link in index.forums)
        for link in index.forums:
            if link.is_category:
                if not lists_forums:  # a collapsed index: its categories list the forums
                    yield self._index_request(link.url)
            elif self.forums is None or link.fid in self.forums:
                if request := self._forum_request(link.url, index.site, link.fid, 1):
                    yield request

    async def parse_forum(self, response: Response, fid: int, page: int):
        """One page of a thread list, newest activity first: schedule what changed, and walk on
        until the first thread (not pinned) that the archive already holds as it is. Only
        refresh=all, or a walk an earlier run left open, walks the whole list. A limit
        (max_threads, since) that stops the walk leaves it open for the next runs."""
        walk = (site_of(response.url), fid)
        if walk not in self._walk_may_stop:  # asked before archiving the walk's first page marks it started
            self._walk_may_stop[walk] = not self.refresh_all and not self.state.forum_walk_was_cut_short(*walk)
        fetched, forum = await self._read(response, PageKind.FORUM, profiles=self.profiles)
        yield fetched
        if forum is None:
            return
        site, stats = forum.site, self.crawler.stats
        key = (site, forum.fid)
        started = self._walk_started.setdefault(key, fetched.fetched_at)
        may_stop = self._walk_may_stop[walk]

        for link in forum.subforums:
            if self.forums is None or link.fid in self.forums:
                if request := self._forum_request(link.url, site, link.fid, 1):
                    yield request

        # Every row of a fetched page is looked at (that costs nothing); the walk goes on to the
        # next page unless a row shows the rest is older than what the archive holds, or a
        # limit says this run goes no further.
        stop, limits = False, set()
        to_refresh = self._to_refresh(site)
        for row in forum.threads:
            stored = self.state.thread(site, row.tid)
            unchanged = stored is not None and stored.unchanged(row.replies, row.last_post_at)
            if self.since and not row.sticky and row.last_post_at and arguments.before(row.last_post_at, self.since):
                # an older thread the archive holds as listed was cut by nothing: the walk stays
                # closed (a complete archive crawled with since= reported open walks every run)
                if not unchanged:
                    limits.add("since")
                stop = stop or (unchanged and may_stop)
                continue
            whole = self.refresh_all or row.tid in to_refresh
            if unchanged:
                stop = stop or (not row.sticky and may_stop)
                if not whole:
                    stats.inc_value("archive/requests_saved", stored.page_count or 1)
                    continue
            if self._limit_reached():
                limits.add("max_threads")
                continue
            if request := self._listed_thread_request(site, row, stored, whole):
                yield request
            elif self._limit_reached():  # another worker of the fleet took the last thread
                limits.add("max_threads")
        stop = stop or bool(limits)

        self._listing_left[key] = 0 if stop else forum.page_count - forum.page
        stats.set_value("archive/listing_pages_left", sum(self._listing_left.values()))
        if not stop and forum.page < forum.page_count:
            next_url = forum.page_urls.get(forum.page + 1)
            if next_url and (request := self._forum_request(next_url, site, forum.fid, forum.page + 1)):
                yield request
                return
        if stop:
            stats.inc_value("archive/requests_saved", forum.page_count - forum.page)
        open_because = ", ".join(sorted(limits)) if limits and forum.page < forum.page_count else None
        if open_because:
            self.logger.info("The walk of forum %s stops at list page %s of %s (%s): the next runs go on", forum.fid,
                             forum.page, forum.page_count, open_because)
            stats.inc_value("archive/open_walks")
            for limit in limits:
                stats.inc_value(f"archive/open_walks/{limit}")
        yield ForumWalked(site, forum.fid, started, fetched.fetched_at, open_because=open_because)

    async def parse_thread(self, response: Response, tid: int, page: int, posts_per_page: int | None):
        fetched, thread = await self._read(
            response, PageKind.THREAD, tid=tid, posts_per_page=posts_per_page, profiles=self.profiles
        )
        site = fetched.site
        yield fetched
        if thread is not None:
            if thread.profile:
                self.crawler.stats.inc_value(f"archive/profiles/{thread.profile}")
            if why := response.meta.get(READ_AS):
                self.crawler.stats.inc_value(f"archive/threads/{why}")
            self.logger.debug(  # as Scrapy's own line of each page; the progress line says how far the crawl is
                "Thread %s page %s/%s: %s posts (%s)",
                thread.tid, thread.page, thread.page_count, len(thread.posts), thread.title,
            )
            if thread.page == 1 and thread.page_count > 1 and not thread.cut_short:
                posts_per_page = len(thread.posts)
            first_wanted = self.tracker.first_page(site, tid) or 1
            for number, url in sorted(thread.page_urls.items()):
                if first_wanted <= number <= thread.page_count:
                    if request := self._thread_page_request(url, site, tid, number, posts_per_page):
                        yield request
            for request in self.thread_followups(thread, fetched.fetched_at):
                yield request
        synced = self.tracker.page_done(
            site,
            tid,
            page,
            posts=thread.posts if thread else [],
            replies=thread.replies if thread and thread.page == 1 else None,
            failed=fetched.kind == PageKind.BROKEN or (thread is None and fetched.kind != PageKind.MISSING),
        )
        if synced:
            yield synced

    async def network_error(self, failure: Failure):
        """A request that got no response at all (timeout, refused, DNS), or that the archiver
        refused (pipelines.refusals: off the site, a private address, too large). Recorded, not
        raised, under the URL the spider asked for."""
        request = failure.request
        url = request.meta.get("redirect_urls", [request.url])[0]
        tid = request.cb_kwargs.get("tid")
        asked_as = request.meta.get("asked_as", "")
        if refused := refusal_of(failure):
            if once := refused.kind == PageKind.ROBOTS and asked_as:  # said once, at the end (robots_summary)
                self._robots_refused[asked_as] += 1
            self.logger.log(logging.DEBUG if once or refused.said_at_end else logging.WARNING, "Not archived: %s: %s (%s)", url, refused.message, refused.kind)
            kind, status, error = refused.kind, refused.status, refused.message
        else:
            self.logger.error("No response from %s: %s", request.url, failure.getErrorMessage())
            kind, status, error = PageKind.NETWORK, 0, f"{failure.type.__name__}: {failure.getErrorMessage()}"
        self._count_problem(kind, asked_as)
        if tid is not None and not asked_as:  # before the item: a distributed crawl lets go of the request with it
            self.tracker.page_done(site_of(url), tid, request.cb_kwargs["page"], failed=True)
        yield FetchedPage(
            url=url, site=site_of(url), kind=kind, status=status, fetched_at=utc_now_iso(), size=0, sha256="", error=error, tid=tid,
            asked_as=asked_as,
        )

    # -- helpers ------------------------------------------------------------------------

    async def _read(self, response: Response, kind: PageKind, tid: int | None = None, **parse_kwargs):
        """Read one page (decode, parse) into its FetchedPage, by the crawl's page reader; a
        problem or a crash is logged and counted, never raised.
        Returns the page's item, to yield, and what it holds (None when it holds nothing)."""
        fetched = fetched_page(response, self._asked_as(kind), tid=tid)
        read = page_reader(self.crawler)
        utc_offset = self.settings.get("DISCUZ_UTC_OFFSET") or None
        fetched, crash = await read(fetched, response.body, utc_offset=utc_offset, **parse_kwargs)
        if fetched.declared_charset:
            self.logger.warning("%s declares %s but its bytes are %s", response.url, fetched.declared_charset, fetched.charset)
        result = getattr(fetched, PageKind(fetched.asked_as).fills)
        if result is None and (crash is not None or fetched.error is not None):  # (no_portal: nothing wrong)
            if crash is not None:
                self.logger.error("Could not parse %s: %s", response.url, crash)
            else:
                self.logger.warning("%s: %s (%s)", response.url, fetched.error, fetched.kind)
            self._count_problem(fetched.kind, fetched.asked_as)
        elif fetched.kind == PageKind.BROKEN:  # cut short: what it holds is kept, and it is read again
            self.logger.warning("%s: %s (%s)", response.url, fetched.error, fetched.kind)
            self._count_problem(fetched.kind, fetched.asked_as)
        return fetched, result

    def _thread_request(
        self, url: str, site: str, tid: int, page: int, expected: tuple | None = None, archived: tuple | None = None,
        why: str | None = None,
    ):
        """Start a thread (once per crawl, within max_threads): ``page`` is where reading starts;
        ``expected`` is the (replies, last post time) the thread list showed, which it is
        archived as; ``why`` (new, changed, refreshed) is counted for the run's summary once
        that page is read (a thread whose page was refused or never answered was not read)."""
        if self._limit_reached() or site not in self.sites or not self.tracker.claim(("thread", site, tid)):
            return None
        page_url = api_thread_url(url, tid, page) if self.source == "api" else thread_page_url(url, page)
        if page_url is None:  # a URL form we cannot page: start where it points
            ref = thread_ref(url)
            page_url, page = url, ref.page if ref else 1
        if not self.tracker.start(ThreadTask(site, tid, first_page=page, expected=expected, archived=archived), self.max_threads):
            return None  # another worker of the fleet took the last thread max_threads allowed
        if page > 1:
            self.crawler.stats.inc_value("archive/requests_saved", page - 1)
        request = self._thread_page_request(page_url, site, tid, page, None)
        if request is not None and why:  # counted once its page is read (parse_thread)
            request.meta[READ_AS] = why
        return request

    def _thread_page_request(self, url: str, site: str, tid: int, page: int, posts_per_page: int | None):
        """A request for one thread page, once per (site, tid, page), never off the seeds' sites."""
        request = self._request(
            url, ("page", site, tid, page), self.parse_thread, tid=tid, page=page, posts_per_page=posts_per_page
        )
        if request is not None:
            self.tracker.page_asked(site, tid, page)
        return request

    def _forum_request(self, url: str, site: str, fid: int, page: int):
        if self.source == "api" and api_module(url) != "forumdisplay":
            url = api_forum_url(url, fid, page)
        return self._request(url, ("forum", site, fid, page), self.parse_forum, fid=fid, page=page)

    def _index_request(self, url: str):
        if self.source == "api":
            url = api_index_url(url)
        return self._request(url, ("index", url), self.parse_index)

    def _asked_as(self, kind: PageKind) -> PageKind:
        """Which parser reads the answer: the page's (thread, forum, index) or the API's."""
        api = self.source == "api" and kind in (PageKind.THREAD, PageKind.FORUM, PageKind.INDEX)
        return kind.through_api() if api else kind

    def _request(self, url: str, key: tuple, callback, meta_kind: PageKind | None = None, **cb_kwargs):
        """``meta_kind``: what a page of the other kinds (spiders.extras) is asked as, for the
        record of a request that gets no answer."""
        if site_of(url) not in self.sites:
            self.logger.debug("Not following %s: another site", url)
            return None
        if not self.tracker.claim(key):
            return None
        return scrapy.Request(
            url,
            callback=callback,
            errback=self.network_error,
            headers=cookie_header(self.cookies, url),
            cb_kwargs=cb_kwargs,
            # error answers are recorded, not dropped
            meta={"handle_httpstatus_list": ERROR_STATUSES} | ({"asked_as": str(meta_kind)} if meta_kind else {}),
            dont_filter=True,  # the key above is the identity, not the URL's spelling
        )
