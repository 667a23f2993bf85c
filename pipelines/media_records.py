"""What the media store tells the archive, as items the archive's single writer stores: a file
kept (``MediaFile``), and what became of an attachment (``AttachmentFile``) or a post's image
(``PostImageFile``). The media pipeline runs in the crawl's process; these go through the
archive pipeline like the spider's items, so the worker process stays the archive's only writer.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlite_utils import Database

from pipelines.sql import insert, upsert


@dataclass
class MediaFile:
    """A distinct file in the store, by the SHA-256 of its bytes."""

    sha256: str
    size: int
    content_type: str | None
    first_url: str
    fetched_at: str


@dataclass
class AttachmentFile:
    """An attachment's file: ``status`` stored (``sha256`` and ``stored_path`` then say where),
    or why not (scraper.media_answers)."""

    site: str
    aid: int
    status: str
    fetched_at: str
    sha256: str | None = None
    stored_path: str | None = None
    message: str | None = None


@dataclass
class PostImageFile:
    """An image of a post, by the URL the post shows, and what became of it."""

    site: str
    pid: int
    url: str
    status: str
    fetched_at: str
    sha256: str | None = None
    message: str | None = None


MEDIA_ITEMS = (MediaFile, AttachmentFile, PostImageFile)


def save_media_record(db: Database, item: MediaFile | AttachmentFile | PostImageFile, counts: Counter[str]) -> None:
    if isinstance(item, MediaFile):
        # the first URL and time the bytes were met stay: the same bytes again change nothing
        insert(db, "media", vars(item), or_ignore=True)
        counts["archive/media_files"] += 1
    elif isinstance(item, AttachmentFile):
        upsert(db, "attachments", {
            "site": item.site, "aid": item.aid, "file_status": item.status, "file_message": item.message,
            "sha256": item.sha256, "stored_path": item.stored_path, "file_fetched_at": item.fetched_at,
        })  # fmt: skip
    else:
        upsert(db, "post_images", vars(item))
