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
RESUMABLE = ".resume-"  # a download in pieces stopped half way, kept for the next run to go on with
# The mode a file created here would get (the process's umask), for the temporary files that
# tempfile makes private (0600): a stored file is as readable as the archive beside it, and the
# web server of a mirror that links it (python -m export site) can read it.
_UMASK = os.umask(0o022)
os.umask(_UMASK)
FILE_MODE = 0o666 & ~_UMASK


def resumable_name(key: tuple, total: int) -> str:
    """The name of a file's download in pieces, by what the file is to the crawl (an aid, an
    image's URL: pipelines.media's keys) and its size: the same file of another size starts over."""
    return f"{RESUMABLE}{key_hash(key)}-{total}"


def key_hash(key: tuple) -> str:
    return hashlib.sha1(repr(key).encode()).hexdigest()[:24]


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

    def part(self, resume_as: str | None = None) -> Part:
        """A file to write as its bytes arrive (a download in pieces), stored when finished.
        ``resume_as`` (resumable_name): the name it keeps if the download stops half way, and
        from which the next download of the same file goes on (its bytes so far hashed again)."""
        self.root.mkdir(parents=True, exist_ok=True)
        return Part(self, resume_as)

    def clean_parts(self, wanted: set[str] = frozenset()) -> int:
        """Remove the temporary files an interrupted run left, but the downloads in pieces of
        the files ``wanted`` (their key_hash); returns how many."""
        parts = list(self.root.glob(".part-*")) + list(self.root.glob(RESUMABLE + "*")) if self.root.is_dir() else []
        left = [part for part in parts if part.name[len(RESUMABLE) :].split("-")[0] not in wanted]
        for part in left:
            part.unlink(missing_ok=True)
        return len(left)


class Part:
    """A file being written under a temporary name in the store, hashed as it is written;
    ``finish`` renames it to its SHA-256 (or drops it when the store has those bytes already),
    ``abort`` removes it. Whatever happens, no half file ever has a final name."""

    def __init__(self, store: MediaStore, resume_as: str | None = None):
        self.store = store
        self.digest = hashlib.sha256()
        self.size = 0
        self.resumable = resume_as is not None
        if resume_as is None:
            handle, self.temp = tempfile.mkstemp(prefix=".part-", dir=store.root)
            os.fchmod(handle, FILE_MODE)
            self.out = os.fdopen(handle, "wb")
            return
        self.temp = str(store.root / resume_as)
        self.out = open(self.temp, "a+b")
        self.out.seek(0)
        while block := self.out.read(BLOCK):  # the bytes an earlier run got
            self.digest.update(block)
            self.size += len(block)

    def starts_with(self, data: bytes | memoryview) -> bool:
        self.out.seek(0)
        return self.out.read(len(data)) == data

    def restart(self) -> None:
        """Drop the bytes so far (an earlier run's of another version of the file)."""
        self.out.seek(0)
        self.out.truncate()
        self.digest, self.size = hashlib.sha256(), 0

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

    def stop(self) -> None:
        """The download stopped half way: a resumable part is kept for the next run, any other removed."""
        if not self.resumable:
            self.abort()
            return
        self.out.flush()
        os.fsync(self.out.fileno())
        self.out.close()
