"""``scrapy crawl discuz`` with no url: serve the bundled sample forum and crawl it.

An extension (EXTENSIONS), on when SAMPLE_FORUM_ENABLED is true (the default) and the spider
was given no url. It serves sample_forum/v1 on 127.0.0.1, gives the spider the forum's index
as its seed, and stops the server when the spider closes. A distributed worker with no url
takes its work from Redis instead: the Distributed add-on turns this off.
"""

from __future__ import annotations

import contextlib
import logging
from urllib.parse import urlsplit

from scrapy import signals
from scrapy.exceptions import NotConfigured

from sample_forum import serve
from sample_forum.server import SNAPSHOT_BASE

logger = logging.getLogger("discuz")

# The address the snapshot was saved from: served there, its pages need no rewriting and
# every run archives into the same site key.
SAMPLE_PORT = urlsplit(SNAPSHOT_BASE).port


class SampleForum:
    def __init__(self, crawler):
        self.crawler = crawler
        self.servers = contextlib.ExitStack()

    @classmethod
    def from_crawler(cls, crawler):
        spider = crawler.spider
        if not crawler.settings.getbool("SAMPLE_FORUM_ENABLED") or spider is None or getattr(spider, "seeds", True):
            raise NotConfigured
        extension = cls(crawler)
        spider.set_seeds([extension.start()])
        # Scrapy freezes the settings only once the extensions are built: our own server on
        # this machine needs no wait between requests (unless the command line sets one).
        crawler.settings.set("DOWNLOAD_DELAY", 0, priority="spider")
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def start(self) -> str:
        """Serve the forum; the URL of its index."""
        try:
            forum = self.servers.enter_context(serve("v1", SAMPLE_PORT))
        except OSError:
            forum = self.servers.enter_context(serve("v1", 0))
            logger.warning("Port %s is busy: the sample forum gets another port (and site key)", SAMPLE_PORT)
        logger.info("No url given: crawling the bundled sample forum at %s", forum.base_url)
        return forum.base_url + "forum.php"

    def spider_closed(self):
        self.servers.close()
