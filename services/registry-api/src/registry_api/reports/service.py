"""Reads of the aggregates report-worker writes, with the live desa list of a kecamatan; targets."""

import datetime as dt
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from kampungkb_shared.codes import Tier
from kampungkb_shared.errors import NotFound, Problem, Unprocessable
from kampungkb_shared.periods import add_months, format_period, parse_period
from kampungkb_shared.regions import NATION_CODE, Level
from kampungkb_shared.reports import OWNERSHIP_FLAGS
from registry_api.auth.service import Principal, Role
from registry_api.quality.repository import open_counts
from registry_api.reports.models import ReportAggregate, Target
from registry_api.reports.schemas import (
    DesaChild,
    Headline,
    Kkbpk,
    Ownership,
    Percontohan,
    Report,
    Share,
    TargetRead,
    TargetUpdate,
    TargetVsActual,
    TierChange,
    Tiers,
    Trend,
    TrendPoint,
)
from registry_api.wilayah.models import Wilayah

NATION_NAME = "INDONESIA"
MAX_TREND_MONTHS = 120
_TIERS = tuple(tier.value for tier in Tier)


class ReportNotComputed(NotFound):
    """The region exists, but report-worker has not written its figures for that period and rule set yet."""

    type: ClassVar[str] = "/problems/report-not-computed"
    title = "Report not computed yet"

    def problem(self) -> Problem:
        return Problem(type=self.type, title=self.title, status=self.status, detail=self.detail)


def pct(numerator: int, denominator: int) -> float | None:
    """A share in percent with two decimals; None when there is nothing to take a share of."""
    return None if denominator == 0 else round(100 * numerator / denominator, 2)


def _month_end(period: dt.date) -> dt.date:
    return add_months(period, 1) - dt.timedelta(days=1)


async def region_name(session: AsyncSession, code: str) -> tuple[str, Level]:
    """The region's name and level; 404 for an unknown code, or one below the kecamatan."""
    if code == NATION_CODE:
        return NATION_NAME, Level.NASIONAL
    region = await session.get(Wilayah, code)
    if region is None:
        raise NotFound(f"no region with code {code}")
    if region.level == Level.DESA:
        raise NotFound(f"{code} is a desa/kelurahan: reports exist for kecamatan and above; see its kecamatan")
    return region.name, Level(region.level)


def _tiers(row: ReportAggregate, prefix: str) -> Tiers:
    return Tiers(**{tier: getattr(row, f"{prefix}{tier}") for tier in _TIERS})


def headline(row: ReportAggregate, name: str) -> dict[str, Any]:
    classified = row.kampung_total - row.tier_belum_terklasifikasi
    return {
        "code": row.code,
        "name": name,
        "level": row.level,
        "desa_total": row.desa_total,
        "kampung_total": row.kampung_total,
        "coverage_pct": pct(row.kampung_total, row.desa_total),
        "tiers": _tiers(row, "tier_"),
        "mandiri_plus_pct": pct(row.tier_mandiri + row.tier_berkelanjutan, classified),
        "reported": row.reported,
        "reporting_rate_pct": pct(row.reported, row.kampung_total),
        "pus": row.pus,
        "cpr_pct": pct(row.kb_users, row.kkbpk_pus),
        "mkjp_pct": pct(row.mkjp_users, row.kb_users),
        "unmet_need_pct": pct(row.unmet_need, row.kkbpk_pus),
    }


