"""Log records that no handler writes are not made: ``LoggerLevels``.

Scrapy sets LOG_LEVEL on its handlers, not on the loggers, and leaves its own loggers at DEBUG
and the root logger at NOTSET. At LOG_LEVEL INFO every DEBUG line of a crawl (Scrapy's for each
page it downloads and each item, the spider's for each thread page) is still made into a record,
handed to every handler and dropped by each. From the spider's opening to the crawl's end,
the root logger and the loggers set below it are set to the lowest level a handler takes, so
that the log writes the same lines; a handler that takes every record (a test's log capture)
leaves them as they are. The NullHandlers libraries put on their loggers write nothing.
"""

from __future__ import annotations

import logging

from spiders.while_crawling import WhileCrawling


class LoggerLevels(WhileCrawling):
    # The loggers are the process's, shared by every crawl it runs (a CrawlerProcess may run
    # several, each with its own handler): the levels are set again for the handlers there are
    # whenever a crawl opens or ends, and put back when none runs.
    lifted: dict[logging.Logger, int] = {}  # each logger set: its own level before

    @classmethod
    def from_crawler(cls, crawler):
        extension = cls()
        # the spider's opening comes after Scrapy installs its root handler for the crawl's settings
        extension.connect(crawler)
        return extension

    lift = WhileCrawling.crawl_began

    def began(self, first: bool) -> None:
        _set_levels()

    def ended(self, last: bool) -> None:
        _set_levels()


def _set_levels() -> None:
    """Each logger as it was, then, while a crawl runs, raised to the lowest level a handler
    takes (the root, and those set below it: the others follow their parent)."""
    for logger, level in LoggerLevels.lifted.items():
        logger.setLevel(level)
    LoggerLevels.lifted.clear()
    if not LoggerLevels.running:
        return
    loggers = [logging.root, *(x for x in logging.root.manager.loggerDict.values() if isinstance(x, logging.Logger))]
    lowest = min(
        (
            handler.level for logger in loggers for handler in logger.handlers
            if not isinstance(handler, logging.NullHandler)  # a library's, writing nothing (charset_normalizer)
        ),
        default=logging.NOTSET,
    )
    if lowest == logging.NOTSET:
        return
    for logger in loggers:
        if (logger is logging.root or logger.level != logging.NOTSET) and logger.level < lowest:
            LoggerLevels.lifted[logger] = logger.level
            logger.setLevel(lowest)
