"""The aggregates a report reads, straight to the driver (a report `GET` is a hot path: see `db.driver_connection`).

A report reads the region's months, those of the span before, December of the year before (where its targets start)
and its children's months: one statement fetches them all, as plain rows (`spans.Figures`).
"""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from registry_api.db import session_fetch
from registry_api.reports.spans import Figures

_FIGURES = """
SELECT a.*, w.name AS region_name, w.level AS region_level
  FROM report_aggregate a
  LEFT JOIN wilayah w ON w.code = a.code
 WHERE a.ruleset = $2
   AND (a.code = $1 AND a.period = ANY($3::date[])
        OR a.parent_code = $1 AND a.period = ANY($4::date[]) AND w.code IS NOT NULL)
 ORDER BY a.code, a.period"""


@dataclass
class RegionFigures:
    """A region's monthly figures and its children's, as read."""

    region: tuple[str, str] | None = None
    """The region's (name, level) as the regions table holds it; None when it has no figures read, or is `00`."""
    months: dict[dt.date, Figures] = field(default_factory=dict)
    children: dict[str, tuple[str, list[Figures]]] = field(default_factory=dict)
    """By child code (in code order): its name, and its figures oldest first."""


def _figures(row: Any) -> tuple[Figures, str | None, str | None]:
    values = dict(row)
    name, level = values.pop("region_name"), values.pop("region_level")
    return Figures(**values), name, level


async def region_figures(
    session: AsyncSession,
    *,
    code: str,
    ruleset: str,
    months: Sequence[dt.date],
    children_months: Sequence[dt.date],
) -> RegionFigures:
    """The region's figures of `months` and its children's (of the next level down) of `children_months`."""
    found = RegionFigures()
    for row in await session_fetch(session, _FIGURES, code, ruleset, list(months), list(children_months)):
        figures, name, level = _figures(row)
        if figures.code == code:
            found.months[figures.period] = figures
            if name is not None and level is not None:
                found.region = (name, level)
        elif figures.period in children_months:
            found.children.setdefault(figures.code, (name or "", []))[1].append(figures)
    return found


_TREND = """
SELECT * FROM report_aggregate
 WHERE code = $1 AND ruleset = $2 AND period BETWEEN $3 AND $4
 ORDER BY period"""


async def months_between(
    session: AsyncSession, *, code: str, ruleset: str, first: dt.date, last: dt.date
) -> dict[dt.date, Figures]:
    """The region's monthly figures from `first` to `last`, by month."""
    rows = await session_fetch(session, _TREND, code, ruleset, first, last)
    return {row["period"]: Figures(**dict(row)) for row in rows}
