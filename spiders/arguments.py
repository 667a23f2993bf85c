"""The discuz spider's arguments (``-a name=value``): checked and turned into values once, at
start, so that a wrong one stops the crawl with a message that names it."""

from __future__ import annotations

from http.cookiejar import LoadError, MozillaCookieJar
from pathlib import Path

from scraper.dates import parse_discuz_time
from scraper.profiles import Profile
from scraper.profiles_file import profiles_from_toml
from scraper.urls import desktop_thread_url, split_urls

SOURCES = ("pages", "api")


def seeds(url: str | None) -> list[str]:
    """The URLs given, thread URLs in the desktop form the archive keeps."""
    return [desktop_thread_url(seed) for seed in split_urls(url)] if url else []


def forum_ids(forums: str | None) -> set[int] | None:
    return {int(fid) for fid in split_urls(forums)} if forums else None


def since_date(since: str | None) -> str | None:
    if not since:
        return None
    date = parse_discuz_time(since)
    if date is None:
        raise ValueError(f"since={since!r} is not a date (use e.g. 2024-01-01)")
    return date


def source(value: str) -> str:
    if value not in SOURCES:
        raise ValueError(f"source={value!r}: use pages (the HTML pages) or api (the mobile API)")
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
        jar.load(path, ignore_discard=True, ignore_expires=True)
    except (OSError, LoadError) as error:
        raise ValueError(f"cookies={path}: not a readable cookies.txt (Netscape format): {error}") from None
    for cookie in jar:
        if cookie.expires == 0:  # exporters write session cookies with expiry 0: keep sending them
            cookie.expires = None
    return jar


def flag(name: str, value: str | None) -> bool:
    """A yes/no argument: 1, true, yes (or 0, false, no); absent is no."""
    if value is None:
        return False
    answer = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}.get(value.strip().lower())
    if answer is None:
        raise ValueError(f"{name}={value!r}: use 1 (yes) or 0 (no)")
    return answer
