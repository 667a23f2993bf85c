"""The spider's contract with the component that reads its pages: ``PageReader``.

The spider downloads a page and awaits its reading (decode, parse) into its FetchedPage; where
that reading happens belongs to storage, not to the spider. A component registers its reader
on the crawler with ``register_page_reader`` before the crawl's first response (the archive's
pipeline does in ``open_spider``: its worker process's ``read``, or an ``InProcessReader``);
the spider looks it up with ``page_reader`` on every page, and gets the in-process reader when
no component registered one (a distributed worker, whose items go to Redis).

Storage also decides whether a page keeps its bytes for the raw_pages table (the setting
``ARCHIVE_RAW_PAGES``): every reader sets ``fetched.body`` when it does; the spider never does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from scraper.models import FetchedPage
from scraper.reading import fill_fetched_page_with_traceback

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings


class PageReader(Protocol):
    """Reads ``body`` into ``fetched``; returns the page as the spider needs it (its bytes,
    posts' text and authors may be left out), and a parser crash's traceback as text (or None)."""

    async def __call__(
        self, fetched: FetchedPage, body: bytes, /, **parse_kwargs: Any
    ) -> tuple[FetchedPage, str | None]: ...


def keeps_raw_pages(settings: BaseSettings) -> bool:
    """Whether pages keep their bytes for raw_pages: the setting ``ARCHIVE_RAW_PAGES``."""
    return settings.getbool("ARCHIVE_RAW_PAGES")


class InProcessReader:
    """The ``PageReader`` that reads in the crawl's own process."""

    def __init__(self, keep_raw_pages: bool = False) -> None:
        self.keep_raw_pages = keep_raw_pages

    async def __call__(
        self, fetched: FetchedPage, body: bytes, /, **parse_kwargs: Any
    ) -> tuple[FetchedPage, str | None]:
        if self.keep_raw_pages:
            fetched.body = body
        return fill_fetched_page_with_traceback(fetched, body, **parse_kwargs)


_ATTRIBUTE = "page_reader"  # where the crawler holds its reader


def register_page_reader(crawler: Crawler, reader: PageReader) -> None:
    """Make ``reader`` the one the spider of this crawl reads its pages with."""
    setattr(crawler, _ATTRIBUTE, reader)


def page_reader(crawler: Crawler) -> PageReader:
    """The reader registered for this crawl; the first call without one registers an
    ``InProcessReader`` that follows the crawl's settings."""
    reader = getattr(crawler, _ATTRIBUTE, None)
    if reader is None:
        reader = InProcessReader(keeps_raw_pages(crawler.settings))
        register_page_reader(crawler, reader)
    return reader
