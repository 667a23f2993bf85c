"""Past Discuz's own defences against CC (flood) attacks the way a browser gets past them, and
a polite stop where only a person, or the site's owner, can let the crawler in.

Discuz's ``attackevasive`` bits and the admin's 防采集 answer in a page's place
(scraper.challenges tells which); with the forum's cookies kept (spiders.guest_cookies):

- bit 4's reload page (页面重载开启): the same URL again, at once, with the cookies it set;
- bit 1's first answer on PHP 8 (a 503 "Discuz! System Error" that sets ``lastrequest``): the
  same URL again after DISCUZ_SLOW_DELAY, not after its ``Retry-After: 3600``: no outage;
- bit 1's rate-limit page (频繁刷新限制: two requests in one whole second): the same URL again,
  and from then on one request at a time to that site, DISCUZ_SLOW_DELAY apart (its downloader
  slot; AutoThrottle no longer lowers it), said once in the log;
- bit 2 (代理服务器访问限制): the crawl never sends a proxy header, so a proxy on the way added
  one: each page is recorded with that cause;
- bit 8's question (a sum for a person) and 防采集's script page: recorded, never answered nor
  run. These, and bit 2's, are the site saying no: after DISCUZ_CHALLENGE_STOP pages of one, the
  crawl stops asking the site for such pages (each recorded, not asked), and says once, at the
  end, how many were not archived and the way out.

A challenge page never reaches the spider as the page: it is asked again, or recorded as
``antiscraping`` (spiders.refusals) with the check's name. A page still a challenge after
DISCUZ_CHALLENGE_TRIES asks is recorded so too.

Settings: DISCUZ_ANTI_CC (on; off raises NotConfigured), DISCUZ_SLOW_DELAY,
DISCUZ_CHALLENGE_TRIES, DISCUZ_CHALLENGE_STOP.
"""

from __future__ import annotations

import logging
import re
from collections import Counter, defaultdict
from urllib.parse import urlsplit

from scrapy import Request, signals
from scrapy.exceptions import NotConfigured
from scrapy.http import Response
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.task import deferLater

from scraper.challenges import Challenge, challenge_of
from scraper.kinds import PageKind
from scraper.urls import site_of, thread_ref
from pipelines.refusals import Refused

logger = logging.getLogger(__name__)

# misc_security.php refuses a request carrying any of these (bit 2).
PROXY_HEADERS = (b"X-Forwarded-For", b"Via", b"Proxy-Connection", b"Cache-Info", b"User-Agent-Via")
TRIES = "anti_cc_tries"  # request.meta: how many times this page came back as a challenge
COUNTED = "anti_cc_counted"  # request.meta: the check its answer was counted for, once downloaded
# 防采集 guards threads and portal articles (and blogs): the pages it stops the crawl asking for.
_ANTITHEFT_PAGES = re.compile(r"[?&]mod=view(?:&|$)|/article-\d+-\d+\.html|[?&]do=blog")

WHAT = {
    Challenge.FIRST_VISIT: "Discuz's anti-CC first answer (a 503 system error, attackevasive 1)",
    Challenge.RATE_LIMIT: "Discuz's rate limit (频繁刷新限制, attackevasive 1)",
    Challenge.RELOAD: "Discuz's reload page (页面重载开启, attackevasive 4)",
    Challenge.PROXY: "Discuz's proxy check (代理服务器访问限制, attackevasive 2): a proxy on the way adds proxy"
    " headers (X-Forwarded-For, Via…), which the crawler never sends",
    Challenge.QUESTION: "Discuz's anti-CC question (attackevasive 8): a sum for a person to compute, not answered",
    Challenge.ANTITHEFT: "防采集 (anti-collection): a script in the page's place, not run",
}
WAY_OUT = {
    Challenge.PROXY: "crawl from a network whose way to the site has no proxy that adds these headers.",
    Challenge.QUESTION: "answer the question once in a browser, export the site's cookies (cookies.txt) and"
    " pass them with -a cookies=FILE; its visitcode cookie lasts 4 hours.",
    Challenge.ANTITHEFT: "this is the site's owner saying do not collect: only the owner can let the crawler"
    " in (防采集's IP white list).",
}