def _details(row: ReportAggregate) -> dict[str, Any]:
    current, previous = _tiers(row, "tier_"), _tiers(row, "prev_")
    delta = Tiers(**{tier: getattr(current, tier) - getattr(previous, tier) for tier in _TIERS})
    return {
        "period": format_period(row.period),
        "ruleset": row.ruleset,
        "computed_at": row.computed_at,
        "desa": row.desa,
        "kelurahan": row.kelurahan,
        "kampung_desa": row.kampung_desa,
        "kampung_kelurahan": row.kampung_kelurahan,
        "kecamatan_total": row.kecamatan_total,
        "kecamatan_with_kampung": row.kecamatan_with_kampung,
        "classified": row.kampung_total - row.tier_belum_terklasifikasi,
        "tier_change": TierChange(
            previous_period=format_period(add_months(row.period, -1)),
            previous=previous,
            delta=delta,
            promoted=row.promoted,
            demoted=row.demoted,
        ),
        "kkbpk": Kkbpk(
            pus=row.pus,
            kependudukan_kampung=row.kependudukan_kampung,
            kkbpk_kampung=row.kkbpk_kampung,
            kkbpk_pus=row.kkbpk_pus,
            kb_users=row.kb_users,
            mkjp_users=row.mkjp_users,
            unmet_need=row.unmet_need,
            cpr_pct=pct(row.kb_users, row.kkbpk_pus),
            mkjp_pct=pct(row.mkjp_users, row.kb_users),
            unmet_need_pct=pct(row.unmet_need, row.kkbpk_pus),
        ),
        "ownership": Ownership(
            profil_kampung=row.profil_kampung,
            **{
                name: Share(count=getattr(row, f"own_{name}"), pct=pct(getattr(row, f"own_{name}"), row.kampung_total))
                for name in OWNERSHIP_FLAGS
            },
        ),
    }


async def _aggregate(session: AsyncSession, *, code: str, period: dt.date, ruleset: str) -> ReportAggregate:
    row = await session.get(ReportAggregate, (period, ruleset, code))
    if row is None:
        raise ReportNotComputed(
            f"the {format_period(period)} figures of {code} under {ruleset} have not been computed yet; they are "
            "after the first submission of that period in the region, or the nightly rebuild"
        )
    return row


async def _region_children(session: AsyncSession, row: ReportAggregate) -> list[Headline]:
    rows = await session.execute(
        select(ReportAggregate, Wilayah.name)
        .join(Wilayah, Wilayah.code == ReportAggregate.code)
        .where(
            ReportAggregate.period == row.period,
            ReportAggregate.ruleset == row.ruleset,
            ReportAggregate.parent_code == row.code,
        )
        .order_by(ReportAggregate.code)
    )
    return [Headline(**headline(child, name)) for child, name in rows]


_DESA_CHILDREN = text("""
SELECT w.code, w.name, w.kind, k.id AS kampung_id, k.name AS kampung_name,
       CASE WHEN k.id IS NOT NULL THEN coalesce(c.tier, 'belum_terklasifikasi') END AS tier,
       coalesce(EXISTS (SELECT FROM submission s WHERE s.kampung_id = k.id AND s.period = :period), false) AS reported
  FROM wilayah w
  LEFT JOIN kampung k ON k.desa_code = w.code AND k.active AND k.formed_on <= :period_end
  LEFT JOIN LATERAL (
        SELECT c.tier FROM classification c
         WHERE c.kampung_id = k.id AND c.ruleset = :ruleset AND c.period <= :period
         ORDER BY c.period DESC LIMIT 1
  ) c ON true
 WHERE w.parent_code = :code AND w.level = 'desa'
 ORDER BY w.code""")


async def _desa_children(session: AsyncSession, *, code: str, period: dt.date, ruleset: str) -> list[DesaChild]:
    rows = await session.execute(
        _DESA_CHILDREN, {"code": code, "period": period, "period_end": _month_end(period), "ruleset": ruleset}
    )
    return [DesaChild(**row._asdict()) for row in rows]


_PERCONTOHAN = text("""
SELECT k.id, k.name, k.desa_code, k.percontohan_kecamatan, k.percontohan_kabupaten, k.percontohan_provinsi,
       coalesce(c.tier, 'belum_terklasifikasi') AS tier
  FROM kampung k
  LEFT JOIN LATERAL (
        SELECT c.tier FROM classification c
         WHERE c.kampung_id = k.id AND c.ruleset = :ruleset AND c.period <= :period
         ORDER BY c.period DESC LIMIT 1
  ) c ON true
 WHERE k.active AND (k.percontohan_kecamatan OR k.percontohan_kabupaten OR k.percontohan_provinsi)
   AND k.formed_on <= :period_end AND (:code = '00' OR k.desa_code LIKE :code || '.%')
 ORDER BY k.desa_code, k.id""")
_PERCONTOHAN_LEVELS = ("provinsi", "kabupaten", "kecamatan")


