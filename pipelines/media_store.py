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
        They are hashed and written a block at a time (see Part)."""
        part = self.part()
        try:
            view = memoryview(body)
            for start in range(0, len(view), BLOCK):
                part.write(view[start : start + BLOCK])
            return part.finish()
        except BaseException:
            part.abort()
            raise

    def part(self) -> Part:
        """A file to write as its bytes arrive (a download in pieces), stored when finished."""
        self.root.mkdir(parents=True, exist_ok=True)
        return Part(self)

    def clean_parts(self) -> int:
        """Remove the temporary files an interrupted run left; returns how many."""
        parts = list(self.root.glob(".part-*")) if self.root.is_dir() else []
        for part in parts:
            part.unlink(missing_ok=True)
        return len(parts)


class Part:
    """A file being written under a temporary name in the store, hashed as it is written;
    ``finish`` renames it to its SHA-256 (or drops it when the store has those bytes already),
    ``abort`` removes it. Whatever happens, no half file ever has a final name."""

    def __init__(self, store: MediaStore):
        self.store = store
        handle, self.temp = tempfile.mkstemp(prefix=".part-", dir=store.root)
        self.out = os.fdopen(handle, "wb")
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes | memoryview) -> None:
        self.digest.update(data)
        self.out.write(data)
        self.size += len(data)

    def finish(self) -> tuple[str, int, bool]:
        """(sha256, size, whether newly written)."""
        try:
            self.out.flush()
            os.fsync(self.out.fileno())
            self.out.close()
            sha256 = self.digest.hexdigest()
            final = self.store.path(sha256)
            if final.is_file():
                os.unlink(self.temp)
                return sha256, self.size, False
            final.parent.mkdir(exist_ok=True)
            os.replace(self.temp, final)  # atomic on one file system: the whole file or none
            return sha256, self.size, True
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        self.out.close()
        if os.path.exists(self.temp):
            os.unlink(self.temp)
