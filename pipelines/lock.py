"""The archive's lock: one run writes an archive at a time."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class ArchiveLocked(RuntimeError):
    """The archive is held by someone else: another crawl (ArchiveLock), or another program
    that kept SQLite's write lock through every attempt (pipelines.store)."""


class ArchiveLock:
    """An exclusive lock beside the archive, so two runs never interleave their writes.

    flock is released by the OS when the process ends, however it ends (kill -9 included),
    so a dead crawl never leaves a stale lock behind.
    """

    def __init__(self, db_path: str | Path) -> None:
        self.path = Path(f"{db_path}.lock")
        self.file = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        file = open(self.path, "a+")
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.seek(0)
            holder = file.read().strip() or "unknown"
            file.close()
            raise ArchiveLocked(
                f"{self.path.with_suffix('')} is being written by another crawl (pid {holder}); "
                "this run stops without touching it"
            ) from None
        file.seek(0)
        file.truncate()
        file.write(str(os.getpid()))
        file.flush()
        self.file = file

    def release(self) -> None:
        if self.file is not None:
            fcntl.flock(self.file, fcntl.LOCK_UN)
            self.file.close()
            self.file = None

