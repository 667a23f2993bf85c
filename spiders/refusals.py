"""Requests the archiver refuses to make or to finish, and how each is recorded.

A refusal reaches the request's errback (the spider's ``network_error``), which records the
page with the refusal's kind instead of ``network``: ``offsite`` (a redirect off the site),
``private_address`` (an address inside the network the crawl runs in), ``too_large`` (a body
over DOWNLOAD_MAXSIZE, on the wire or once decompressed). Scrapy cancels an oversized
download and drops an oversized decompression with exceptions of its own: ``refusal_of``
tells them apart from the network's failures.
"""

from __future__ import annotations

from scrapy.exceptions import DownloadCancelledError, IgnoreRequest
from twisted.python.failure import Failure


class Refused(IgnoreRequest):
    """A request not made, or its answer not kept; ``kind`` is what the page is recorded as,
    ``status`` the status of the answer that led to it (0 when there was none)."""

    def __init__(self, kind: str, message: str, status: int = 0):
        super().__init__(message)
        self.kind, self.message, self.status = kind, message, status


def refusal_of(failure: Failure) -> Refused | None:
    """The refusal a failed request's failure stands for, or None for a network failure."""
    error = failure.value
    if isinstance(error, Refused):
        return error
    message = str(error)
    if isinstance(error, IgnoreRequest) and "DOWNLOAD_MAXSIZE" in message:  # HttpCompressionMiddleware
        return Refused("too_large", f"over the size cap once decompressed: {message}")
    if isinstance(error, DownloadCancelledError) and "max size" in message:  # the download handler
        return Refused("too_large", f"over the size cap on the wire: {message}")
    return None
