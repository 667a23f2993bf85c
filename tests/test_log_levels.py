"""spiders.log_levels: the loggers are set to the lowest level a handler takes, and back."""

from __future__ import annotations

import logging

import pytest

from scrapy import signals
from scrapy.utils.test import get_crawler

from spiders import log_levels
from spiders.log_levels import LoggerLevels


class Kept(logging.Handler):
    def __init__(self, level: int):
        super().__init__(level)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def only(monkeypatch):
    """The root logger's handlers replaced by one at the given level (pytest's capture, which
    takes every record, put aside), Scrapy's loggers as Scrapy leaves them."""

    def install(level: int) -> Kept:
        handler = Kept(level)
        monkeypatch.setattr(logging.root, "handlers", [handler])
        monkeypatch.setattr(logging.root, "level", logging.NOTSET)
        monkeypatch.setattr(logging.getLogger("scrapy"), "level", logging.DEBUG)
        monkeypatch.setattr(logging.getLogger("twisted"), "level", logging.ERROR)
        for logger in logging.root.manager.loggerDict.values():
            if isinstance(logger, logging.Logger) and logger.handlers:
                monkeypatch.setattr(logger, "handlers", [])
        logging.root.manager._clear_cache()
        return handler

    monkeypatch.setattr(LoggerLevels, "running", 0)
    monkeypatch.setattr(LoggerLevels, "lifted", {})
    yield install
    if LoggerLevels.running:  # a test that failed before its restore
        LoggerLevels.running = 0
        log_levels._set_levels()
    logging.root.manager._clear_cache()


def test_debug_records_are_not_made_when_no_handler_takes_them(only):
    handler = only(logging.INFO)
    levels = LoggerLevels()
    levels.lift()
    engine, spider = logging.getLogger("scrapy.core.engine"), logging.getLogger("discuz")
    assert not engine.isEnabledFor(logging.DEBUG) and not spider.isEnabledFor(logging.DEBUG)
    engine.debug("Crawled (200) <GET http://127.0.0.1/>")
    engine.info("Spider opened")
    spider.warning("a page declares gbk but its bytes are utf-8")
    assert [record.getMessage() for record in handler.records] == [
        "Spider opened", "a page declares gbk but its bytes are utf-8",
    ]
    assert logging.getLogger("twisted").level == logging.ERROR  # set above the handler: left
    levels.restore()
    assert logging.root.level == logging.NOTSET and logging.getLogger("scrapy").level == logging.DEBUG
    assert engine.isEnabledFor(logging.DEBUG)


def test_a_librarys_null_handler_writes_nothing(only, monkeypatch):
    only(logging.INFO)
    monkeypatch.setattr(logging.getLogger("charset_normalizer"), "handlers", [logging.NullHandler()])
    levels = LoggerLevels()
    levels.lift()
    assert not logging.getLogger("scrapy.core.engine").isEnabledFor(logging.DEBUG)
    levels.restore()


def test_a_handler_that_takes_every_record_leaves_the_levels(only):
    only(logging.NOTSET)
    levels = LoggerLevels()
    levels.lift()
    assert not levels.lifted
    assert logging.getLogger("scrapy.core.engine").isEnabledFor(logging.DEBUG)


def test_log_level_debug_keeps_debug_lines(only):
    handler = only(logging.DEBUG)
    levels = LoggerLevels()
    levels.lift()
    logging.getLogger("scrapy.core.scraper").debug("Scraped from <200 http://127.0.0.1/>")
    assert len(handler.records) == 1
    levels.restore()


def test_two_crawls_in_one_process_each_get_the_lines_their_handlers_take(only):
    """A CrawlerProcess running two crawls: the second, at DEBUG, opens while the first (at
    INFO) runs; its DEBUG lines are made, and once it stops the first's levels come back."""
    first_handler = only(logging.INFO)
    first, second = LoggerLevels(), LoggerLevels()
    first.lift()
    engine = logging.getLogger("scrapy.core.engine")
    assert not engine.isEnabledFor(logging.DEBUG)
    second_handler = Kept(logging.DEBUG)
    logging.root.addHandler(second_handler)
    second.lift()
    engine.debug("Crawled (200) <GET http://127.0.0.1/>")
    assert [r.getMessage() for r in second_handler.records] == ["Crawled (200) <GET http://127.0.0.1/>"]
    assert not first_handler.records  # its handler still filters as before
    logging.root.removeHandler(second_handler)
    second.restore()
    assert not engine.isEnabledFor(logging.DEBUG)
    first.restore()
    assert logging.root.level == logging.NOTSET and engine.isEnabledFor(logging.DEBUG)


def test_levels_come_back_when_the_spider_closes_on_a_crawl_refused_at_its_start(only):
    # Scrapy 2.19: a component refusing to start (CloseSpider as the spider opens) closes the
    # spider, and the engine, never started, sends no engine_stopped
    only(logging.INFO)
    crawler = get_crawler(settings_dict={"LOG_LEVEL": "INFO"})
    extension = LoggerLevels.from_crawler(crawler)  # the crawl holds it (signals hold theirs weakly)
    engine = logging.getLogger("scrapy.core.engine")
    crawler.signals.send_catch_log(signals.spider_opened, spider=None)
    assert not engine.isEnabledFor(logging.DEBUG)
    crawler.signals.send_catch_log(signals.spider_closed, spider=None, reason="cannot_start")
    assert engine.isEnabledFor(logging.DEBUG) and LoggerLevels.running == 0
    crawler.signals.send_catch_log(signals.engine_stopped)  # a crawl that ran sends both: once is counted
    assert extension.opened is False
    assert LoggerLevels.running == 0
