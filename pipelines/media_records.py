"""What the media store tells the archive, as items the archive's single writer stores: a file
kept (``MediaFile``), and what became of an attachment (``AttachmentFile``), a post's image
(``PostImageFile``) or a portal article's image (``PortalImageFile``). The media pipeline runs
in the crawl's process; these go through the archive pipeline like the spider's items, so the
worker process stays the archive's only writer.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import ClassVar

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
class ImageFile:
    """An image of a post or of a portal article (``owner``: its pid or aid), by the URL it
    shows, and what became of it; a row of ``TABLE``, whose column for the owner is ``OWNER``."""

    TABLE: ClassVar[str]
    OWNER: ClassVar[str]
    site: str
    owner: int
    url: str
    status: str
    fetched_at: str
    sha256: str | None = None
    message: str | None = None

    def row(self) -> dict:
        row = vars(self).copy()
        row[self.OWNER] = row.pop("owner")
        return row


class PostImageFile(ImageFile):
    TABLE, OWNER = "post_images", "pid"


class PortalImageFile(ImageFile):
    """Any page of the article: an article's images are its pages' together."""

    TABLE, OWNER = "portal_images", "aid"


MEDIA_ITEMS = (MediaFile, AttachmentFile, ImageFile)


def save_media_record(db: Database, item: MediaFile | AttachmentFile | ImageFile, counts: Counter[str]) -> None:
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
        upsert(db, item.TABLE, item.row())
