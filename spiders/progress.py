"""Live progress of long runs: one log line every PROGRESS_INTERVAL seconds (default 15).

Scrapy's LogStats counts responses; an archive run wants posts, errors and how much of the
forums' thread lists is still to walk, so a cron log or a terminal shows where it stands.
"""

from __future__ import annotations

import logging
import time

from scrapy import signals
from scrapy.exceptions import NotConfigured
from twisted.internet import task

logger = logging.getLogger(__name__)


class Progress:
    def __init__(self, stats, interval: float):
        self.stats = stats
        self.interval = interval
        self.loop: task.LoopingCall | None = None
        self.started = time.monotonic()

    @classmethod
    def from_crawler(cls, crawler):
        interval = crawler.settings.getfloat("PROGRESS_INTERVAL", 15)
        if interval <= 0:
            raise NotConfigured
        extension = cls(crawler.stats, interval)
        crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def spider_opened(self):
        self.started = time.monotonic()
        self.loop = task.LoopingCall(self.log)
        self.loop.start(self.interval, now=False)

    def log(self):
        get = self.stats.get_value
        pages = get("archive/pages", 0)
        minutes = max(time.monotonic() - self.started, 1e-9) / 60
        logger.info(
            "Progress: %d pages (%.0f/min), %d new posts, %d updated, %d errors, ~%d listing pages left",
            pages,
            pages / minutes,
            get("archive/articles", 0) + get("archive/comments", 0),
            get("archive/updated_posts", 0),
            get("archive/errors", 0),
            get("archive/listing_pages_left", 0),
        )

    def spider_closed(self):
        if self.loop and self.loop.running:
            self.loop.stop()
