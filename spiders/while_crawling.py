"""A setting of the whole process changed while any of its crawls runs, and put back after:
the base of spiders.log_levels (the loggers' levels) and spiders.collector (the garbage
collector's threshold).

A CrawlerProcess may run several crawls in one process, each with its own extension: each
subclass counts its crawls between their spider's opening and their end, which is the
spider's closing or the engine's stop, whichever comes first, counted once. A crawl refused
as its spider opens (CloseSpider from a component) closes the spider, but its engine, never
started, sends no engine_stopped; a crawl that ran sends both.
"""

from __future__ import annotations

from scrapy import signals


class WhileCrawling:
    running = 0  # this subclass's crawls between their spider's opening and their end

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.running = 0

    def __init__(self) -> None:
        self.opened = False

    def connect(self, crawler) -> None:
        crawler.signals.connect(self.crawl_began, signal=signals.spider_opened)
        crawler.signals.connect(self.restore, signal=signals.spider_closed)
        crawler.signals.connect(self.restore, signal=signals.engine_stopped)

    def crawl_began(self) -> None:
        self.opened = True
        type(self).running += 1
        self.began(first=type(self).running == 1)

    def restore(self) -> None:
        if not self.opened:  # ended already, or never opened
            return
        self.opened = False
        type(self).running = max(0, type(self).running - 1)
        self.ended(last=not type(self).running)

    def began(self, first: bool) -> None:
        """What the subclass does as one of its crawls opens (``first``: none ran before)."""

    def ended(self, last: bool) -> None:
        """What the subclass does as one of its crawls ends (``last``: none runs now)."""
