"""The spider's contract with its page reader (pipelines.reader): storage registers the reader and
decides whether a page keeps its bytes for raw_pages; without a registered reader the spider
reads in its own process, under the same settings."""

import asyncio
from pathlib import Path

from scrapy.utils.test import get_crawler

from pipelines.reader import InProcessReader, page_reader, register_page_reader
from scraper.models import FetchedPage

PAGE = Path(__file__).parent.parent / "sample_forum/v1/thread-2-1-1.html"


def fetched() -> FetchedPage:
    body = PAGE.read_bytes()
    return FetchedPage("http://127.0.0.1:8080/thread-2-1-1.html", "127.0.0.1:8080", "thread", 200,
                       "2026-11-27T00:00:00+00:00", len(body), "x", asked_as="thread")


def test_without_a_registered_reader_pages_are_read_here_and_keep_their_bytes_as_the_settings_say():
    for setting, kept in (("0", False), ("1", True)):
        crawler = get_crawler(settings_dict={"ARCHIVE_RAW_PAGES": setting})
        reader = page_reader(crawler)
        assert isinstance(reader, InProcessReader) and page_reader(crawler) is reader
        page, crash = asyncio.run(reader(fetched(), PAGE.read_bytes()))
        assert crash is None
        assert page.thread.tid == 2 and page.thread.title == "公文写作中常见的十个错误"
        assert (page.body == PAGE.read_bytes()) if kept else page.body is None


def test_a_registered_reader_is_the_one_the_spider_gets():
    crawler = get_crawler(settings_dict={"ARCHIVE_RAW_PAGES": "1"})
    reader = InProcessReader(keep_raw_pages=False)
    register_page_reader(crawler, reader)
    assert page_reader(crawler) is reader
