"""The crawl never leaves the site: a downloader middleware that refuses, and so records, any
request for a host that is not the site's.

The site is the host and port of each URL the crawl was given (the same host on the other
of the web's two ports, 80 and 443, counts: forums move from http to https), plus the
hosts the ARCHIVE_ALLOWED_HOSTS setting names. The spider never asks for a page elsewhere;
what can still lead elsewhere is the forum itself: a 3xx ``Location``, or a ``<meta
http-equiv="refresh">``, which Scrapy's redirect middlewares turn into a new request. That
request comes here before anything is sent (before robots.txt is asked for its host), and is
refused with kind ``offsite``; the page is recorded under the URL the spider asked for, the
target in its error. (Discuz's JavaScript redirects need nothing: the archiver runs no
script, and reads such a page as what it is, e.g. ``antiscraping``.) Scrapy's own offsite
middleware lets these through, as the spider's requests are ``dont_filter``, and would drop
them silently besides.

Second, no request goes to a private, loopback or link-local address the user did not choose
(spiders.addresses): what they chose is told to the resolver, which refuses the rest when it
resolves a name; the refusal reaches this middleware as a DNS error, and is said for what it is.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from scrapy import Request, signals
from scrapy.exceptions import CannotResolveHostError
from twisted.internet.error import DNSLookupError

from pipelines.refusals import Refused
from scraper.kinds import PageKind
from scraper.urls import site_of
from spiders.addresses import GUARD

WEB_PORTS = {80, 443}
DEFAULT_PORTS = {"http": 80, "https": 443}


def host_port(url: str) -> tuple[str, int | None]:
    """A URL's host name (lower case, no brackets) and port (the scheme's when not given)."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:  # a port that is no number
        port = -1
    return (parts.hostname or "").lower(), port or DEFAULT_PORTS.get(parts.scheme)


def allowed_hosts(value: str | list[str] | None) -> set[tuple[str, int | None]]:
    """ARCHIVE_ALLOWED_HOSTS ("cdn.example.com, img.example.com:8080") as (host, port) pairs:
    a host without a port is allowed on the web's ports."""
    entries = value.split(",") if isinstance(value, str) else value or []
    pairs = set()
    for entry in (entry.strip() for entry in entries):
        if entry:
            host, port = host_port("//" + entry)
            pairs |= {(host, port)} if port else {(host, web_port) for web_port in WEB_PORTS}
    return pairs


class SitePolicy:
    """Refuses requests off the site (``offsite``) and to private addresses (``private_address``)."""

    def __init__(self, crawler):
        self.crawler = crawler
        self.allowed = allowed_hosts(crawler.settings.get("ARCHIVE_ALLOWED_HOSTS"))
        self.site: set[tuple[str, int | None]] = set()

    @classmethod
    def from_crawler(cls, crawler):
        policy = cls(crawler)
        crawler.signals.connect(policy.spider_opened, signal=signals.spider_opened)
        return policy

    def spider_opened(self, spider):
        for seed in getattr(spider, "seeds", ()):
            self._add_site(seed)
        for host, _ in self.allowed:
            GUARD.choose(host, named=True)

    def _add_site(self, url: str) -> None:
        host, port = host_port(url)
        GUARD.choose(host)
        self.site |= {(host, web_port) for web_port in WEB_PORTS} if port in WEB_PORTS else {(host, port)}

    def on_site(self, url: str) -> bool:
        if (place := host_port(url)) in self.site or place in self.allowed:
            return True
        # a worker of a distributed crawl may not have the seeds: the crawl's sites are in Redis
        sites = getattr(self.crawler.spider, "sites", None)
        if sites is not None and site_of(url) in sites:
            self._add_site(url)
            return True
        return False

    def process_request(self, request: Request):
        if not self.on_site(request.url):
            via = request.meta.get("redirect_reasons", [])
            status = via[-1] if via and isinstance(via[-1], int) else 200 if via else 0  # meta refresh: a 200 page
            how = f"redirected ({via[-1]})" if via else "asked"
            self.crawler.stats.inc_value("archive/refused/offsite")
            raise Refused(PageKind.OFFSITE, f"{how} to {request.url}, off the site: not requested", status)
        if why := GUARD.why_refused(host_port(request.url)[0]):  # a retry of a refused name
            self.crawler.stats.inc_value("archive/refused/private_address")
            raise Refused(PageKind.PRIVATE_ADDRESS, why)
        return None

    def process_exception(self, request: Request, exception: Exception):
        """A name the resolver refused fails as a DNS error: it is a refusal, said so."""
        if isinstance(exception, (CannotResolveHostError, DNSLookupError)):
            if why := GUARD.why_refused(host_port(request.url)[0]):
                self.crawler.stats.inc_value("archive/refused/private_address")
                raise Refused(PageKind.PRIVATE_ADDRESS, why)
        return None
