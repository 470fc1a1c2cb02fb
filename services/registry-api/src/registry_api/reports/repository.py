"""What a report reads, straight to the driver (a report `GET` is a hot path: see `db.driver_connection`), in two
statements.

Its figures: the region's months, those of the span before, December of the year before (where its targets start)
and its children's months, as plain rows (`spans.Figures`). Then what is shown beside them (`beside_figures`).
"""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kampungkb_shared.closing import Closing
from kampungkb_shared.periods import add_months
from registry_api.approvals import service as approvals
from registry_api.approvals.schemas import ApprovalStatus
from registry_api.db import session_fetch, shifted
from registry_api.quality.repository import OPEN_COUNTS, counts_of
from registry_api.quality.schemas import QualityCounts
from registry_api.reports import targets as target_rules
from registry_api.reports.schemas import DesaChild, Percontohan
from registry_api.reports.spans import Figures, Span

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


def _month_end(period: dt.date) -> dt.date:
    return add_months(period, 1) - dt.timedelta(days=1)


_DESA_CHILDREN = """
SELECT w.code, w.name, w.kind, k.id AS kampung_id, k.name AS kampung_name,
       CASE WHEN k.id IS NOT NULL THEN coalesce(c.tier, 'belum_terklasifikasi') END AS tier,
       coalesce(r.months, 0) > 0 AS reported, coalesce(r.months, 0) AS months_reported
  FROM wilayah w
  LEFT JOIN kampung k ON k.desa_code = w.code AND k.active AND k.formed_on <= $4
  LEFT JOIN LATERAL (
        SELECT c.tier FROM classification c
         WHERE c.kampung_id = k.id AND c.ruleset = $5 AND c.period <= $3
         ORDER BY c.period DESC LIMIT 1
  ) c ON true
  LEFT JOIN LATERAL (
        SELECT count(DISTINCT s.period) AS months FROM submission s
         WHERE s.kampung_id = k.id AND s.period BETWEEN $2 AND $3
  ) r ON true
 WHERE w.parent_code = $1 AND w.level = 'desa'
 ORDER BY w.code"""
"""The desa/kelurahan of a kecamatan ($1; none for a wider region) with their Kampung KB as of the last month ($3,
ending $4) under a rule set ($5), and the months from $2 it reported."""


_DESA_FIELDS = ("code", "name", "kind", "kampung_id", "kampung_name", "tier", "reported", "months_reported")
"""The fields of `DesaChild` in the order `_DESA_CHILDREN` selects them."""


_PERCONTOHAN = """
SELECT k.id, k.name, k.desa_code, coalesce(c.tier, 'belum_terklasifikasi') AS tier,
       k.percontohan_provinsi, k.percontohan_kabupaten, k.percontohan_kecamatan
  FROM kampung k
  LEFT JOIN LATERAL (
        SELECT c.tier FROM classification c
         WHERE c.kampung_id = k.id AND c.ruleset = $3 AND c.period <= $2
         ORDER BY c.period DESC LIMIT 1
  ) c ON true
 WHERE k.active AND (k.percontohan_kecamatan OR k.percontohan_kabupaten OR k.percontohan_provinsi)
   AND k.formed_on <= $4 AND ($1 = '00' OR k.desa_code LIKE $1 || '.%')
 ORDER BY k.desa_code, k.id"""
"""The percontohan Kampung KB of a region ($1) as of a month ($2, ending $4) under a rule set ($3)."""
_PERCONTOHAN_LEVELS = ("provinsi", "kabupaten", "kecamatan")


def _percontohan(rows: list[Sequence[Any]]) -> list[Percontohan]:
    """The rows of `_PERCONTOHAN` (by position), once per level it is a percontohan of, the widest level first."""
    return [
        Percontohan(id=kampung_id, name=name, desa_code=desa_code, level=level, tier=tier)
        for index, level in enumerate(_PERCONTOHAN_LEVELS)
        for kampung_id, name, desa_code, tier, *levels in rows
        if levels[index]
    ]


_BESIDE = f"""
SELECT ARRAY(SELECT s FROM ({approvals.BY_CODE}) s) AS approvals,
       ARRAY(SELECT s FROM ({shifted(target_rules.CHAIN_TARGETS, 2)}) s) AS targets,
       ARRAY(SELECT s FROM ({shifted(OPEN_COUNTS, 4)}) s) AS quality,
       ARRAY(SELECT s FROM ({shifted(_PERCONTOHAN, 6)}) s) AS percontohan,
       ARRAY(SELECT s FROM ({shifted(_DESA_CHILDREN, 10)}) s) AS desa"""
"""What a report shows beside its figures, each part the statement of the module that holds its rule, as an array of
its rows: the approval status of the region and its child regions, the targets in force, the open data-quality
flags, the percontohan Kampung KB; for a kecamatan, its desa/kelurahan."""


@dataclass(frozen=True)
class Beside:
    """What `beside_figures` read."""

    approval: dict[str, ApprovalStatus]
    targets: dict[str, target_rules.TargetRow]
    quality: QualityCounts
    percontohan: list[Percontohan]
    desa: list[DesaChild]


async def beside_figures(
    session: AsyncSession,
    *,
    code: str,
    children: Sequence[str],
    span: Span,
    month: dt.date,
    ruleset: str,
    closing: Closing,
) -> Beside:
    """What the report of `code` shows beside its figures (`_BESIDE`), the approvals of its child regions (`children`)
    among them: as of the span's last month `month`; a desa's `months_reported` counts from the span's first."""
    codes = [code, *children]
    parameters = (
        *(codes, [month] * len(codes)),  # $1, $2: approvals.BY_CODE
        *(target_rules.chain(code), month.year),  # $3, $4: CHAIN_TARGETS
        *(code, month),  # $5, $6: OPEN_COUNTS
        *(code, month, ruleset, _month_end(month)),  # $7 to $10: _PERCONTOHAN
        *(code, span.first, month, _month_end(month), ruleset),  # $11 to $15: _DESA_CHILDREN
    )
    [row] = await session_fetch(session, _BESIDE, *parameters)
    return Beside(
        approval=approvals.statuses_of(codes, row["approvals"], period=month, closing=closing),
        targets=target_rules.by_region(row["targets"]),
        quality=counts_of(row["quality"]),
        percontohan=_percontohan(row["percontohan"]),
        desa=[DesaChild(**dict(zip(_DESA_FIELDS, desa, strict=True))) for desa in row["desa"]],
    )
