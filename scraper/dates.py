"""Discuz post times: local wall-clock strings, absolute or relative, to ISO 8601.

Discuz prints times in the forum's offset with no zone marker ("2013-2-18 22:17:00"), in the
date format the forum is set to (year first by default; "2/18/2013" and "18.2.2013" too), on a
24-hour clock or, as its time format may be set, a 12-hour one ("2013/2/18 10:17 PM"), and
for posts under a week old a relative phrase ("3 天前", "昨天 08:15") whose exact time is in
the wrapping span's title. Relative phrases without a title are resolved against the fetch
time; the phrases are Discuz's own (lang_core.php), in Simplified and Traditional Chinese. The
forum's offset, when not given, is the one its footer prints ("GMT+8").
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone, tzinfo

from dateutil import parser as dateutil_parser

DEFAULT_UTC_OFFSET = "+08:00"

ABSOLUTE = re.compile(
    r"(?:(?P<y>\d{4})[-/.年](?P<m>\d{1,2})[-/.月](?P<d>\d{1,2})日?"
    r"|(?<![\d.])(?P<first>\d{1,2})(?P<sep>[-/.])(?P<second>\d{1,2})(?P=sep)(?P<last_y>\d{4})(?!\d))"
    r"(?:\s+(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?(?:\s*(?P<half>[AaPp][Mm])\b)?)?"
)
_SPACE = r"[\s\xa0]*"
_RELATIVE = [
    (re.compile(rf"(\d+){_SPACE}秒[钟鐘]?前"), lambda n, now: now - timedelta(seconds=n)),
    (re.compile(rf"(\d+){_SPACE}分[钟鐘]前"), lambda n, now: now - timedelta(minutes=n)),
    (re.compile(rf"(\d+){_SPACE}小[时時]前"), lambda n, now: now - timedelta(hours=n)),
    (re.compile(rf"(\d+){_SPACE}天前"), lambda n, now: now - timedelta(days=n)),
]
_HALF_HOUR = re.compile("半小[时時]前")
_JUST_NOW = re.compile("刚刚|剛剛")
_DAY_WORDS = {"昨天": 1, "前天": 2}
_DAY_AND_TIME = re.compile(rf"(昨天|前天){_SPACE}(\d{{1,2}}):(\d{{2}})(?:\s*([AaPp][Mm])\b)?")
_GMT_OFFSET = re.compile(r"GMT\s*([+-]\d{1,2})(?::?(\d{2}))?")


def parse_offset(offset: str | tzinfo) -> tzinfo:
    """'+08:00' (or '+0800', '-05:00') to a tzinfo."""
    if isinstance(offset, tzinfo):
        return offset
    match = re.fullmatch(r"([+-])(\d{1,2}):?(\d{2})?", offset.strip())
    if not match:
        raise ValueError(f"not a UTC offset: {offset!r} (expected e.g. +08:00)")
    sign = -1 if match[1] == "-" else 1
    return timezone(sign * timedelta(hours=int(match[2]), minutes=int(match[3] or 0)))


def footer_offset(text: str) -> tzinfo | None:
    """Discuz prints the forum's offset in the footer: "GMT+8, 2024-1-2 12:00"."""
    match = _GMT_OFFSET.search(text[-6000:])
    if not match or not -12 <= int(match[1]) <= 14:  # the offsets Discuz offers
        return None
    hours = int(match[1])
    minutes = int(match[2] or 0)
    if minutes >= 60:
        return None
    return parse_offset(f"{'-' if hours < 0 else '+'}{abs(hours):02d}:{minutes:02d}")


def page_time(text: str | None, tz: tzinfo, now: datetime | None = None) -> str | None:
    """parse_discuz_time for a time a page prints. A damaged or hostile page may print one no
    calendar has (2013-13-45, year 0, "99999999999 天前"): that is no time, not a crash."""
    if not text:
        return None
    try:  # parse_discuz_time's steps, without its calls (a page reads a time for every post)
        return _resolve(text, tz if isinstance(tz, tzinfo) else parse_offset(tz), now)
    except (ValueError, OverflowError):
        return None


def find_absolute(text: str) -> re.Match | None:
    return ABSOLUTE.search(text)