class AntiCC:
    def __init__(self, crawler):
        settings = crawler.settings
        self.crawler = crawler
        self.delay = settings.getfloat("DISCUZ_SLOW_DELAY")
        self.tries = settings.getint("DISCUZ_CHALLENGE_TRIES")
        self.stop_after = settings.getint("DISCUZ_CHALLENGE_STOP")
        self.slowed: set[str] = set()  # sites asked one request at a time
        self.seen: Counter[tuple[str, Challenge]] = Counter()  # pages that answered with a check
        self.not_archived: Counter[tuple[str, Challenge]] = Counter()
        self.stopped: defaultdict[str, set[Challenge]] = defaultdict(set)

    @classmethod
    def from_crawler(cls, crawler):
        if not crawler.settings.getbool("DISCUZ_ANTI_CC"):
            raise NotConfigured
        middleware = cls(crawler)
        crawler.signals.connect(middleware.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(middleware.response_downloaded, signal=signals.response_downloaded)
        return middleware

    def response_downloaded(self, response: Response, request: Request, spider) -> None:
        """A rate-limit page slows its site, and the page of a check only a person passes counts
        towards the stop, as soon as it is downloaded: before the downloader sends the next
        request waiting for the site (AutoThrottle adjusts its delays here too). A compressed
        one is only seen once decompressed, in process_response."""
        challenge = challenge_of(response.status, response.body, [])
        if challenge == Challenge.RATE_LIMIT:
            self._slow_down(site_of(response.url), request)
        elif challenge is not None and challenge.needs_a_person:
            self._count(site_of(response.url), challenge, request)

    def process_request(self, request: Request):
        for name in PROXY_HEADERS:
            request.headers.pop(name, None)
        site = site_of(request.url)
        if site in self.slowed:
            request.meta["autothrottle_dont_adjust_delay"] = True
            self._slow_slot(request)
        for challenge in self.stopped.get(site, ()):
            if _guards(challenge, request.url):
                self.not_archived[site, challenge] += 1
                raise Refused(PageKind.ANTISCRAPING, f"not asked: {WHAT[challenge]}", said_at_end=True)
        return None

    async def process_response(self, request: Request, response: Response):
        names = [line.partition(b"=")[0].decode("latin-1") for line in response.headers.getlist(b"Set-Cookie")]
        challenge = challenge_of(response.status, response.body, names)
        if challenge is None:
            return response
        site = site_of(response.url)
        self.crawler.stats.inc_value(f"archive/anti_cc/{challenge}")
        if challenge.needs_a_person:
            if request.meta.get(COUNTED) != challenge:
                self._count(site, challenge, request)
            self.not_archived[site, challenge] += 1
            raise Refused(PageKind.ANTISCRAPING, WHAT[challenge], response.status)  # a few: each said
        tries = request.meta.get(TRIES, 0) + 1
        if tries > self.tries:
            raise Refused(PageKind.ANTISCRAPING, f"{WHAT[challenge]}, still after {self.tries} tries with its cookies", response.status)
        if challenge == Challenge.RATE_LIMIT:
            self._slow_down(site, request)
        elif challenge == Challenge.FIRST_VISIT:  # the next request must come in a later second
            from twisted.internet import reactor  # the one Scrapy installed (importing it installs one)

            await maybe_deferred_to_future(deferLater(reactor, self.delay, lambda: None))
        return request.replace(meta=request.meta | {TRIES: tries}, dont_filter=True)

    def _count(self, site: str, challenge: Challenge, request: Request) -> None:
        """One more page of a check only a person passes; the stop after DISCUZ_CHALLENGE_STOP."""
        request.meta[COUNTED] = challenge
        self.seen[site, challenge] += 1
        if self.seen[site, challenge] >= self.stop_after and challenge not in self.stopped[site]:
            self.stopped[site].add(challenge)
            self._drop_queued(site, challenge, request)

    def _drop_queued(self, site: str, challenge: Challenge, request: Request) -> None:
        """Requests for such pages that passed here but wait in the site's downloader slot are
        not sent either: each fails as refused (its errback records it)."""
        downloader = self.crawler.engine.downloader
        slot = downloader.slots.get(downloader.get_slot_key(request))
        for queued in [entry for entry in slot.queue if _guards(challenge, entry[0].url)] if slot else ():
            slot.queue.remove(queued)
            self.not_archived[site, challenge] += 1
            queued[1].errback(Refused(PageKind.ANTISCRAPING, f"not asked: {WHAT[challenge]}", said_at_end=True))

    def _slow_down(self, site: str, request: Request) -> None:
        if site not in self.slowed:
            self.slowed.add(site)
            logger.info(
                "%s answers with %s: from now on one request at a time to it, %g s apart",
                site, WHAT[Challenge.RATE_LIMIT], self.delay,
            )
        self._slow_slot(request)

    def _slow_slot(self, request: Request) -> None:
        """The request's downloader slot (and one made anew for it) sends one request at a time,
        DISCUZ_SLOW_DELAY apart, with no random part that would make a gap shorter."""
        downloader = self.crawler.engine.downloader
        key = downloader.get_slot_key(request)
        downloader.per_slot_settings[key] = {"concurrency": 1, "delay": self.delay, "jitter": 0}
        if slot := downloader.slots.get(key):
            slot.concurrency, slot.jitter = 1, 0
            slot.delay = max(slot.delay, self.delay)

    def spider_closed(self, spider):
        for (site, challenge), count in sorted(self.not_archived.items()):
            answered = self.seen[site, challenge]
            logger.warning(
                "%s pages of %s not archived (%s answered with it, %s not asked): %s. The way out: %s",
                count, site, answered, count - answered, WHAT[challenge], WAY_OUT[challenge],
            )


def _guards(challenge: Challenge, url: str) -> bool:
    """Whether ``challenge`` answers in ``url``'s place: 防采集 threads and articles, the others
    every page Discuz makes (a script, or a rewritten .html), not the web server's own files
    (robots.txt, images, attachments under data/)."""
    if challenge == Challenge.ANTITHEFT:
        return thread_ref(url) is not None or bool(_ANTITHEFT_PAGES.search(url))
    path = urlsplit(url).path
    return path.endswith(("/", ".php", ".html", ".htm")) and "/data/" not in path
