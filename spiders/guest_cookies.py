"""A guest's cookies, kept per site as a browser keeps them: what the forum itself sets.

Discuz gives every visitor a ``saltkey`` and, with its CC defences on, a ``lastrequest``
(both needed to get past them: spiders.anti_cc), a ``visitcode`` once its question is
answered, and the session's ``sid``, ``lastvisit``, ``lastact``. The crawl keeps Scrapy's own
cookie handling off (``COOKIES_ENABLED = False``) and keeps these here instead, one jar a
site, sent back with each request to that site, merged into the Cookie header the user's
``-a cookies=`` file gave (the forum's newer value wins, as in a browser).

They never go further: the archive keeps no request headers and no Set-Cookie
(scraper.models.kept_headers), so neither its raw pages nor a WARC made of them hold one;
this module logs no value and counts none.

Setting: ``DISCUZ_GUEST_COOKIES`` (on by default; off raises NotConfigured).
"""

from __future__ import annotations

from weakref import WeakKeyDictionary

from scrapy import Request
from scrapy.exceptions import NotConfigured
from scrapy.http import Response
from scrapy.http.cookies import CookieJar

from scraper.urls import site_of


class GuestCookies:
    def __init__(self):
        self.jars: dict[str, CookieJar] = {}
        # request -> the Cookie header it came with, put back once it is answered: a retry or a
        # redirect copies the request, and a distributed crawl sends copies through Redis
        self.own: WeakKeyDictionary[Request, bytes | None] = WeakKeyDictionary()

    @classmethod
    def from_crawler(cls, crawler):
        if not crawler.settings.getbool("DISCUZ_GUEST_COOKIES"):
            raise NotConfigured
        return cls()

    def process_request(self, request: Request):
        jar = self.jars.get(site_of(request.url))
        if jar is None:
            return None
        probe = Request(request.url)
        jar.add_cookie_header(probe)
        if forum := probe.headers.get(b"Cookie"):
            own = self.own[request] = request.headers.get(b"Cookie")
            pairs = dict(_pairs(own or b"")) | dict(_pairs(forum))
            request.headers[b"Cookie"] = b"; ".join(name + b"=" + value for name, value in pairs.items())
        return None

    def process_response(self, request: Request, response: Response):
        self._put_back(request)
        if b"Set-Cookie" in response.headers:
            self.jars.setdefault(site_of(response.url), CookieJar()).extract_cookies(response, request)
        return response

    def process_exception(self, request: Request, exception: Exception):
        self._put_back(request)

    def _put_back(self, request: Request) -> None:
        if request in self.own:
            own = self.own.pop(request)
            if own is None:
                request.headers.pop(b"Cookie", None)
            else:
                request.headers[b"Cookie"] = own


def _pairs(header: bytes):
    for part in header.split(b";"):
        name, sep, value = part.strip().partition(b"=")
        if sep:
            yield name, value
