"""The crawl's process runs Python's cyclic garbage collector less often (setting GC_THRESHOLD).

CPython walks its youngest objects whenever the container objects made outnumber those freed
by ``gc.get_threshold()[0]`` (700 in CPython 3.11). A crawl makes and frees thousands of them
for every page (the request and its answer, Twisted's Deferreds, Scrapy's asyncio tasks, the
page's records), nearly all freed by their reference counts, but each pass walks every young
object alive at that moment: those of the pages in flight, each time. A higher threshold makes
fewer passes over the same live objects. What it delays is only the freeing of garbage held in
reference cycles, which this crawl makes little of: its memory stays as it was
(bench/README.md). From the spider's opening to the crawl's end, then put back, as
spiders.log_levels does with the loggers (spiders.while_crawling: the setting belongs to the
process, which a CrawlerProcess may share between crawls); a threshold already higher, or 0
(automatic collection off), is left as it is.
"""

from __future__ import annotations

import gc

from scrapy.exceptions import NotConfigured

from spiders.while_crawling import WhileCrawling


class CollectorThreshold(WhileCrawling):
    before: int | None = None  # the process's threshold before the first of its crawls

    def __init__(self, threshold: int):
        super().__init__()
        self.threshold = threshold

    @classmethod
    def from_crawler(cls, crawler):
        threshold = crawler.settings.getint("GC_THRESHOLD")
        if threshold <= 0:
            raise NotConfigured
        extension = cls(threshold)
        extension.connect(crawler)
        return extension

    raise_threshold = WhileCrawling.crawl_began

    def began(self, first: bool) -> None:
        young = gc.get_threshold()[0]
        if first:
            CollectorThreshold.before = young
        if 0 < young < self.threshold:  # 0: the program turned automatic collection off
            gc.set_threshold(self.threshold)

    def ended(self, last: bool) -> None:
        if last and CollectorThreshold.before is not None:
            gc.set_threshold(CollectorThreshold.before)
            CollectorThreshold.before = None
