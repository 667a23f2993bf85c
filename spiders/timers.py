"""The reactor's cancelled timers, swept out as the crawl goes (setting TIMER_SWEEP_INTERVAL).

Each download arms its timeout (DOWNLOAD_TIMEOUT, minutes) and each connection put back in
the pool arms its expiry; both are cancelled moments later, but Twisted drops cancelled timers
from its heap only when some timer comes due. With no timer due sooner than the progress
line's, a fast crawl holds two dead timers for every page fetched since that line: memory
that grows with the crawl's speed and sits in the process's peak. A timer due every second
makes the reactor sweep them (it does so once they are half its heap).
"""

from __future__ import annotations

from scrapy import signals
from scrapy.exceptions import NotConfigured
from twisted.internet import task


def _nothing() -> None:
    """The timer's work is to come due: the reactor sweeps its heap when one does."""


class TimerSweep:
    def __init__(self, interval: float):
        self.interval = interval
        self.loop = task.LoopingCall(_nothing)

    @classmethod
    def from_crawler(cls, crawler):
        interval = crawler.settings.getfloat("TIMER_SWEEP_INTERVAL", 1)
        if interval <= 0:
            raise NotConfigured
        extension = cls(interval)
        crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def spider_opened(self) -> None:  # not the loop's Deferred: the spider's opening would wait on it
        self.loop.start(self.interval, now=False)

    def spider_closed(self) -> None:
        if self.loop.running:
            self.loop.stop()
