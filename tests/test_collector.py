"""spiders.collector: the garbage collector's threshold is raised while a crawl runs, and put back."""

from __future__ import annotations

import gc

import pytest
from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.test import get_crawler

from scraper import settings as project_settings
from spiders.collector import CollectorThreshold


@pytest.fixture
def threshold(monkeypatch):
    """The process's thresholds as they were before the test, whatever the test did."""
    before = gc.get_threshold()
    monkeypatch.setattr(CollectorThreshold, "running", 0)
    monkeypatch.setattr(CollectorThreshold, "before", None)
    gc.set_threshold(700)
    yield
    gc.set_threshold(*before)


def extension(value: int) -> CollectorThreshold:
    return CollectorThreshold.from_crawler(get_crawler(settings_dict={"GC_THRESHOLD": value}))


def test_on_in_the_project_settings():
    assert "spiders.collector.CollectorThreshold" in project_settings.EXTENSIONS
    assert project_settings.GC_THRESHOLD > 700


def test_raised_while_the_crawl_runs_and_put_back(threshold):
    crawl = extension(7000)
    crawl.raise_threshold()
    assert gc.get_threshold()[0] == 7000
    crawl.restore()
    assert gc.get_threshold()[0] == 700


def test_put_back_when_the_last_crawl_of_the_process_stops(threshold):
    first, second = extension(7000), extension(7000)
    first.raise_threshold()
    second.raise_threshold()
    first.restore()
    assert gc.get_threshold()[0] == 7000
    second.restore()
    assert gc.get_threshold()[0] == 700


def test_a_crawl_that_never_opened_changes_nothing(threshold):
    running, never = extension(7000), extension(7000)
    running.raise_threshold()
    never.restore()  # engine_stopped without spider_opened
    assert gc.get_threshold()[0] == 7000 and CollectorThreshold.running == 1
    running.restore()
    assert gc.get_threshold()[0] == 700


@pytest.mark.parametrize("before", [50000, 0], ids=["higher", "collection-off"])
def test_a_higher_threshold_or_collection_off_is_left_as_it_is(threshold, before):
    gc.set_threshold(before)
    crawl = extension(7000)
    crawl.raise_threshold()
    assert gc.get_threshold()[0] == before
    crawl.restore()
    assert gc.get_threshold()[0] == before


def test_off_at_zero():
    with pytest.raises(NotConfigured):
        extension(0)


def test_put_back_when_the_spider_closes_on_a_crawl_refused_at_its_start(threshold):
    # Scrapy 2.19: a component refusing to start (CloseSpider as the spider opens) closes the
    # spider, and the engine, never started, sends no engine_stopped
    crawler = get_crawler(settings_dict={"GC_THRESHOLD": 7000, "EXTENSIONS": {"spiders.collector.CollectorThreshold": 500}})
    collector = CollectorThreshold.from_crawler(crawler)  # the crawl holds it (signals hold theirs weakly)
    crawler.signals.send_catch_log(signals.spider_opened, spider=None)
    assert gc.get_threshold()[0] == 7000
    crawler.signals.send_catch_log(signals.spider_closed, spider=None, reason="cannot_start")
    assert gc.get_threshold()[0] == 700 and CollectorThreshold.running == 0
    crawler.signals.send_catch_log(signals.engine_stopped)  # a crawl that ran sends both: once is counted
    assert collector.opened is False
    assert gc.get_threshold()[0] == 700 and CollectorThreshold.running == 0

