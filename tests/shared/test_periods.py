"""Months and days as the programme counts them: a day has begun once it has begun anywhere in Indonesia."""

import datetime as dt

import pytest

from kampungkb_shared.periods import add_months, current_period, parse_period, today, within_programme


def test_today_is_the_date_where_the_day_began_first_in_indonesia() -> None:
    # 00:16 WIB on 8 December is 17:16 UTC on 7 December and 02:16 WIT on the 8th.
    assert today(dt.datetime(2026, 12, 7, 17, 16, tzinfo=dt.UTC)) == dt.date(2026, 12, 8)
    # 01:00 WIT on 1 January: the new year's month has begun in Papua, while UTC still reads 31 December.
    new_year = dt.datetime(2026, 12, 31, 16, 0, tzinfo=dt.UTC)
    assert current_period(today(new_year)) == "2027-01"
    assert today(dt.datetime(2026, 12, 7, 14, 59, tzinfo=dt.UTC)) == dt.date(2026, 12, 7)


def test_a_day_or_month_is_in_the_future_only_after_today_in_indonesia() -> None:
    assert within_programme(today()) == today()
    assert within_programme(parse_period(current_period()), month=True) == parse_period(current_period())
    with pytest.raises(ValueError, match="in the future"):
        within_programme(today() + dt.timedelta(days=1))
    with pytest.raises(ValueError, match="month in the future"):
        within_programme(add_months(today(), 1), month=True)
    with pytest.raises(ValueError, match="programme began"):
        within_programme(dt.date(2015, 12, 31))