async def _percontohan(session: AsyncSession, *, code: str, period: dt.date, ruleset: str) -> list[Percontohan]:
    params = {"code": code, "period": period, "period_end": _month_end(period), "ruleset": ruleset}
    rows = list(await session.execute(_PERCONTOHAN, params))
    return [
        Percontohan(id=row.id, name=row.name, desa_code=row.desa_code, level=level, tier=row.tier)
        for level in _PERCONTOHAN_LEVELS
        for row in rows
        if getattr(row, f"percontohan_{level}")
    ]


def _check_ruleset(ruleset: str, rulesets: list[str]) -> None:
    if ruleset not in rulesets:
        raise Unprocessable.field(["query", "ruleset"], f"must be one of {', '.join(rulesets)}")


async def get_report(session: AsyncSession, *, code: str, period: str, ruleset: str, rulesets: list[str]) -> Report:
    _check_ruleset(ruleset, rulesets)
    name, level = await region_name(session, code)
    month = parse_period(period)
    row = await _aggregate(session, code=code, period=month, ruleset=ruleset)
    children: list[Headline] | list[DesaChild]
    if level is Level.KECAMATAN:
        children = await _desa_children(session, code=code, period=month, ruleset=ruleset)
    else:
        children = await _region_children(session, row)
    figures = headline(row, name)
    target = await session.get(Target, (code, month.year))
    targets = None
    if target is not None:
        targets = TargetVsActual(
            **_target_read(target).model_dump(),
            formation_actual_pct=figures["coverage_pct"],
            mandiri_plus_actual_pct=figures["mandiri_plus_pct"],
        )
    return Report(
        **figures,
        **_details(row),
        percontohan=await _percontohan(session, code=code, period=month, ruleset=ruleset),
        quality=await open_counts(session, code=code, period=month),
        targets=targets,
        children=list(children),
    )


async def get_trend(
    session: AsyncSession, *, code: str, from_period: str, to_period: str, ruleset: str, rulesets: list[str]
) -> Trend:
    _check_ruleset(ruleset, rulesets)
    start, end = parse_period(from_period), parse_period(to_period)
    if start > end:
        raise Unprocessable.field(["query", "from"], "must not be after `to`")
    if (end.year - start.year) * 12 + end.month - start.month >= MAX_TREND_MONTHS:
        raise Unprocessable.field(["query", "from"], f"a trend spans at most {MAX_TREND_MONTHS} months")
    name, _ = await region_name(session, code)
    rows = await session.scalars(
        select(ReportAggregate)
        .where(
            ReportAggregate.code == code,
            ReportAggregate.ruleset == ruleset,
            ReportAggregate.period.between(start, end),
        )
        .order_by(ReportAggregate.period)
    )
    points = [
        TrendPoint(**headline(row, name), period=format_period(row.period), computed_at=row.computed_at) for row in rows
    ]
    return Trend(code=code, name=name, ruleset=ruleset, from_period=from_period, to_period=to_period, points=points)


def _target_read(target: Target) -> TargetRead:
    def number(value: Decimal | None) -> float | None:
        return None if value is None else float(value)

    return TargetRead(
        code=target.code,
        year=target.year,
        formation_pct=number(target.formation_pct),
        mandiri_plus_pct=number(target.mandiri_plus_pct),
        updated_at=target.updated_at,
    )


async def get_target(session: AsyncSession, *, code: str, year: int) -> TargetRead:
    await region_name(session, code)
    target = await session.get(Target, (code, year))
    if target is None:
        raise NotFound(f"no targets for {code} in {year}")
    return _target_read(target)


async def put_target(
    session: AsyncSession, *, code: str, year: int, data: TargetUpdate, principal: Principal
) -> TargetRead:
    principal.require_role(Role.ADMIN, Role.PROVINSI, Role.KABUPATEN)
    principal.require_region(code)
    await region_name(session, code)
    values = {**data.model_dump(), "updated_by": principal.actor, "updated_at": dt.datetime.now(dt.UTC)}
    await session.execute(
        insert(Target)
        .values(code=code, year=year, **values)
        .on_conflict_do_update(index_elements=[Target.code, Target.year], set_=values)
    )
    target = await session.get(Target, (code, year), populate_existing=True)
    assert target is not None
    return _target_read(target)
