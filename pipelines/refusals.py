"""Requests the archiver refuses to make or to finish, and how each is recorded.

A refusal reaches the request's errback (the spider's ``network_error``, the media store's
download), which records the page or file with the refusal's kind instead of ``network``:
``offsite`` (a redirect off the site), ``private_address`` (an address inside the network the
crawl runs in), ``too_large`` (a body over DOWNLOAD_MAXSIZE, on the wire or once decompressed),
``robots`` (robots.txt forbids it). Scrapy cancels an oversized download and drops an
oversized decompression with exceptions of its own: ``refusal_of`` tells them apart from the
network's failures (with spiders.refusals.SizeCap's mark, where Scrapy's error says nothing).
Here, not in spiders/, because storage records them too and never imports the spiders.
"""

from __future__ import annotations

from scrapy.exceptions import DownloadCancelledError, IgnoreRequest
from twisted.python.failure import Failure

from scraper.kinds import PageKind

OVER_THE_CAP = "archive_over_the_cap"  # request.meta: bytes received when it passed DOWNLOAD_MAXSIZE


class Refused(IgnoreRequest):
    """A request not made, or its answer not kept; ``kind`` is what the page is recorded as,
    ``status`` the status of the answer that led to it (0 when there was none).
    ``said_at_end``: the component that refused says it once, at the end of the crawl, so
    the page is logged at DEBUG only."""

    def __init__(self, kind: str, message: str, status: int = 0, said_at_end: bool = False):
        super().__init__(message)
        self.kind, self.message, self.status, self.said_at_end = kind, message, status, said_at_end


def refusal_of(failure: Failure) -> Refused | None:
    """The refusal a failed request's failure stands for, or None for a network failure."""
    error = failure.value
    if isinstance(error, Refused):
        return error
    message = str(error)
    if isinstance(error, IgnoreRequest) and "robots.txt" in message:  # RobotsTxtMiddleware
        # Discuz's stock robots.txt forbids ?mod=misc: the 点评 pages and the full ratings lists
        return Refused(PageKind.ROBOTS, "the site's robots.txt forbids it (the setting ROBOTSTXT_OBEY)")
    if isinstance(error, IgnoreRequest) and "DOWNLOAD_MAXSIZE" in message:  # HttpCompressionMiddleware
        return Refused(PageKind.TOO_LARGE, f"over the size cap once decompressed: {message}")
    if isinstance(error, DownloadCancelledError):  # the download handler
        if "max size" in message:  # the announced length was over the cap
            return Refused(PageKind.TOO_LARGE, f"over the size cap on the wire: {message}")
        if received := failure.request.meta.get(OVER_THE_CAP):
            return Refused(PageKind.TOO_LARGE, f"over the size cap on the wire: {received} bytes received, more than DOWNLOAD_MAXSIZE")
    return None
