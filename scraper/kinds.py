"""Every kind of page the archive records (its ``pages.kind`` column): what the crawl asked a
page as, or what the page turned out to be instead. A StrEnum, so each kind is its plain
string wherever it goes: in the archive, in SQL, in stats names and in log lines.
"""

from __future__ import annotations

from enum import StrEnum


class PageKind(StrEnum):
    # What a page was asked as: which parser reads it. The API's answers fill the same
    # dataclasses as the pages they stand for.
    THREAD = "thread"
    FORUM = "forum"
    INDEX = "index"
    API_THREAD = "api_thread"
    API_FORUM = "api_forum"
    API_INDEX = "api_index"
    # What a page was instead (scraper.problems.PageProblem).
    MISSING = "missing"  # a deleted thread or forum
    LOGIN = "login"  # members only, no permission, a password
    CLOSED = "closed"  # the site or the forum is closed
    API_CLOSED = "api_closed"  # the site has the mobile API switched off
    ANTISCRAPING = "antiscraping"  # 防采集's redirect script, a bot check
    EMPTY = "empty"
    BROKEN = "broken"  # cut short, or not HTML (not JSON, for the API)
    ERROR = "error"  # Discuz's other messages, the web server's error pages
    UNKNOWN = "unknown"  # no thread or forum id to file it under
    NO_POSTS = "no_posts"  # a thread page of a template the parser does not know
    NO_LISTING = "no_listing"  # the same for a forum list or the index
    # What the crawl itself records.
    PARSE_ERROR = "parse_error"  # the parser crashed (a bug): the page is kept for a re-parse
    NETWORK = "network"  # no response at all
    # What the crawl refused to fetch (spiders.refusals): recorded, never requested.
    OFFSITE = "offsite"  # a redirect off the site
    PRIVATE_ADDRESS = "private_address"  # a host on a loopback, private or link-local address
    TOO_LARGE = "too_large"  # over DOWNLOAD_MAXSIZE, on the wire or once decompressed

    def through_api(self) -> PageKind:
        """The mobile API's answer that stands for this page: thread -> api_thread."""
        return PageKind(f"api_{self}")

    @property
    def fills(self) -> str:
        """The FetchedPage field a page asked as this kind fills: thread, forum or index."""
        return _FILLS[self]


_FILLS = {
    PageKind.THREAD: "thread",
    PageKind.API_THREAD: "thread",
    PageKind.FORUM: "forum",
    PageKind.API_FORUM: "forum",
    PageKind.INDEX: "index",
    PageKind.API_INDEX: "index",
}
