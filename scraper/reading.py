"""Read one fetched page into its FetchedPage record: decode it, parse it with the parser for
what was asked, and record a problem on the record instead of raising. The spider and the
re-parse command both read pages here, so a re-parse gives the rows the crawl gave.
"""

from __future__ import annotations

import traceback
from datetime import datetime

from scraper.discuz import parse_thread_html
from scraper.encoding import decode_html
from scraper.listing import parse_forum_html, parse_index_html
from scraper.markup import PageProblem
from scraper.mobile_api import parse_api_forum, parse_api_index, parse_api_thread
from scraper.models import FetchedPage
from scraper.profiles import Profile

# What was asked for -> its parser; the mobile API's answers fill the same dataclasses.
PARSERS = {
    "thread": parse_thread_html,
    "forum": parse_forum_html,
    "index": parse_index_html,
    "api_thread": parse_api_thread,
    "api_forum": parse_api_forum,
    "api_index": parse_api_index,
}


def read_page_into(
    fetched: FetchedPage,
    body: bytes,
    *,
    utc_offset: str | None = None,
    posts_per_page: int | None = None,
    profiles: tuple[Profile, ...] = (),
) -> Exception | None:
    """Fill ``fetched`` from ``body``: charset, and the parsed page in its field (thread, forum
    or index, by ``fetched.asked_as``), or ``kind`` and ``error`` saying what it is instead.

    ``profiles`` are the user's selector profiles (scraper.profiles), for thread pages.
    Returns an unexpected exception (a parser bug, recorded as kind "parse_error") for the
    caller to log; one bad page never costs more than itself.
    """
    try:
        decoded = decode_html(body, fetched.content_type)
        fetched.charset = decoded.charset
        if decoded.mismatch:
            fetched.declared_charset = decoded.declared
        extra = {"posts_per_page": posts_per_page} if fetched.asked_as.endswith("thread") else {}
        if fetched.asked_as == "thread":
            extra["profiles"] = profiles
        result = PARSERS[fetched.asked_as](
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
        fetched.kind, fetched.error = "parse_error", f"{type(exc).__name__}: {exc}"
        return exc
    if fetched.status >= 400:
        fetched.error = with_status(fetched.status, "the server answered with an error")
    if cut := getattr(result, "cut_short", None):  # what it holds is kept; it is read again
        fetched.kind, fetched.error = "broken", with_status(fetched.status, cut)
    setattr(fetched, fetched.asked_as.removeprefix("api_"), result)
    return None


def read_page_logged_elsewhere(fetched: FetchedPage, body: bytes, **parse_kwargs) -> tuple[FetchedPage, str | None]:
    """read_page_into for a caller that logs in another place or process: the page, and a
    parser crash's traceback as text (None when there was none)."""
    crash = read_page_into(fetched, body, **parse_kwargs)
    return fetched, None if crash is None else "".join(traceback.format_exception(crash))


def with_status(status: int, message: str) -> str:
    return f"HTTP {status}: {message}" if status >= 400 else message
