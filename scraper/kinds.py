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
    # What else a thread page leads to (scraper.post_extras), the portal (scraper.portal) and
    # members' profile pages (scraper.user_pages).
    COMMENTMORE = "commentmore"  # forum.php?mod=misc&action=commentmore&inajax=1: a post's 点评, page N
    VIEWRATINGS = "viewratings"  # forum.php?mod=misc&action=viewratings: every rating of a post
    PORTAL_LIST = "portal_list"  # portal.php, or a category list (mod=list&catid=N)
    PORTAL_ARTICLE = "portal_article"  # one page of an article (mod=view&aid=N)
    PORTAL_COMMENTS = "portal_comments"  # an article's comment list (mod=comment&id=N&idtype=aid)
    PROFILE = "profile"  # home.php?mod=space&uid=N&do=profile
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
    NO_ARTICLE = "no_article"  # the same for a portal article
    NO_COMMENTS = "no_comments"  # the same for a portal comment list
    NO_PROFILE = "no_profile"  # a profile page that shows no profile facts
    NO_PORTAL = "no_portal"  # portal.php, asked once a site, answers 404 or a message: no portal
    # What the crawl itself records.
    PARSE_ERROR = "parse_error"  # the parser crashed (a bug): the page is kept for a re-parse
    NETWORK = "network"  # no response at all
    # What the crawl refused to fetch (spiders.refusals): recorded, never requested.
    OFFSITE = "offsite"  # a redirect off the site
    PRIVATE_ADDRESS = "private_address"  # a host on a loopback, private or link-local address
    TOO_LARGE = "too_large"  # over DOWNLOAD_MAXSIZE, on the wire or once decompressed
    ROBOTS = "robots"  # the site's robots.txt forbids it (ROBOTSTXT_OBEY)

    def through_api(self) -> PageKind:
        """The mobile API's answer that stands for this page: thread -> api_thread."""
        return PageKind(f"api_{self}")

    @property
    def fills(self) -> str:
        """The FetchedPage field a page asked as this kind fills: thread, forum, index,
        comment_page, ratings_page, portal_list, portal_article, portal_comments or user_profile."""
        return _FILLS[self]


_FILLS = {
    PageKind.THREAD: "thread",
    PageKind.API_THREAD: "thread",
    PageKind.FORUM: "forum",
    PageKind.API_FORUM: "forum",
    PageKind.INDEX: "index",
    PageKind.API_INDEX: "index",
    PageKind.COMMENTMORE: "comment_page",
    PageKind.VIEWRATINGS: "ratings_page",
    PageKind.PORTAL_LIST: "portal_list",
    PageKind.PORTAL_ARTICLE: "portal_article",
    PageKind.PORTAL_COMMENTS: "portal_comments",
    PageKind.PROFILE: "user_profile",
}
