"""Who reported on time, late or not at all: the officer's list to chase, computed from the submissions.

The rule is `kampungkb_shared.timeliness` (the report worker counts by the same); a quarter or year is read month by
month over the months each Kampung KB was counted in.
"""

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from kampungkb_shared.errors import Unprocessable
from kampungkb_shared.periods import add_months, current_period, format_period, parse_period
from kampungkb_shared.timeliness import FIRST_WRITTEN_SQL, TIMELY_MODULES, DeadlineSettings, Timeliness
from registry_api.reporting.schemas import LastSubmission, ModuleStatus, ReportingPage, ReportingRow
from registry_api.reports.service import ReportNotComputed
from registry_api.reports.spans import parse_span
from registry_api.wilayah.service import region_name

_RANKS = list(Timeliness)

_LIST = f"""
WITH months AS (
    SELECT m.period, m.deadline, (m.period + interval '1 month' - interval '1 day')::date AS period_end
      FROM unnest(CAST(:months AS date[]), CAST(:deadlines AS timestamptz[])) AS m(period, deadline)
),
kk AS (
    SELECT k.id, k.name, k.desa_code, w.name AS desa_name, k.formed_on
      FROM kampung k JOIN wilayah w ON w.code = k.desa_code
     WHERE k.active AND k.formed_on <= :last_end AND (:code = '00' OR k.desa_code LIKE :code || '.%')
),
cells AS (
    SELECT kk.id, md.module,
           count(*) FILTER (WHERE f.first_at < m.deadline) AS on_time,
           count(*) FILTER (WHERE f.first_at >= m.deadline) AS late,
           count(*) FILTER (WHERE f.first_at IS NULL) AS missing
      FROM kk CROSS JOIN unnest(CAST(:modules AS text[])) AS md(module)
      JOIN months m ON kk.formed_on <= m.period_end
      LEFT JOIN LATERAL (
            SELECT {FIRST_WRITTEN_SQL} AS first_at FROM submission s
             WHERE s.kampung_id = kk.id AND s.module = md.module AND s.period = m.period
      ) f ON true
     GROUP BY kk.id, md.module
),
listed AS (
    SELECT kk.id, kk.name, kk.desa_code, kk.desa_name,
           jsonb_object_agg(c.module, jsonb_build_object('on_time', c.on_time, 'late', c.late, 'missing', c.missing))
             AS modules,
           CASE WHEN sum(c.missing) > 0 THEN 0 WHEN sum(c.late) > 0 THEN 1 ELSE 2 END AS rank
      FROM kk JOIN cells c ON c.id = kk.id
     GROUP BY kk.id, kk.name, kk.desa_code, kk.desa_name
),
-- The page's rows first; their last submission and profil only then, a probe each for the page alone.
paged AS (
    SELECT * FROM listed r
     WHERE CAST(:after_rank AS integer) IS NULL OR (r.rank, r.desa_code) > (CAST(:after_rank AS integer), :after_desa)
     ORDER BY r.rank, r.desa_code
     LIMIT :limit
)
SELECT r.id, r.name, r.desa_code, r.desa_name, r.modules, r.rank,
       last.submitted_at, last.submitted_by, last.module AS last_module, last.period AS last_period,
       prof.pkb_pendamping, prof.pengarah
  FROM paged r
  LEFT JOIN LATERAL (
        SELECT s.submitted_at, s.submitted_by, s.module, s.period FROM submission s
         WHERE s.kampung_id = r.id ORDER BY s.submitted_at DESC, s.id DESC LIMIT 1
  ) last ON true
  LEFT JOIN LATERAL (
        SELECT (s.payload->>'pkb_pendamping')::boolean AS pkb_pendamping, s.payload->>'pengarah' AS pengarah
          FROM submission s
         WHERE s.kampung_id = r.id AND s.module = 'profil' AND s.period <= :last_month
         ORDER BY s.period DESC LIMIT 1
  ) prof ON true
 ORDER BY r.rank, r.desa_code"""


@dataclass(frozen=True)
class Query:
    """A validated list request: the region, its name and the months of the period."""

    code: str
    name: str
    period: str
    months: list[dt.date]
    deadline: DeadlineSettings

    def params(self, *, after: tuple[int, str] | None, limit: int | None) -> dict[str, Any]:
        return {
            "code": self.code,
            "months": self.months,
            "deadlines": [self.deadline.deadline(m) for m in self.months],
            "last_month": self.months[-1],
            "last_end": add_months(self.months[-1], 1) - dt.timedelta(days=1),
            "modules": list(TIMELY_MODULES),
            "after_rank": None if after is None else after[0],
            "after_desa": None if after is None else after[1],
            "limit": limit,
        }


async def prepare(session: AsyncSession, *, code: str, period: str, deadline: DeadlineSettings) -> Query:
    """The region (404 if unknown) and the months of the period so far (404 `report-not-computed` if none yet)."""
    name, _ = await region_name(session, code)
    span = parse_span(period)
    months = span.months(until=parse_period(current_period()))
    if not months:
        raise ReportNotComputed(f"{span.label} has not begun")
    return Query(code=code, name=name, period=span.label, months=months, deadline=deadline)


def _encode(row: ReportingRow) -> str:
    return f"{_RANKS.index(row.status)}:{row.desa_code}"


def _decode(cursor: str) -> tuple[int, str]:
    rank, _, desa = cursor.partition(":")
    if not (rank.isascii() and rank.isdigit() and int(rank) < len(_RANKS) and desa):  # '²' is a digit to Python
        raise Unprocessable.field(["query", "cursor"], "not a cursor this API returned")
    return int(rank), desa


def _row(r: Any) -> ReportingRow:
    def module(name: str) -> ModuleStatus:
        counts = r.modules[name]
        status = Timeliness.MISSING if counts["missing"] else Timeliness.LATE if counts["late"] else Timeliness.ON_TIME
        return ModuleStatus(status=status, **counts)

    last = None
    if r.submitted_at is not None:
        last = LastSubmission(
            at=r.submitted_at, by=r.submitted_by, module=r.last_module, period=format_period(r.last_period)
        )
    return ReportingRow(
        kampung_id=r.id,
        kampung_name=r.name,
        desa_code=r.desa_code,
        desa_name=r.desa_name,
        status=_RANKS[r.rank],
        **{name: module(name) for name in TIMELY_MODULES},
        last_submission=last,
        pkb_pendamping=r.pkb_pendamping,
        pengarah=r.pengarah,
        pkb_contact=None,
    )


async def page(session: AsyncSession, *, query: Query, limit: int, cursor: str | None) -> ReportingPage:
    """One page, missing first, then late, then on time; by desa code within each."""
    after = None if cursor is None else _decode(cursor)
    result = await session.execute(text(_LIST), query.params(after=after, limit=limit + 1))
    rows = [_row(r) for r in result]
    return ReportingPage(
        code=query.code,
        name=query.name,
        period=query.period,
        months=[format_period(m) for m in query.months],
        deadline_day=query.deadline.reporting_deadline_day,
        time_zone=query.deadline.reporting_time_zone,
        items=rows[:limit],
        next_cursor=_encode(rows[limit - 1]) if len(rows) > limit else None,
    )


async def every_row(session: AsyncSession, *, query: Query) -> AsyncIterator[ReportingRow]:
    """The whole list in the same order, streamed from the server a batch at a time."""
    result = await session.stream(text(_LIST), query.params(after=None, limit=None))
    async for r in result:
        yield _row(r)
