"""The crawl's process runs Python's cyclic garbage collector less often (setting GC_THRESHOLD).

CPython walks its youngest objects whenever the container objects made outnumber those freed
by ``gc.get_threshold()[0]`` (700 in CPython 3.11). A crawl makes and frees thousands of them
for every page (the request and its answer, Twisted's Deferreds, Scrapy's asyncio tasks, the
page's records), nearly all freed by their reference counts, but each pass walks every young
object alive at that moment: those of the pages in flight, each time. A higher threshold makes
fewer passes over the same live objects. What it delays is only the freeing of garbage held in
reference cycles, which this crawl makes little of: its memory stays as it was
(bench/README.md). From the spider's opening to the engine's stop, then put back, as
spiders.log_levels does with the loggers (the setting belongs to the process, which a
CrawlerProcess may share between crawls); a threshold already higher, or 0 (automatic collection
off), is left as it is.
"""

from __future__ import annotations

import gc

from scrapy import signals
from scrapy.exceptions import NotConfigured


class CollectorThreshold:
    running = 0  # crawls between their spider's opening and their engine's stop
    before: int | None = None  # the process's threshold before the first of them

    def __init__(self, threshold: int):
        self.threshold = threshold
        self.opened = False

    @classmethod
    def from_crawler(cls, crawler):
        threshold = crawler.settings.getint("GC_THRESHOLD")
        if threshold <= 0:
            raise NotConfigured
        extension = cls(threshold)
        crawler.signals.connect(extension.raise_threshold, signal=signals.spider_opened)
        # the spider's closing too: a crawl refused as its spider opens (CloseSpider) closes the
        # spider, but its engine, never started, sends no engine_stopped
        crawler.signals.connect(extension.restore, signal=signals.spider_closed)
        crawler.signals.connect(extension.restore, signal=signals.engine_stopped)
        return extension

    def raise_threshold(self) -> None:
        self.opened = True
        young = gc.get_threshold()[0]
        if not CollectorThreshold.running:
            CollectorThreshold.before = young
        CollectorThreshold.running += 1
        if 0 < young < self.threshold:  # 0: the program turned automatic collection off
            gc.set_threshold(self.threshold)

    def restore(self) -> None:
        if not self.opened:  # closed already, or stopped before its spider opened
            return
        self.opened = False
        CollectorThreshold.running -= 1
        if not CollectorThreshold.running and CollectorThreshold.before is not None:
            gc.set_threshold(CollectorThreshold.before)
            CollectorThreshold.before = None
