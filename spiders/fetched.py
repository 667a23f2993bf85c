"""The record of each answer the discuz spider gets (a FetchedPage), before its page is read."""

from __future__ import annotations

import hashlib

from scrapy.http import Response

from scraper.dates import utc_now_iso
from scraper.kinds import PageKind
from scraper.models import FetchedPage, kept_headers
from scraper.urls import site_of


def fetched_page(response: Response, asked_as: PageKind, tid: int | None = None) -> FetchedPage:
    """What the archive records of an answer before its page is read: where, when, its size,
    hash and headers, and what it was asked as."""
    content_type = response.headers.get(b"Content-Type")
    return FetchedPage(
        url=response.url,
        site=site_of(response.url),
        kind=asked_as,
        status=response.status,
        fetched_at=utc_now_iso(),
        size=len(response.body),
        sha256=hashlib.sha256(response.body).hexdigest(),
        tid=tid,
        asked_as=asked_as,
        content_type=content_type.decode("latin-1") if content_type else None,
        headers=kept_headers(response.headers.items()),
    )

