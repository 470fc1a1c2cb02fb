"""Periods are calendar months, written `YYYY-MM`: the month the data describe, never the month of entry."""

import datetime as dt
import re
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import AfterValidator

PERIOD_PATTERN = r"^(\d{4})-(0[1-9]|1[0-2])$"
"""A month, `YYYY-MM`: what `parse_period` reads, and the pattern the OpenAPI documents give it."""

_PERIOD = re.compile(PERIOD_PATTERN)


def parse_period(text: str) -> dt.date:
    """The first day of the month `YYYY-MM` names."""
    match = _PERIOD.match(text)
    if not match:
        raise ValueError("must be a month written YYYY-MM")
    return dt.date(int(match[1]), int(match[2]), 1)


READ_YEARS = (1900, 2999)
"""The first and last year a read may name (a month, a quarter, a year): far enough from the calendar's ends for any
month before or after it."""


def in_read_years(day: dt.date) -> dt.date:
    """`day` when its year is one of `READ_YEARS`, else `ValueError`."""
    if not READ_YEARS[0] <= day.year <= READ_YEARS[1]:
        raise ValueError(f"must name a year from {READ_YEARS[0]} to {READ_YEARS[1]}")
    return day


def parse_read_period(text: str) -> dt.date:
    """`parse_period` for a month a read names: in the years `READ_YEARS` too (`ValueError` else)."""
    return in_read_years(parse_period(text))


def format_period(day: dt.date) -> str:
    """`YYYY-MM` of the month a date falls in."""
    return f"{day.year:04d}-{day.month:02d}"


def add_months(day: dt.date, months: int) -> dt.date:
    """The first day of the month `months` after (or before) the month of `day`."""
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


FIRST_TIME_ZONE = ZoneInfo("Asia/Jayapura")
"""Indonesia's easternmost time zone (WIT, UTC+9): where each day, and each month, begins first in the country."""


def today(now: dt.datetime | None = None) -> dt.date:
    """The date of `now` (by default this instant) where the day began first in Indonesia (WIT): a date or a month
    that has begun in part of the country is not in the future, whatever the server's clock zone (at 00:16 WIB, UTC
    still reads the day before)."""
    return (now or dt.datetime.now(dt.UTC)).astimezone(FIRST_TIME_ZONE).date()


def current_period(day: dt.date | None = None) -> str:
    """The month of `day`, by default of `today()`."""
    return format_period(day or today())


def _check_period(text: str) -> str:
    parse_period(text)
    return text


Period = Annotated[str, AfterValidator(_check_period)]
"""A month written `YYYY-MM`."""


PROGRAMME_START = dt.date(2016, 1, 1)
"""The programme began in January 2016: no period, activity or formation date lies before it."""


def within_programme(day: dt.date, *, month: bool = False) -> dt.date:
    """`day` when it lies between the programme's start and `today()`, else `ValueError` saying which bound it
    breaks; with `month`, `day` is the first of a period and today's month is the last one allowed."""
    if day < PROGRAMME_START:
        raise ValueError(f"must not be before {'2016-01' if month else '2016-01-01'}, when the programme began")
    last = today()
    if day > (last.replace(day=1) if month else last):
        raise ValueError("must not be a month in the future" if month else "must not be in the future")
    return day
