"""Raw pages: every distinct version of every fetched page, kept zstd-compressed in raw_pages
when ``ARCHIVE_RAW_PAGES`` is on, for ``python -m pipelines.reparse`` to read again offline.
"""

from __future__ import annotations

import zlib

import zstandard
from sqlite_utils import Database

from pipelines.sql import insert
from scraper.models import FetchedPage

# zstd at level 4: pages as small as zlib makes them, for far less CPU (every fetched page
# passes here when raw pages are kept). Bodies written before zstd stay zlib: raw_body reads both.
_COMPRESSOR = zstandard.ZstdCompressor(level=4)
_DECOMPRESSOR = zstandard.ZstdDecompressor()
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"  # every zstd frame starts so; a zlib stream starts with 0x78


def raw_body(blob: bytes) -> bytes:
    """A raw_pages body as fetched: zstd, or zlib in archives written before zstd."""
    if blob[:4] == ZSTD_MAGIC:
        return _DECOMPRESSOR.decompress(blob)
    return zlib.decompress(blob)


def keep_raw_page(db: Database, page: FetchedPage, stamp: str) -> None:
    """Keep the page's bytes (``page.body``), fetched at ``stamp``, unless these bytes are kept."""
    insert(
        db,
        "raw_pages",
        {
            "url": page.url,
            "sha256": page.sha256,
            "site": page.site,
            "fetched_at": stamp,
            "asked_as": page.asked_as,
            "status": page.status,
            "content_type": page.content_type,
            "headers": page.headers,
            "tid": page.tid,
            "body": _COMPRESSOR.compress(page.body),
        },
        or_ignore=True,  # the same bytes again: the first fetch is the one to replay
    )

