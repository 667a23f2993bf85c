"""The floor for the end-to-end crawl: a Scrapy spider that fetches what ``discuz`` fetches
(index → forum listings → thread pages, every page of every thread) and does nothing else.

Links are found with byte regexes (no HTML parsing, no decoding, no items, no pipeline);
Scrapy's duplicate filter keeps each URL to one request. Run from the project folder so it
gets the project's settings (user agent, robots.txt, reactor), as ``scrapy crawl discuz`` does:

    scrapy runspider bench/bare_spider.py -a url=http://127.0.0.1:8081/forum.php \
        -s TWISTED_DNS_RESOLVER=scrapy.resolver.CachingThreadedResolver \
        -s AUTOTHROTTLE_ENABLED=0 -s DOWNLOAD_DELAY=0 -s CONCURRENT_REQUESTS_PER_DOMAIN=16
"""

from __future__ import annotations

import re

import scrapy

FORUM_LINK = re.compile(rb'href="(forum-\d+-1\.html)"')
LISTING_NEXT = re.compile(rb'href="(forum-\d+-\d+\.html)" class="nxt"')
# A row links thread-TID-1-LISTPAGE.html; every listing page's link is read as -1.html.
THREAD_ROW = re.compile(rb'<a href="thread-(\d+)-1-\d+\.html"[^>]*class="s xst"')


class BareSpider(scrapy.Spider):
    name = "bare"
    # No archive, no progress line, and not the site policy, which refuses every request of a
    # spider that names no seeds (spiders/site_policy.py): with it this spider fetched nothing.
    # Nor the anti-CC components: Scrapy's floor, which the project's crawl is measured against.
    custom_settings = {
        "ITEM_PIPELINES": {},
        "EXTENSIONS": {},
        "DOWNLOADER_MIDDLEWARES": {
            "spiders.site_policy.SitePolicy": None, "spiders.anti_cc.AntiCC": None, "spiders.guest_cookies.GuestCookies": None,
        },
    }

    def __init__(self, url: str, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.start_urls = [url]

    def parse(self, response):  # the index
        for link in FORUM_LINK.findall(response.body):
            yield response.follow(link.decode(), self.parse_forum)

    def parse_forum(self, response):
        body = response.body
        for tid in THREAD_ROW.findall(body):
            yield response.follow(f"thread-{tid.decode()}-1-1.html", self.parse_thread)
        for link in LISTING_NEXT.findall(body):
            yield response.follow(link.decode(), self.parse_forum)

    def parse_thread(self, response):
        tid = response.url.rsplit("thread-", 1)[1].split("-", 1)[0]
        pattern = rf'href="(thread-{tid}-\d+-1\.html)"'.encode()
        for link in set(re.findall(pattern, response.body)):
            yield response.follow(link.decode(), self.parse_thread)
