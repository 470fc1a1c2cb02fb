"""When a month's submission is on time: the rule report-worker counts by and the registry lists by.

A Kampung KB's month is on time for a module when the first revision of that period's submission was written
before the end of the deadline day of the following month, in the programme's time zone; late when written later;
missing when there is none.
"""

import datetime as dt
from enum import StrEnum
from zoneinfo import ZoneInfo

from pydantic import Field

from kampungkb_shared.periods import add_months
from kampungkb_shared.settings import ServiceSettings

TIMELY_MODULES = ("profil", "kependudukan", "kkbpk")
"""The period-keyed modules whose timeliness is counted."""


FIRST_WRITTEN_SQL = """CASE WHEN s.revision = 1 THEN s.submitted_at ELSE coalesce(
    (SELECT r.submitted_at FROM submission_revision r WHERE r.submission_id = s.id ORDER BY r.revision LIMIT 1),
    s.submitted_at) END"""
"""SQL: when the submission `s` was first written, for the registry's and the report worker's statements alike.

A submission carries the time of its newest revision, so at revision 1 that is the answer; a corrected one looks up
its first revision among the ones it replaced (one index probe). A national rebuild probes only the corrected few."""


class Timeliness(StrEnum):
    """A counted Kampung KB's month, per module; listed in the order an officer chases them."""

    MISSING = "missing"
    LATE = "late"
    ON_TIME = "on_time"


class DeadlineSettings(ServiceSettings):
    """The reporting deadline, shared by every service without prefix so that counts and lists agree."""

    reporting_deadline_day: int = Field(default=10, ge=1, le=28, validation_alias="REPORTING_DEADLINE_DAY")
    """A month's data are on time when written by the end of this day of the following month."""
    reporting_time_zone: str = Field(default="Asia/Jakarta", validation_alias="REPORTING_TIME_ZONE")
    """The time zone the deadline day is read in (WIB, where BKKBN's offices and most Kampung KB are)."""

    def deadline(self, period: dt.date) -> dt.datetime:
        """See `deadline`."""
        return deadline(period, day=self.reporting_deadline_day, time_zone=self.reporting_time_zone)


def deadline(period: dt.date, *, day: int = 10, time_zone: str = "Asia/Jakarta") -> dt.datetime:
    """The first instant that is late for `period`: midnight after `day` of the next month, in `time_zone`."""
    last_day = add_months(period, 1).replace(day=day)
    return dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time(), tzinfo=ZoneInfo(time_zone))
