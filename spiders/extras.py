"""What the ``discuz`` spider fetches besides thread pages and lists: the pages a thread page
leads to (a post's further 点评, its full ratings list, its authors' profiles) and the portal
(its index, category lists, articles and their comment lists). Routing only, as in
spiders.discuz: a mixin of DiscuzSpider, which gives it ``_read``, ``_request``, ``tracker``,
``state``, ``refresh_all``, ``source`` and ``user_profiles``.

When each is asked for:
- commentmore: for a post whose 点评 block has a pager (the page shows only the newest few),
  every page in turn; once all were read, ``CommentsRead`` says the post's 点评 are complete.
- viewratings: for a post whose rating table shows fewer raters than took part.
- profile: only with ``user_profiles=1``, once per member the archive has no profile for
  (one that guests may not see is recorded as such and not asked again).
- the portal: when the seed is a site's index and the source is the pages (the mobile API
  has no portal). portal.php, then, if it answers, the first category list (catid=1: a DIY
  portal index links nothing), every list and category those link, their pagers, every
  article not yet archived whole (``refresh=all`` reads the archived ones again) with all its
  pages, and its comment list when it has comments. A portal page given as a seed starts
  there: an article is read with its pages and comments, a list walked on from that list.
- the pages of these kinds whose last fetch failed are asked again by the next run of their site.
Only thread pages read in this run lead to the first three, so an unchanged thread costs none.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from scrapy.http import Response

from scraper.kinds import PageKind
from scraper.models import CommentsRead, ThreadPage
from scraper.portal import article_ref, list_ref
from scraper.urls import site_root_url

# The pages of these kinds whose last fetch failed are asked again by the next run.
RETRIED = (PageKind.COMMENTMORE, PageKind.VIEWRATINGS, PageKind.PORTAL_COMMENTS)
# What the portal's first probe asks: portal.php, and the first category's list when it
# answers (a portal index of DIY blocks links no list; a missing catid costs one error page).
PORTAL_INDEX = "portal.php"
FIRST_CATEGORY = "portal.php?mod=list&catid=1"


def profile_url(site_url: str, uid: int) -> str:
    return f"{site_root_url(site_url)}home.php?mod=space&uid={uid}&do=profile"


class ExtrasRouting:
    """The follow-ups of thread pages, the portal walk, profiles and retries."""

    def _extras_init(self) -> None:
        self._comment_reads: set[tuple[str, int]] = set()  # (site, pid) whose commentmore pages this run reads
        self._archived_articles: dict[str, set[int]] = {}
        self._profiled: dict[str, set[int]] = {}

    # -- what a site's run starts with --------------------------------------------------------

    def extras_from_the_archive(self, site: str, seed: str):
        """The failed pages of the other kinds, asked again, and the profiles still missing."""
        kinds = RETRIED + ((PageKind.PROFILE,) if self.user_profiles else ())
        for url in self.state.pages_to_retry(site, tuple(str(kind) for kind in kinds)):
            if request := self._retry_request(url, site):
                yield request
        if self.user_profiles:
            for uid in self.state.users_without_profile(site):
                if request := self._profile_request(seed, site, uid):
                    yield request

    def portal_start(self, seed: str, site: str):
        """The portal's index, when a whole site is crawled from its HTML pages."""
        if self.source == "api":
            return None
        url = site_root_url(seed) + PORTAL_INDEX
        if not self.refresh_all and self.state.has_no_portal(site, url):
            return None
        self._archived_articles[site] = self.state.portal_articles_read(site)
        return self._portal_list_request(url, site, None, 1, probe=True)

    def _articles_read(self, site: str) -> set[int]:
        """The portal articles archived whole, asked once a crawl: by a worker of the fleet
        too, which reads portal lists the seeding worker's portal_start led to (its empty set
        made every worker but the seeding one read every article again, every run)."""
        if site not in self._archived_articles:
            self._archived_articles[site] = self.state.portal_articles_read(site)
        return self._archived_articles[site]

    def portal_seed(self, seed: str, site: str):
        """A portal article (any of its pages) or list given as a seed, read as the portal walk
        reads it: an article with its other pages and its comments, a list with its pager,
        categories and the articles not yet archived."""
        self._articles_read(site)
        if ref := article_ref(seed):
            return self._portal_request(seed, (PageKind.PORTAL_ARTICLE, site, *ref), self.parse_portal_article)
        catid, page = list_ref(seed)
        return self._portal_list_request(seed, site, catid, page, probe=catid is None)

    # -- a thread page's follow-ups -------------------------------------------------------------

    def thread_followups(self, thread: ThreadPage, fetched_at: str):
        extras = thread.extras
        site = thread.site
        if extras is not None:
            for pid, url in sorted(extras.comments_more.items()):
                if (site, pid) in self._comment_reads:
                    continue
                keys = [c.key for c in extras.comments if c.pid == pid]
                if request := self._commentmore_request(url, site, thread.tid, pid, _page_of(url), fetched_at, keys):
                    self._comment_reads.add((site, pid))
                    yield request
            for pid, url in sorted(extras.ratings_more.items()):
                if request := self._request(url, (PageKind.VIEWRATINGS, site, pid), self.parse_viewratings,
                                            meta_kind=PageKind.VIEWRATINGS, tid=thread.tid):
                    yield request
        if self.user_profiles:
            for uid in sorted({post.author_uid for post in thread.posts if post.author_uid}):
                if request := self._profile_request(thread.url, site, uid):
                    yield request

    async def parse_commentmore(self, response: Response, tid: int, pid: int, page: int, read_at: str | None,
                                keys: list[str] | None = None):
        """One page of a post's 点评. Read from its thread page on, the last page says the read
        is complete; a page asked again alone (a retry: ``read_at`` None) only adds what it shows.
        The keys of the 点评 read so far travel with the requests (``keys``), so a distributed
        crawl, whose pages each worker may read, says it too."""
        fetched, comments = await self._read(response, PageKind.COMMENTMORE, tid=tid)
        yield fetched
        if comments is None:  # a problem: no word that the post's 点评 are complete
            return
        if keys is not None:
            keys = keys + [comment.key for comment in comments.comments]
        if comments.next_url and comments.page < (comments.page_count or comments.page + 1):
            if request := self._commentmore_request(comments.next_url, fetched.site, tid, pid, comments.page + 1, read_at, keys):
                yield request
            return  # the last page says it (a page not asked: none does)
        if keys is not None and read_at:
            yield CommentsRead(site=fetched.site, tid=tid, pid=pid, keys=keys, read_at=read_at)

    async def parse_viewratings(self, response: Response, tid: int):
        fetched, _ = await self._read(response, PageKind.VIEWRATINGS, tid=tid)
        yield fetched

    async def parse_profile(self, response: Response):
        fetched, _ = await self._read(response, PageKind.PROFILE)
        yield fetched

    # -- the portal ---------------------------------------------------------------------------

    async def parse_portal_list(self, response: Response, probe: bool = False):
        fetched, listing = await self._read(response, PageKind.PORTAL_LIST)
        yield fetched
        if fetched.kind == PageKind.NO_PORTAL:  # the next runs do not ask (but refresh=all does)
            self.logger.info("No portal at %s (HTTP %s): no portal articles to archive", response.url, fetched.status)
            return
        if listing is None or fetched.error:
            return
        site = listing.site
        if probe:  # the portal answers: its first category is where a DIY index leads nowhere
            if request := self._portal_list_request(site_root_url(listing.url) + FIRST_CATEGORY, site, 1, 1):
                yield request
        for catid, url in sorted(listing.category_urls.items()):
            if request := self._portal_list_request(url, site, catid, 1):
                yield request
        for number, url in sorted(listing.page_urls.items()):
            if request := self._portal_list_request(url, site, listing.catid, number):
                yield request
        archived = self._articles_read(site)
        for aid, url in sorted(listing.article_urls.items()):
            if aid in archived and not self.refresh_all:
                self.crawler.stats.inc_value("archive/requests_saved")
                continue
            if request := self._portal_request(url, (PageKind.PORTAL_ARTICLE, site, aid, 1), self.parse_portal_article):
                yield request

    async def parse_portal_article(self, response: Response):
        fetched, article = await self._read(response, PageKind.PORTAL_ARTICLE)
        yield fetched
        if article is None:
            return
        site, aid = article.site, article.aid
        for number, url in sorted(article.page_urls.items()):
            if request := self._portal_request(url, (PageKind.PORTAL_ARTICLE, site, aid, number), self.parse_portal_article):
                yield request
        if article.comments_url and article.comments_count != 0:
            key = (PageKind.PORTAL_COMMENTS, site, aid, 1)
            if request := self._portal_request(article.comments_url, key, self.parse_portal_comments):
                yield request

    async def parse_portal_comments(self, response: Response):
        fetched, comments = await self._read(response, PageKind.PORTAL_COMMENTS)
        yield fetched
        if comments is None:
            return
        for number, url in sorted(comments.page_urls.items()):
            key = (PageKind.PORTAL_COMMENTS, comments.site, comments.aid, number)
            if request := self._portal_request(url, key, self.parse_portal_comments):
                yield request

    # -- requests ------------------------------------------------------------------------------

    def _commentmore_request(self, url: str, site: str, tid: int, pid: int, page: int, read_at: str | None,
                             keys: list[str] | None = None):
        return self._request(
            url, (PageKind.COMMENTMORE, site, pid, page), self.parse_commentmore,
            meta_kind=PageKind.COMMENTMORE, tid=tid, pid=pid, page=page, read_at=read_at, keys=keys,
        )

    def _profile_request(self, site_url: str, site: str, uid: int):
        profiled = self._profiled.get(site)
        if profiled is None:
            profiled = self._profiled[site] = self.state.users_with_profile(site)
        if uid in profiled:
            return None
        return self._request(profile_url(site_url, uid), (PageKind.PROFILE, site, uid), self.parse_profile,
                             meta_kind=PageKind.PROFILE)

    def _portal_list_request(self, url: str, site: str, catid: int | None, page: int, probe: bool = False):
        key = (PageKind.PORTAL_LIST, site, catid, page)
        return self._portal_request(url, key, self.parse_portal_list, **({"probe": True} if probe else {}))

    def _portal_request(self, url: str, key: tuple, callback, **cb_kwargs):
        return self._request(url, key, callback, meta_kind=key[0], **cb_kwargs)

    def _retry_request(self, url: str, site: str):
        """A failed page of another kind, asked again as what it was asked as before."""
        kind, tid, pid = _retried_kind(url)
        if kind == PageKind.COMMENTMORE and tid and pid:
            # read alone, it adds the 点评 it shows; only a whole read from the thread says what vanished
            return self._commentmore_request(url, site, tid, pid, _page_of(url), None)
        if kind == PageKind.VIEWRATINGS and tid and pid:
            return self._request(url, (kind, site, pid), self.parse_viewratings, meta_kind=kind, tid=tid)
        if kind == PageKind.PORTAL_COMMENTS:
            return self._request(url, (kind, site, url), self.parse_portal_comments, meta_kind=kind)
        if kind == PageKind.PROFILE:
            return self._request(url, (kind, site, url), self.parse_profile, meta_kind=kind)
        return None


def _page_of(url: str) -> int:
    page = parse_qs(urlsplit(url).query).get("page", ["1"])[-1]
    return int(page) if page.isdecimal() else 1


def _retried_kind(url: str) -> tuple[PageKind | None, int | None, int | None]:
    """What a failed URL was asked as, from the URL itself (Discuz's own query names)."""
    query = {key: values[-1] for key, values in parse_qs(urlsplit(url).query).items()}
    ints = {key: int(value) for key, value in query.items() if value.isdecimal()}
    action, mod = query.get("action"), query.get("mod")
    if action == "commentmore":
        return PageKind.COMMENTMORE, ints.get("tid"), ints.get("pid")
    if action == "viewratings":
        return PageKind.VIEWRATINGS, ints.get("tid"), ints.get("pid")
    if mod == "comment" and query.get("idtype") == "aid":
        return PageKind.PORTAL_COMMENTS, None, None
    if mod == "space" and query.get("do") == "profile":
        return PageKind.PROFILE, None, None
    return None, None, None
