"""Fill one fetched page's FetchedPage record from its bytes: decode them, parse the page with
the parser for what was asked, and record a problem on the record instead of raising. The spider and the
re-parse command both read pages here, so a re-parse gives the rows the crawl gave.
"""

from __future__ import annotations

import traceback
from datetime import datetime
from urllib.parse import urlsplit

from scraper.encoding import decode_ajax, decode_html
from scraper.kinds import PageKind
from scraper.forum_index import parse_index_html
from scraper.html_page import without_refused_references
from scraper.listing import parse_forum_html
from scraper.mobile_api import parse_api_forum, parse_api_index, parse_api_thread
from scraper.listing_profiles import ListingProfile
from scraper.models import FetchedPage
from scraper.portal import parse_article_page, parse_comment_list, parse_portal_list
from scraper.post_extras import parse_commentmore, parse_viewratings
from scraper.problems import PageProblem
from scraper.profiles import Profile
from scraper.thread import parse_thread_html
from scraper.user_pages import parse_profile

# What was asked for -> its parser; the mobile API's answers fill the same dataclasses.
PARSERS = {
    PageKind.THREAD: parse_thread_html,
    PageKind.FORUM: parse_forum_html,
    PageKind.INDEX: parse_index_html,
    PageKind.API_THREAD: parse_api_thread,
    PageKind.API_FORUM: parse_api_forum,
    PageKind.API_INDEX: parse_api_index,
    PageKind.COMMENTMORE: parse_commentmore,
    PageKind.VIEWRATINGS: parse_viewratings,
    PageKind.PORTAL_LIST: parse_portal_list,
    PageKind.PORTAL_ARTICLE: parse_article_page,
    PageKind.PORTAL_COMMENTS: parse_comment_list,
    PageKind.PROFILE: parse_profile,
}
# Asked with inajax=1: an XML answer whose charset only its declaration names.
AJAX = {PageKind.COMMENTMORE, PageKind.VIEWRATINGS}


def fill_fetched_page(fetched: FetchedPage, body: bytes, **parse_kwargs) -> Exception | None:
    """Fill ``fetched`` from ``body``: charset, and the parsed page in its field (thread, forum,
    index, comment_page …: PageKind.fills of ``fetched.asked_as``), or ``kind`` and ``error``
    saying what it is instead. Keywords: those of ``_fill``.

    Returns an unexpected exception (a parser bug, recorded as kind "parse_error") for the
    caller to log; one bad page never costs more than itself.
    """
    kind, error = fetched.kind, fetched.error
    crash = _fill(fetched, body, **parse_kwargs)
    if isinstance(crash, ValueError) and (cleaned := without_refused_references(body)) is not body:
        # lxml refuses a text or an attribute holding a character XML refuses, which libxml2
        # makes of a reference to one: read again without them (the raw ones are dropped
        # before every parse already)
        fetched.kind, fetched.error = kind, error
        crash = _fill(fetched, cleaned, **parse_kwargs)
    if _no_portal(fetched):
        # a forum without the portal: a fact about the site, not an error of every run
        fetched.kind, fetched.error, fetched.portal_list = PageKind.NO_PORTAL, None, None
    return crash


def _no_portal(fetched: FetchedPage) -> bool:
    """Whether the portal's index (portal.php, asked once a site) says there is no portal:
    the web server's 404, or Discuz's message that the portal is off."""
    url = urlsplit(fetched.url)
    if fetched.asked_as != PageKind.PORTAL_LIST or url.query or not url.path.endswith("/portal.php"):
        return False
    return fetched.status in (404, 410) or fetched.kind in (PageKind.MISSING, PageKind.CLOSED)


def _fill(
    fetched: FetchedPage,
    body: bytes,
    *,
    utc_offset: str | None = None,
    posts_per_page: int | None = None,
    profiles: tuple[Profile | ListingProfile, ...] = (),
) -> Exception | None:
    """``profiles`` are the user's selector profiles (scraper.profiles), for thread pages and
    forum lists."""
    try:
        asked = PageKind(fetched.asked_as)
        decoded = (decode_ajax if asked in AJAX else decode_html)(body, fetched.content_type)
        fetched.charset = decoded.charset
        if decoded.mismatch:
            fetched.declared_charset = decoded.declared
        parse = PARSERS[asked]
        extra = {"posts_per_page": posts_per_page} if asked.fills == "thread" else {}
        if asked in (PageKind.THREAD, PageKind.FORUM):  # the API's answers have no markup to select
            extra["profiles"] = profiles
        result = parse(
            decoded.text,
            fetched.url,
            fetched_at=datetime.fromisoformat(fetched.fetched_at),
            utc_offset=utc_offset,
            **extra,
        )
    except PageProblem as problem:
        fetched.kind, fetched.error = problem.kind, with_status(fetched.status, problem.message)
        return None
    except Exception as exc:  # noqa: BLE001 - recorded on the page, returned to be logged
        fetched.kind, fetched.error = PageKind.PARSE_ERROR, f"{type(exc).__name__}: {exc}"
        return exc
    if fetched.status >= 400:
        fetched.error = with_status(fetched.status, "the server answered with an error")
    if cut := getattr(result, "cut_short", None):  # what it holds is kept; it is read again
        fetched.kind, fetched.error = PageKind.BROKEN, with_status(fetched.status, cut)
    setattr(fetched, asked.fills, result)
    return None


def fill_fetched_page_with_traceback(fetched: FetchedPage, body: bytes, **parse_kwargs) -> tuple[FetchedPage, str | None]:
    """fill_fetched_page for a caller that logs in another place or process: the page, and a
    parser crash's traceback as text (None when there was none)."""
    crash = fill_fetched_page(fetched, body, **parse_kwargs)
    return fetched, None if crash is None else "".join(traceback.format_exception(crash))


def with_status(status: int, message: str) -> str:
    return f"HTTP {status}: {message}" if status >= 400 else message
