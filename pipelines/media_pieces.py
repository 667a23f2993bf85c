"""Large files in pieces: how the media store (pipelines.media) keeps its memory flat.

Where this differs from Scrapy's FilesPipeline, and why: Scrapy's download handlers hand a
response over whole (its body is one bytes object), and FilesPipeline keeps each file in
memory whole, and once more in a BytesIO, so memory grows with the largest file. The store
asks for a file in pieces of ``ARCHIVE_MEDIA_PIECE`` bytes (the first of at most 1 MB) with
``Range: bytes=a-b``, each piece a normal Scrapy request through the engine (it shares the
site's politeness, the allow-list and the size cap), and appends each to a file in the store
(pipelines.media_store.Part), hashed as it goes and renamed to its SHA-256 at the end. At
most a piece or two are in memory at a time, whatever the file's size.

Servers answer a Range three ways:

- as asked (206, Content-Range ``bytes a-b/total``): static files behind any web server;
- from the start asked to the end of the file (206): Discuz's own attachment module
  (forum.php?mod=attachment, with its attachment read mode 4), which reads only the start of
  the Range and writes ``Content-Range: bytes=a-end/total``. The download of such a piece is
  stopped once it has its bytes (``StopDownload(fail=False)`` from the ``bytes_received``
  signal), so the rest of the file never sits in memory;
- not at all (200 with the whole body): the store takes the body whole, as before pieces,
  under the size cap (``download_maxsize``).
"""

from __future__ import annotations

import re

from scrapy import Request, signals
from scrapy.exceptions import StopDownload

PIECE = 8 * 1024 * 1024
FIRST_PIECE = 1024 * 1024
WANTED = "archive_media_piece"  # request.meta: the bytes the piece asks for
STOP_AT = "archive_media_stop_at"  # request.meta: set when the answer is a piece: stop the download there
RECEIVED = "archive_media_received"  # request.meta: bytes of the answer so far
# "bytes 0-99/1000" (RFC 9110), "bytes=0-99/1000" (Discuz), "*" for a total the server does not know
_CONTENT_RANGE = re.compile(rb"^\s*bytes[ =]\s*(\d+)\s*-\s*(\d+)\s*/\s*(\d+|\*)\s*$", re.I)


class PieceError(Exception):
    """A piece that is not the one asked for: recorded as the download's error. ``changed``:
    the bytes are not where they were (the file changed), so what came before is dropped."""

    def __init__(self, message: str, changed: bool = False):
        super().__init__(message)
        self.changed = changed


def content_range(headers) -> tuple[int, int, int | None] | None:
    """(first byte, last byte, total or None) of a 206 answer's Content-Range, or None."""
    match = _CONTENT_RANGE.match(headers.get(b"Content-Range") or b"")
    if not match:
        return None
    return int(match[1]), int(match[2]), None if match[3] == b"*" else int(match[3])


def ask_piece(request: Request, start: int, size: int) -> Request:
    """``request`` for the bytes ``start`` to ``start + size - 1``."""
    request.headers[b"Range"] = f"bytes={start}-{start + size - 1}".encode()
    request.meta[WANTED] = size
    return request


class PieceStopper:
    """Stops the download of a piece whose server sends more than was asked (Discuz's to the
    end of the file) once the piece's bytes are in: the response is then handed over with
    what came, flagged ``download_stopped``."""

    def __init__(self, crawler):
        crawler.signals.connect(self.headers_received, signal=signals.headers_received)
        crawler.signals.connect(self.bytes_received, signal=signals.bytes_received)

    def headers_received(self, headers, body_length, request, spider) -> None:
        wanted = request.meta.get(WANTED)
        if wanted and content_range(headers) is not None:  # not a 200 with the whole file: that is kept whole
            request.meta[STOP_AT] = wanted

    def bytes_received(self, data: bytes, request, spider) -> None:
        stop_at = request.meta.get(STOP_AT)
        if stop_at is None:
            return
        received = request.meta[RECEIVED] = request.meta.get(RECEIVED, 0) + len(data)
        if received >= stop_at:
            raise StopDownload(fail=False)


def piece_of(response, offset: int) -> bytes:
    """The bytes of a 206 answer that belong at ``offset``: those its request asked for, not
    more (a server that sends to the end, a download stopped a chunk after the piece's end)."""
    span = content_range(response.headers)
    if span is None:
        raise PieceError(f"HTTP {response.status} without a Content-Range for the piece at byte {offset}")
    start, end, _ = span
    if start != offset:
        raise PieceError(f"asked for the bytes from {offset}, the server sent them from {start}", changed=True)
    wanted = min(response.request.meta.get(WANTED, end - start + 1), end - start + 1)
    body = response.body[:wanted]
    if not body:
        raise PieceError(f"an empty piece at byte {offset}")
    return body
