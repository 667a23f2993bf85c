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
        self.loop: task.LoopingCall | None = None

    @classmethod
    def from_crawler(cls, crawler):
        interval = crawler.settings.getfloat("TIMER_SWEEP_INTERVAL", 1)
        # without Twisted's reactor there are no timers of its to sweep
        if interval <= 0 or not crawler.settings.getbool("TWISTED_REACTOR_ENABLED", True):
            raise NotConfigured
        extension = cls(interval)
        crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def spider_opened(self) -> None:
        # Made here, not before: a LoopingCall imports (and so installs) the default reactor,
        # which must not happen before Scrapy installs the one its settings name.
        self.loop = task.LoopingCall(_nothing)
        self.loop.start(self.interval, now=False)  # its Deferred not returned: the opening would wait on it

    def spider_closed(self) -> None:
        if self.loop is not None and self.loop.running:
            self.loop.stop()
