"""Pages as Discuz X3.5 prints them with another date and time format.

Why: the snapshots were taken with dateformat ``Y-n-j`` and timeformat ``H:i``; a forum may be
set otherwise in 全局 » 时间设置 (the date as free text over yyyy, yy, mm, dd, which Discuz
stores as Y, y, n, j; the time as the 24-hour ``H:i`` or the 12-hour ``h:i A``), and every
time the crawl stores must still be the same instant.

What it changes: every time the pages print, by the shape dgmdate() gave it in the snapshot:
- ``Y-n-j H:i:s``, a post's 发表于 (forum_viewthread.php formats it as dateformat + ``H:i:s``
  whatever the time format): the date in ``dateformat``, the time stays ``H:i:s``;
- ``Y-n-j H:i``, dgmdate's ``dt`` and ``u`` (点评, ratings, list last posts, attachment
  uploads, portal dates, quotes and edit notes, the footer): ``dateformat timeformat``;
- ``Y-n-j`` alone, dgmdate's ``d`` (a thread's date in the lists): ``dateformat``;
- ``昨天 H:i`` and ``前天 H:i``, dgmdate's ``u`` for the last days: ``timeformat``.
Each shape is rewritten wherever it stands, text or attribute (a ``<span title>`` carries
the exact time of a relative one), in HTML and in the ajax answers' XML; the mobile API's JSON
is left as saved. Quotes and edit notes are part of a post's message, written when the post
was: a forum set this way from the start has them in its format too.
"""

from __future__ import annotations

import re

SHOWN = re.compile(r"(?<![\d/.:-])(\d{4})-(\d{1,2})-(\d{1,2})(?: (\d{1,2}):(\d{2})(?::(\d{2}))?)?(?![\d:-])")
_DAY_AND_TIME = re.compile(r"(昨天|前天)(&nbsp;| )(\d{1,2}):(\d{2})(?![\d:])")


def php_date(pattern: str, year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> str:
    """PHP's date() for the letters Discuz's date and time formats use; others stay as they are."""
    twelve = hour % 12 or 12
    values = {
        "Y": f"{year:04d}", "y": f"{year % 100:02d}", "n": str(month), "m": f"{month:02d}",
        "j": str(day), "d": f"{day:02d}", "H": f"{hour:02d}", "G": str(hour), "h": f"{twelve:02d}",
        "g": str(twelve), "i": f"{minute:02d}", "s": f"{second:02d}",
        "A": "PM" if hour >= 12 else "AM", "a": "pm" if hour >= 12 else "am",
    }
    return "".join(values.get(letter, letter) for letter in pattern)


def reformat(text: str, dateformat: str, timeformat: str) -> str:
    """``text`` (a page) with its times printed in ``dateformat`` and ``timeformat``."""

    def date(match: re.Match) -> str:
        year, month, day = int(match[1]), int(match[2]), int(match[3])
        if match[4] is None:
            return php_date(dateformat, year, month, day)
        pattern = f"{dateformat} H:i:s" if match[6] is not None else f"{dateformat} {timeformat}"
        return php_date(pattern, year, month, day, int(match[4]), int(match[5]), int(match[6] or 0))

    def day_and_time(match: re.Match) -> str:
        return match[1] + match[2] + php_date(timeformat, 2000, 1, 1, int(match[3]), int(match[4]))

    return _DAY_AND_TIME.sub(day_and_time, SHOWN.sub(date, text))
