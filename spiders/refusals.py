"""The spider's side of refused requests (pipelines.refusals says what a refusal is and how
it is recorded): ``SizeCap`` marks a download that passes DOWNLOAD_MAXSIZE as it arrives, and
``robots_summary`` is the end-of-crawl word on the pages robots.txt forbade.
"""

from __future__ import annotations

from weakref import WeakKeyDictionary

from scrapy import signals

from pipelines.refusals import OVER_THE_CAP


class SizeCap:
    """Marks a download whose body passes DOWNLOAD_MAXSIZE as it arrives: Scrapy cancels it
    with an error that says nothing when the length was not announced (chunked, or up to
    the close), and the errback then tells it by this mark."""

    def __init__(self, crawler):
        self.maxsize = crawler.settings.getint("DOWNLOAD_MAXSIZE")
        self.received: WeakKeyDictionary = WeakKeyDictionary()  # request -> bytes so far
        crawler.signals.connect(self.bytes_received, signal=signals.bytes_received)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def bytes_received(self, data: bytes, request, spider) -> None:
        received = self.received[request] = self.received.get(request, 0) + len(data)
        maxsize = request.meta.get("download_maxsize", self.maxsize)
        if maxsize and received > maxsize:
            request.meta[OVER_THE_CAP] = received


def robots_summary(refused: dict[str, int]) -> str | None:
    """The end-of-crawl word on the follow-up pages robots.txt forbade, by what they were asked
    as: a stock Discuz forbids ?mod=misc, every 点评 and full ratings list, dozens a forum."""
    if not refused:
        return None
    kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(refused.items()))
    return (
        f"{sum(refused.values())} pages not read ({kinds}): the site's robots.txt forbids them"
        " (Discuz's own disallows ?mod=misc, the 点评 and full ratings lists), so posts keep the"
        " 点评 and ratings their pages show. With the owner's consent, -s ROBOTSTXT_OBEY=False"
        " reads them; the next run asks for them again."
    )
