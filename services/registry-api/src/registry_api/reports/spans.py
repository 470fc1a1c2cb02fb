"""Quarters and years: a report period is a month (`YYYY-MM`), a quarter (`YYYY-Qn`) or a year (`YYYY`).

A longer period is read from the monthly aggregates, never from raw rows: what a region is (Kampung KB, tiers,
ownership, PUS) as of its last month; what happened in it (reporting, timeliness, KKBPK service counts, tier
moves) summed over its months, so rates are ratios of the sums; the tier change against the previous quarter or
year from the first month's previous tiers.
"""

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from kampungkb_shared.periods import PERIOD_PATTERN, add_months, format_period, in_read_years, parse_period
from kampungkb_shared.reports import METHOD_COLUMNS
from kampungkb_shared.timeliness import TIMELY_MODULES
from registry_api.reports.models import ReportAggregate

_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
_YEAR = re.compile(r"^(\d{4})$")
SPAN_PATTERN = "|".join((PERIOD_PATTERN, _QUARTER.pattern, _YEAR.pattern))
"""A month, a quarter or a year: what `parse_span` reads, and the pattern the OpenAPI document gives it."""

FLOWS = (
    "reported",
    "kkbpk_kampung",
    "kkbpk_pus",
    "kb_users",
    "mkjp_users",
    *METHOD_COLUMNS.values(),
    "unmet_need",
    "promoted",
    "demoted",
    *(f"{module}_{status}" for module in TIMELY_MODULES for status in ("on_time", "late")),
)
"""Figures summed over the months of a span; every other figure is its last month's."""


@dataclass(frozen=True)
class Span:
    """A run of whole months named the way a report names it."""

    kind: Literal["month", "quarter", "year"]
    first: dt.date
    months_count: int

    @property
    def last(self) -> dt.date:
        return add_months(self.first, self.months_count - 1)

    @property
    def label(self) -> str:
        if self.kind == "month":
            return format_period(self.first)
        if self.kind == "quarter":
            return f"{self.first.year}-Q{(self.first.month - 1) // 3 + 1}"
        return str(self.first.year)

    def months(self, *, until: dt.date | None = None) -> list[dt.date]:
        """Its months, oldest first; with `until`, only those up to that month (a quarter or year in progress)."""
        every = [add_months(self.first, n) for n in range(self.months_count)]
        return [m for m in every if until is None or m <= until]

    def shifted(self, count: int) -> "Span":
        """The span `count` spans later (earlier when negative)."""
        return Span(self.kind, add_months(self.first, count * self.months_count), self.months_count)


def trend_start(to: str) -> str:
    """The default start of a trend ending at `to`: a year of months or four quarters, or five years."""
    end = parse_span(to)
    return end.shifted(-(12 // end.months_count - 1) if end.kind != "year" else -4).label


def parse_span(text: str) -> Span:
    """`YYYY-MM`, `YYYY-Qn` or `YYYY`."""
    if quarter := _QUARTER.match(text):
        span = Span("quarter", dt.date(int(quarter[1]) or 1, 3 * int(quarter[2]) - 2, 1), 3)
    elif _YEAR.match(text):
        span = Span("year", dt.date(int(text) or 1, 1, 1), 12)
    else:
        try:
            span = Span("month", parse_period(text), 1)
        except ValueError:
            raise ValueError("must be a month YYYY-MM, a quarter YYYY-Qn or a year YYYY") from None
    in_read_years(span.first)
    return span


def spans_between(start: Span, end: Span) -> list[Span]:
    """`start`, `end` (of the same kind) and every span between them; none when `start` is after `end`."""
    months = (end.first.year - start.first.year) * 12 + end.first.month - start.first.month
    return [start.shifted(n) for n in range(months // start.months_count + 1)] if months >= 0 else []


def _check_span(text: str) -> str:
    parse_span(text)
    return text


ReportPeriod = Annotated[str, AfterValidator(_check_span), Field(json_schema_extra={"pattern": SPAN_PATTERN})]
"""A report period: `YYYY-MM`, `YYYY-Qn` or `YYYY`; its JSON Schema states the pattern."""


class Figures(SimpleNamespace):
    """A row of `report_aggregate` (one region, one month, one rule set) read as attributes, or the months of a
    span combined into one (`combine`): a plain object, since a report reads several such rows and builds more."""


@dataclass(frozen=True)
class Combined:
    """A span's figures in the shape of one monthly row, and the base its rates take."""

    row: Figures
    months: list[dt.date]
    kampung_months: int
    """Σ over the months of the Kampung KB counted in each: the base of reporting and timeliness rates."""
    computed_version: str
    """Each month's `computed_at`, oldest month first: it changes whenever any month is computed again and when a
    month joins a span in progress, where `row.computed_at` (the stalest month's, how fresh the span is as a whole)
    does not. What a span's figures are cached by (a month's is its `computed_at`)."""


COLUMNS = tuple(column.key for column in ReportAggregate.__table__.columns)
"""The columns of a row of figures."""


def combine(rows: Sequence[Figures]) -> Combined:
    """One region's monthly rows of a span (oldest first, at least one) as one row, never stored."""
    version = ",".join(row.computed_at.isoformat() for row in rows)
    if len(rows) == 1:
        return Combined(rows[0], [rows[0].period], rows[0].kampung_total, version)
    first, last = rows[0], rows[-1]
    values = {name: getattr(last, name) for name in COLUMNS}
    values.update({name: sum(getattr(row, name) for row in rows) for name in FLOWS})
    # The tiers before the span: the first month's view of the month before it.
    values.update({name: getattr(first, name) for name in COLUMNS if name.startswith("prev_")})
    values["computed_at"] = min(row.computed_at for row in rows)
    return Combined(Figures(**values), [row.period for row in rows], sum(row.kampung_total for row in rows), version)