def parse_discuz_time(
    text: str | None,
    *,
    tz: str | tzinfo = DEFAULT_UTC_OFFSET,
    now: datetime | None = None,
) -> str | None:
    """Turn what Discuz printed into ISO 8601 in the site's offset; None when it is no time.

    ``now`` (an aware datetime, the fetch time) resolves relative phrases; without it they
    give None rather than a guess.
    """
    if not text:
        return None
    zone = parse_offset(tz)
    try:
        return _resolve(text, zone, now)
    except (ValueError, OverflowError):  # 2013-13-45, year 0, "99999999999 天前": no time
        return None


def wall_clock(match: re.Match) -> datetime:
    """The naive datetime an ABSOLUTE match shows (ValueError for a day no calendar has)."""
    year, month, day = _year_month_day(match)
    return datetime(
        year, month, day,
        hour_of(match["H"] or 0, match["half"]), int(match["M"] or 0), int(match["S"] or 0),
    )


def _year_month_day(match: re.Match) -> tuple[int, int, int]:
    """A date year first (Discuz's default Y-n-j, Y/n/j, Y年n月j日), or year last: Discuz's
    date format is free text over yyyy, mm and dd, and an admin may put the year last in
    either order. A number over 12 is the day; otherwise the separator goes by the usual
    convention of the examples admins copy: mm/dd/yyyy with slashes, dd.mm.yyyy (or dd-mm-yyyy)
    with dots or dashes."""
    if match["y"]:
        return int(match["y"]), int(match["m"]), int(match["d"])
    first, second = int(match["first"]), int(match["second"])
    day_first = first > 12 or (second <= 12 and match["sep"] != "/")
    return int(match["last_y"]), (second if day_first else first), (first if day_first else second)


def hour_of(hour: str | int, half: str | None) -> int:
    """The hour on a 24-hour clock: "08" PM is 20, "12" AM is 0 (Discuz's timeformat h:i A)."""
    hour = int(hour)
    if half is None or not 1 <= hour <= 12:
        return hour
    return hour % 12 + (12 if half.upper() == "PM" else 0)


def _resolve(text: str, zone: tzinfo, now: datetime | None) -> str | None:
    if match := ABSOLUTE.search(text):
        year, month, day, hour, minute, second, half = match.group("y", "m", "d", "H", "M", "S", "half")
        if year is None or half is not None or type(zone) is not timezone:  # year last, 12-hour, a zone with DST
            return wall_clock(match).replace(tzinfo=zone).isoformat()
        return _iso(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0), zone)
    if now is None:
        return None
    local_now = now.astimezone(zone).replace(microsecond=0)
    if match := _DAY_AND_TIME.search(text):
        day = local_now - timedelta(days=_DAY_WORDS[match[1]])
        return day.replace(hour=hour_of(match[2], match[4]), minute=int(match[3]), second=0).isoformat()
    for pattern, resolve in _RELATIVE:
        if match := pattern.search(text):
            return resolve(int(match[1]), local_now).isoformat()
    if _HALF_HOUR.search(text):
        return (local_now - timedelta(minutes=30)).isoformat()
    if _JUST_NOW.search(text):
        return local_now.isoformat()
    return None


_MONTH_DAYS = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_OFFSETS: dict[timezone, str] = {}  # each fixed offset as isoformat() writes it


def _iso(year: int, month: int, day: int, hour: int, minute: int, second: int, zone: timezone) -> str:
    """datetime(…, tzinfo=zone).isoformat() for a fixed offset, written without the datetime
    (a page has a time for every post and attachment): the same checks of the date and the
    time, the same ValueError."""
    if not (1 <= month <= 12 and 1 <= day <= _MONTH_DAYS[month] and 1 <= year <= 9999 and hour < 24 and minute < 60
            and second < 60) or (month == 2 and day == 29 and not (year % 4 == 0 and (year % 100 or year % 400 == 0))):
        return datetime(year, month, day, hour, minute, second, tzinfo=zone).isoformat()  # raises
    if (offset := _OFFSETS.get(zone)) is None:
        offset = _OFFSETS[zone] = datetime(2000, 1, 1, tzinfo=zone).isoformat()[19:]
    return f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}{offset}"


def parse_iso(value: str) -> datetime:
    """ISO 8601 (as stored) back to an aware datetime."""
    return dateutil_parser.isoparse(value)


def utc_now_iso() -> str:
    """Now, in UTC to the second, as ISO 8601: the stamp of every fetch and of every run's record."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()
