"""An instant a client sends in a query (`updated_since`): any ISO 8601 date and time that is one in UTC too."""

import datetime as dt
from typing import Annotated

from pydantic import AfterValidator


def _in_utc_range(value: dt.datetime) -> dt.datetime:
    # The database compares it in UTC: 0001-01-01T00:00+14:00 is a moment of year 0, which neither Python nor the driver
    # can write.
    if value.tzinfo is not None:
        try:
            value.astimezone(dt.UTC)
        except OverflowError:
            raise ValueError("must fall between the years 1 and 9999 in UTC") from None
    return value


Instant = Annotated[dt.datetime, AfterValidator(_in_utc_range)]
"""A date and time, with an offset or without one (then UTC), that lies between the years 1 and 9999 in UTC."""
