"""Targets beside the actual figures: which applies, how far the region is, and whether it is on track.

A target applies from the nearest region that set it (the region itself, then each region above it up to `00`),
else from the Instruction's national defaults (`kampungkb_shared.inpres.INPRES_TARGETS`). A region is on track
when its actual figure is at least the straight line from where it stood at the end of the year before
(December's figures) to the target at the end of the year, read at the report's last month.
"""

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy.ext.asyncio import AsyncSession

from kampungkb_shared.inpres import INPRES_SOURCE, INPRES_TARGETS, INPRES_YEAR
from kampungkb_shared.regions import NATION_CODE, ancestors
from registry_api.db import session_fetch
from registry_api.reports.schemas import TargetKind, TargetProgress

KINDS: tuple[TargetKind, ...] = ("formation_pct", "mandiri_plus_pct", "mandiri_plus_increase_pts")


MEASURES: dict[TargetKind, str] = {
    "formation_pct": "coverage_pct",
    "mandiri_plus_pct": "mandiri_plus_pct",
    "mandiri_plus_increase_pts": "mandiri_plus_pct",
}
"""The headline figure each target is read against (an increase: its change since December)."""


@dataclass(frozen=True)
class Applied:
    value: float
    source: str


def chain(code: str) -> list[str]:
    """The region and each region above it up to `00`, nearest first: where its targets may come from."""
    return [code, *reversed(ancestors(code)), NATION_CODE] if code != NATION_CODE else [NATION_CODE]


class TargetRow(NamedTuple):
    """A region's targets for a year, as `CHAIN_TARGETS` selects them."""

    code: str
    year: int
    formation_pct: Decimal | None
    mandiri_plus_pct: Decimal | None
    mandiri_plus_increase_pts: Decimal | None
    updated_at: dt.datetime


CHAIN_TARGETS = """
SELECT code, year, formation_pct, mandiri_plus_pct, mandiri_plus_increase_pts, updated_at
  FROM target WHERE code = ANY($1::text[]) AND year = $2"""
"""The targets a chain of regions ($1, `chain`) set for a year ($2), in the order of `TargetRow`."""


def by_region(rows: Iterable[Sequence[Any]]) -> dict[str, TargetRow]:
    """The rows of `CHAIN_TARGETS` (read by position, so rows of a record array serve as well) by region code."""
    return {target.code: target for target in (TargetRow(*row) for row in rows)}


def applied(targets: Mapping[str, TargetRow], *, code: str, year: int) -> dict[TargetKind, Applied]:
    """Each target in force for the region in `year`, from the targets its chain set for it (`by_region`), with the
    region that set it (or the Instruction, from the year it was signed)."""
    out: dict[TargetKind, Applied] = {}
    for kind in KINDS:
        for region in chain(code):
            target = targets.get(region)
            if target is not None and getattr(target, kind) is not None:
                out[kind] = Applied(float(getattr(target, kind)), region)
                break
        else:
            if kind in INPRES_TARGETS and year >= INPRES_YEAR:
                out[kind] = Applied(INPRES_TARGETS[kind], INPRES_SOURCE)
    return out


async def applied_targets(session: AsyncSession, *, code: str, year: int) -> dict[TargetKind, Applied]:
    """Each target in force for the region and year, with the region that set it (or the Instruction)."""
    return applied(by_region(await session_fetch(session, CHAIN_TARGETS, chain(code), year)), code=code, year=year)


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def progress(
    applied: dict[TargetKind, Applied],
    *,
    month: dt.date,
    now: dict[str, float | None],
    december: dict[str, float | None] | None,
) -> list[TargetProgress]:
    """Each applied target against the headline figures as of `month` and as of December of the year before."""
    share = month.month / 12
    out = []
    for kind, target in applied.items():
        measure = MEASURES[kind]
        actual, baseline = now[measure], None if december is None else december[measure]
        expected: float | None
        if kind == "mandiri_plus_increase_pts":
            actual = None if actual is None or baseline is None else actual - baseline
            expected = target.value * share
        else:
            expected = None if baseline is None else baseline + (target.value - baseline) * share
        actual, expected = _rounded(actual), _rounded(expected)
        out.append(
            TargetProgress(
                target=kind,
                value=target.value,
                source=target.source,
                baseline=baseline,
                actual=actual,
                gap=_rounded(None if actual is None else target.value - actual),
                expected_now=expected,
                on_track=None if actual is None or expected is None else actual >= expected,
            )
        )
    return out
