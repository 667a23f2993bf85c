"""The content-addressed folder the media store keeps files in: ``<root>/<2 hex>/<sha256>``.

A file is written under a temporary name in the same folder, synced, then renamed to its
final name: a reader (datasette, a WARC export, a crawl that stops half way) never sees half a
file under a final name. The same bytes again are not written again.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

BLOCK = 1 << 20  # bytes hashed and written at a time


def stored_path(sha256: str) -> str:
    """Where a file lives, relative to the store's root (what attachments.stored_path holds)."""
    return f"{sha256[:2]}/{sha256}"


def default_root(archive: str | Path) -> Path:
    """The store beside the archive: ``forum.db`` keeps its files in ``forum.db.media/``."""
    return Path(str(archive) + ".media")


class MediaStore:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    def path(self, sha256: str) -> Path:
        return self.root / stored_path(sha256)

    def has(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def put(self, body: bytes | memoryview) -> tuple[str, int, bool]:
        """Store the bytes under their SHA-256; returns (sha256, size, whether newly written).

        The bytes are hashed and written a block at a time into a temporary file, which is
        renamed to its hash when complete; bytes the store has already are dropped.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        view = memoryview(body)
        handle, temp = tempfile.mkstemp(prefix=".part-", dir=self.root)
        try:
            with os.fdopen(handle, "wb") as out:
                for start in range(0, len(view), BLOCK):
                    block = view[start : start + BLOCK]
                    digest.update(block)
                    out.write(block)
                out.flush()
                os.fsync(out.fileno())
            sha256 = digest.hexdigest()
            final = self.path(sha256)
            if final.is_file():
                os.unlink(temp)
                return sha256, len(view), False
            final.parent.mkdir(exist_ok=True)
            os.replace(temp, final)  # atomic on one file system: the whole file or none
            return sha256, len(view), True
        except BaseException:
            if os.path.exists(temp):
                os.unlink(temp)
            raise

    def clean_parts(self) -> int:
        """Remove the temporary files an interrupted run left; returns how many."""
        parts = list(self.root.glob(".part-*")) if self.root.is_dir() else []
        for part in parts:
            part.unlink(missing_ok=True)
        return len(parts)
