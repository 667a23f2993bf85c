"""scraper.dates writes a year-first time in a fixed offset itself (a page has one for every
post and attachment): held to what datetime writes, and to the days it refuses."""

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from scraper.dates import page_time


def _by_datetime(year, month, day, hour, minute, zone):
    try:
        return datetime(year, month, day, hour, minute, 7, tzinfo=zone).isoformat()
    except ValueError:
        return None


def test_a_time_is_what_datetime_writes_on_every_day_of_the_calendar():
    zones = (timezone(timedelta(hours=8)), timezone.utc, timezone(timedelta(hours=-5, minutes=-30)),
             ZoneInfo("America/New_York"))
    shown = 0
    for year in (1, 4, 100, 400, 1900, 2000, 2012, 2013, 2100, 9999):
        for month in range(0, 14):
            for day in range(0, 33):
                for hour, minute, zone in ((0, 0, zones[0]), (23, 59, zones[1]), (24, 0, zones[2]), (12, 60, zones[3])):
                    wanted = _by_datetime(year, month, day, hour, minute, zone)
                    assert page_time(f"{year:04d}-{month}-{day} {hour}:{minute:02d}:07", zone) == wanted
                    shown += wanted is not None
    assert page_time("发表于 2013-2-18 22:17", timezone(timedelta(hours=8))) == "2013-02-18T22:17:00+08:00"
    assert shown > 3000
