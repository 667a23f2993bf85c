"""The mobile API's answer (``api/mobile/index.php``): the ``Variables`` it carries, or the
PageProblem it stands for (the API switched off, one of Discuz's messages, an HTML page, no
JSON at all), and the loose values inside it: PHP arrays as lists or objects, every scalar a
string, Unix times. No Scrapy, no I/O.
"""

from __future__ import annotations

import html
import json
import re
from datetime import datetime, timedelta, timezone, tzinfo
from urllib.parse import parse_qs, urlsplit

from parsel import Selector

from scraper.dates import ABSOLUTE, DEFAULT_UTC_OFFSET, parse_offset, wall_clock
from scraper.kinds import PageKind
from scraper.problems import LOGIN_PHRASES, MISSING_PHRASES, PageProblem, problem_of
from scraper.xpath import squash

# Discuz's message keys (Message.messageval), by meaning.
_MISSING_VALUES = re.compile(r"nonexist|not_?exist|_deleted", re.I)
_LOGIN_VALUES = re.compile(r"login|noperm|noallowed|readperm", re.I)
_CLOSED_VALUES = re.compile(r"board_closed|site_closed|bbclosed", re.I)


def answer_variables(body: bytes | str, payload: str) -> dict:
    """The answer's ``Variables``, or the PageProblem it stands for: the API switched off,
    one of Discuz's messages instead of ``payload``, an HTML page, or no JSON at all."""
    if isinstance(body, bytes):
        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise PageProblem(PageKind.BROKEN, f"the API answer is not UTF-8: {error}") from None
    else:
        text = body.lstrip("\ufeff")
    if not text.strip():
        raise PageProblem(PageKind.EMPTY, "the API answer is empty")
    data = _json(text)
    if not isinstance(data, dict):
        raise PageProblem(PageKind.BROKEN, "the API answer is JSON but not an object")
    if data.get("error"):
        error = str(data["error"])
        kind = PageKind.API_CLOSED if error == "mobile_is_closed" else PageKind.ERROR
        raise PageProblem(kind, f"the mobile API says {error!r}" + (" (it is switched off)" if kind == PageKind.API_CLOSED else ""))
    variables = data.get("Variables")
    if not isinstance(variables, dict):
        raise PageProblem(PageKind.BROKEN, "the API answer has no Variables")
    message = data.get("Message")
    if isinstance(message, dict) and not objects_of(variables.get(payload)):
        raise _message_problem(message)
    return variables


def _json(text: str):
    """The answer's JSON; PHP notices printed before it ("<br /><b>Warning</b>: …") are skipped."""
    starts = [0] + [start for start in (text.find('{"Version"'),) if start > 0]
    error = None
    for start in starts:
        try:
            return json.loads(text[start:])
        except RecursionError:
            raise PageProblem(PageKind.BROKEN, "the API answer nests deeper than any answer does") from None
        except json.JSONDecodeError as failed:
            error = error or failed
    if text.lstrip().startswith("<"):  # an HTML page: the login wall, an error page…
        problem = problem_of(Selector(text=text), text, PageKind.BROKEN)
        raise PageProblem(problem.kind, problem.message or "an HTML page where the API's JSON was expected")
    raise PageProblem(PageKind.BROKEN, f"the API answer is not JSON: {error}")


def _message_problem(message: dict) -> PageProblem:
    value = str(message.get("messageval") or "")
    text = str(message.get("messagestr") or "")
    said = f"{value}: {text}" if text and text != value else value or text or "an error without a message"
    if _CLOSED_VALUES.search(value):
        return PageProblem(PageKind.CLOSED, said)
    if _MISSING_VALUES.search(value) or MISSING_PHRASES.search(text):
        return PageProblem(PageKind.MISSING, said)
    if _LOGIN_VALUES.search(value) or LOGIN_PHRASES.search(text):
        return PageProblem(PageKind.LOGIN, said)
    return PageProblem(PageKind.ERROR, said)


# Values: PHP arrays come as lists or objects, every scalar as a string ----------------------


def values_of(value) -> list:
    """A JSON list, or a PHP array with keys (an object), as a list; anything else: []."""
    return list(value.values()) if isinstance(value, dict) else value if isinstance(value, list) else []


def objects_of(value) -> list[dict]:
    """The objects of a list (values_of)."""
    return [item for item in values_of(value) if isinstance(item, dict)]


def as_dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def first_int_of(fields: dict, *keys: str) -> int | None:
    for key in keys:
        if (value := int_of(fields.get(key))) is not None:
            return value
    return None


def query_int(url: str, key: str) -> int | None:
    return int_of((parse_qs(urlsplit(url).query).get(key) or [""])[0])


def int_of(value) -> int | None:
    """The API's numbers are strings ("44"); None for what is no number."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    text = str(value).strip()
    return int(text) if re.fullmatch(r"-?\d+", text) else None


def text_of(value) -> str | None:
    """A name or subject as the page shows it: Discuz stores them HTML-escaped."""
    if value is None:
        return None
    return squash(html.unescape(str(value))) or None


def unix_time(unix, tz: tzinfo) -> str | None:
    seconds = int_of(unix)
    if not seconds:
        return None
    try:
        return datetime.fromtimestamp(seconds, tz).isoformat()
    except (ValueError, OverflowError, OSError):  # no time a calendar has
        return None


def zone_of(utc_offset: str | tzinfo | None, shown: list[tuple[object, object]]) -> tzinfo:
    """The forum's offset: given, else what its formatted times say against the Unix ones
    ("2013-2-18 22:17:00" beside 1361197020 is +08:00), else Discuz's default +08:00."""
    if utc_offset:
        return parse_offset(utc_offset)
    for text, unix in shown:
        seconds = int_of(unix)
        match = ABSOLUTE.search(html.unescape(str(text or "")))
        if not seconds or not match or not match["H"]:
            continue
        try:
            local = wall_clock(match)
            difference = local - datetime.fromtimestamp(seconds, timezone.utc).replace(tzinfo=None)
        except (ValueError, OverflowError, OSError):
            continue
        quarters = round(difference.total_seconds() / 900)
        if abs(quarters) <= 14 * 4 and abs(difference.total_seconds() - quarters * 900) < 120:
            return timezone(timedelta(minutes=quarters * 15))
    return parse_offset(DEFAULT_UTC_OFFSET)
