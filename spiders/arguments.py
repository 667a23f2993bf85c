"""The discuz spider's arguments (``-a name=value``): checked and turned into values once, at
start, so that a wrong one stops the crawl with a message that names it.

``check`` runs them all before the crawl opens anything (the crawl command calls it: a bad
value is one line on stderr and exit status 2, with no request sent and the archive untouched);
the spider turns them into values with the same functions.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from http.cookiejar import LoadError, MozillaCookieJar
from pathlib import Path
from urllib.parse import urlsplit

from pipelines.media import media_mode
from scraper.dates import ABSOLUTE, parse_discuz_time
from scraper.portal import is_portal_url
from scraper.profiles import Profile
from scraper.profiles_file import profiles_from_toml
from scraper.urls import desktop_thread_url, forum_ref, guide_view, is_index_url, split_urls, thread_ref

SOURCES = ("pages", "api")
# What a seed may be, as the messages that refuse one say it.
SEED_KINDS = "a thread, forum listing, guide, category, index or portal (article or list) URL"


class ArgumentError(ValueError):
    """A spider argument the crawl cannot run with; its message names it and what it accepts."""


def check(arguments: dict[str, str]) -> None:
    """Every argument given (``-a name=value``), checked as the spider will read it; the
    first bad one raises ArgumentError. Reads the cookies and profiles files, fetches nothing."""
    readers = {
        "url": seeds, "forums": forum_ids, "max_threads": max_threads, "since": since_date, "refresh": refresh,
        "source": source, "media": media, "cookies": load_cookies, "profiles": load_profiles,
        "user_profiles": lambda value: flag("user_profiles", value),
    }
    for name, value in arguments.items():
        if name in readers:
            try:
                readers[name](value)
            except ArgumentError:
                raise
            except ValueError as error:
                raise ArgumentError(str(error)) from None


def seeds(url: str | None) -> list[str]:
    """The URLs given, thread URLs in the desktop form the archive keeps; each must be a
    Discuz page the crawl starts from (a thread, a forum's list, a guide list, a category, the
    index, a portal article or list)."""
    found = [desktop_thread_url(seed) for seed in split_urls(url)] if url else []
    if url is not None and not found:
        raise ArgumentError(f"url= is empty: give {SEED_KINDS}")
    for seed in found:
        parts = urlsplit(seed)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ArgumentError(f"url={seed!r} is not an http(s) address: give e.g. https://bbs.example.com/forum.php")
        if not (thread_ref(seed) or forum_ref(seed) or guide_view(seed) or is_index_url(seed) or is_portal_url(seed)):
            raise ArgumentError(f"url={seed!r} is not a Discuz page to start from: give {SEED_KINDS}")
    return found


def forum_ids(forums: str | None) -> set[int] | None:
    if forums is None:
        return None
    ids = split_urls(forums)
    if not ids or not all(_whole_number(fid) and int(fid) > 0 for fid in ids):
        raise ArgumentError(f"forums={forums!r}: give forum ids, e.g. 2,5")
    return {int(fid) for fid in ids}


def max_threads(value: str | None) -> int | None:
    if value is None:
        return None
    if not _whole_number(value.strip()) or int(value) < 1:
        raise ArgumentError(f"max_threads={value!r}: give a whole number of threads, 1 or more, e.g. 200")
    return int(value)


def since_date(since: str | None) -> datetime | None:
    """The moment ``since`` names: with an offset as given, else a wall-clock time in the
    forum's own time (no tzinfo: the crawl reads it at the offset the forum's pages show)."""
    if since is None:
        return None
    try:
        return datetime.fromisoformat(since.strip())
    except ValueError:
        pass
    # Discuz's own forms (2024-1-1 10:00, 2024/1/1, 2024年1月1日 …), whole: its time reader takes
    # a date wherever it finds one, and would read 2024-01-01T99 as that midnight
    date = parse_discuz_time(since, tz=timezone.utc) if ABSOLUTE.fullmatch(since.strip()) else None
    if date is None:
        raise ArgumentError(f"since={since!r} is not a date: use e.g. 2024-01-01 or 2024-01-01T08:00 (the forum's time)")
    return datetime.fromisoformat(date).replace(tzinfo=None)


def before(last_post_at: str, since: datetime) -> bool:
    """Whether a time the forum showed (ISO 8601, at the forum's offset) is before ``since``;
    a time that is not ISO 8601 (a row another program wrote) is not, so its thread is read."""
    try:
        shown = datetime.fromisoformat(last_post_at)
    except ValueError:
        return False
    if since.tzinfo is None:
        since = since.replace(tzinfo=shown.tzinfo)
    if shown.tzinfo is None:
        shown = shown.replace(tzinfo=since.tzinfo)
    return shown < since


@dataclass(frozen=True)
class Refresh:
    """A refresh policy: ``all``, ``recent`` (threads active in the last ``days``) or
    ``oldest`` (the ``count`` threads read longest ago)."""

    kind: str
    days: float = 0
    count: int = 0

    def __str__(self) -> str:
        return {"all": "all", "recent": f"recent:{self.days:g}", "oldest": f"oldest:{self.count}"}[self.kind]


def refresh(value: str | None) -> Refresh | None:
    """``all``, ``recent:DAYS`` or ``oldest:N``; absent, empty or ``none``: no refresh."""
    if value is None or value.strip() in ("", "none"):
        return None
    kind, colon, number = value.strip().partition(":")
    if kind == "all" and not colon:
        return Refresh("all")
    if kind == "recent" and _whole_number(number.replace(".", "", 1)) and 0 < float(number) <= 36500:
        return Refresh("recent", days=float(number))
    if kind == "oldest" and _whole_number(number) and int(number) > 0:
        return Refresh("oldest", count=int(number))
    raise ArgumentError(f"refresh={value!r}: use all, recent:DAYS (e.g. recent:7) or oldest:N (e.g. oldest:200)")


def source(value: str) -> str:
    if value not in SOURCES:
        raise ArgumentError(f"source={value!r}: use pages (the HTML pages) or api (the mobile API)")
    return value


def media(value: str | None) -> str | None:
    media_mode(value)  # the media store's own reading of it
    return value


def load_profiles(path: str) -> tuple[Profile, ...]:
    """The user's selector profiles; a clear error at start when the file is wrong."""
    try:
        return profiles_from_toml(Path(path).read_text("utf-8"))
    except (OSError, ValueError) as error:  # a file not in UTF-8 is a ValueError too
        raise ValueError(f"profiles={path}: {error}") from None


def load_cookies(path: str) -> MozillaCookieJar:
    """A browser's cookies.txt export; a clear error at start when it cannot be read."""
    jar = MozillaCookieJar()
    try:
        with warnings.catch_warnings():  # http.cookiejar warns of a bad line with its traceback
            warnings.simplefilter("ignore")
            jar.load(path, ignore_discard=True, ignore_expires=True)
    except LoadError:  # its message quotes the bad line, a cookie's value with it: never said
        raise ValueError(f"cookies={path}: not a cookies.txt (Netscape format): a line is not the 7 tab-separated"
                         " fields of one cookie") from None
    except (OSError, ValueError) as error:  # a file not in UTF-8 is a ValueError
        raise ValueError(f"cookies={path}: not a readable cookies.txt (Netscape format): {error}") from None
    for cookie in jar:
        if cookie.expires == 0:  # exporters write session cookies with expiry 0: keep sending them
            cookie.expires = None
    return jar


def _whole_number(text: str) -> bool:
    """ASCII digits only: str.isdigit() holds for ² and ①, which int() refuses."""
    return text.isascii() and text.isdigit()


def flag(name: str, value: str | None) -> bool:
    """A yes/no argument: 1, true, yes (or 0, false, no); absent is no."""
    if value is None:
        return False
    answer = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}.get(value.strip().lower())
    if answer is None:
        raise ValueError(f"{name}={value!r}: use 1 (yes) or 0 (no)")
    return answer
