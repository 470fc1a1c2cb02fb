"""When a month closes by itself (a setting): a value the registry's settings name and its approval rules apply."""

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from kampungkb_shared.periods import add_months


@dataclass(frozen=True)
class Closing:
    """When a month closes by itself: `after_days` after its end (0: never), counted in `time_zone`."""

    after_days: int
    time_zone: str

    def closed(self, period: dt.date, *, now: dt.datetime) -> bool:
        if self.after_days <= 0:
            return False
        closes = add_months(period, 1) + dt.timedelta(days=self.after_days)
        return now >= dt.datetime.combine(closes, dt.time(), tzinfo=ZoneInfo(self.time_zone))
