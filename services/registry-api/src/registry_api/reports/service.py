"""Reads of the aggregates report-worker writes, with the live desa list of a kecamatan; targets."""

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from kampungkb_shared.closing import Closing
from kampungkb_shared.codes import Tier
from kampungkb_shared.errors import NotFound, Unprocessable
from kampungkb_shared.periods import add_months, current_period, format_period, parse_period
from kampungkb_shared.regions import Level
from kampungkb_shared.reports import OWNERSHIP_FLAGS
from kampungkb_shared.timeliness import TIMELY_MODULES
from registry_api.approvals import service as approvals
from registry_api.auth.service import Principal, Role
from registry_api.quality.repository import open_counts
from registry_api.reports import targets as target_rules
from registry_api.reports.models import ReportAggregate, Target
from registry_api.reports.schemas import (
    DesaChild,
    Headline,
    Kkbpk,
    ModuleTimeliness,
    Ownership,
    Percontohan,
    Report,
    Share,
    TargetRead,
    TargetUpdate,
    TargetVsActual,
    TierChange,
    Tiers,
    TimelinessRead,
    Trend,
    TrendPoint,
)
from registry_api.reports.spans import Combined, Span, combine, parse_span, spans_between
from registry_api.wilayah.models import Wilayah
from registry_api.wilayah.service import region_name

MAX_TREND_MONTHS = 120
_TIERS = tuple(tier.value for tier in Tier)


class ReportNotComputed(NotFound):
    """The region exists, but report-worker has not written its figures for that period and rule set yet."""

    title = "Report not computed yet"
    kind = "report-not-computed"


def pct(numerator: int, denominator: int) -> float | None:
    """A share in percent with two decimals; None when there is nothing to take a share of."""
    return None if denominator == 0 else round(100 * numerator / denominator, 2)


def _month_end(period: dt.date) -> dt.date:
    return add_months(period, 1) - dt.timedelta(days=1)


def _tiers(row: ReportAggregate, prefix: str) -> Tiers:
    return Tiers(**{tier: getattr(row, f"{prefix}{tier}") for tier in _TIERS})


def _timeliness(row: ReportAggregate, base: int) -> TimelinessRead:
    def module(name: str) -> ModuleTimeliness:
        on_time, late = getattr(row, f"{name}_on_time"), getattr(row, f"{name}_late")
        missing = base - on_time - late
        return ModuleTimeliness(
            on_time=on_time,
            late=late,
            missing=missing,
            on_time_pct=pct(on_time, base),
            late_pct=pct(late, base),
            missing_pct=pct(missing, base),
        )

    return TimelinessRead(**{name: module(name) for name in TIMELY_MODULES})


def headline(row: ReportAggregate, name: str, *, kampung_months: int | None = None) -> dict[str, Any]:
    """The headline figures; over a quarter or year, reporting is over `kampung_months` (see `spans`)."""
    base = row.kampung_total if kampung_months is None else kampung_months
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
        "reporting_rate_pct": pct(row.reported, base),
        "pus": row.pus,
        "cpr_pct": pct(row.kb_users, row.kkbpk_pus),
        "mkjp_pct": pct(row.mkjp_users, row.kb_users),
        "unmet_need_pct": pct(row.unmet_need, row.kkbpk_pus),
        "timeliness": _timeliness(row, base),
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


def _months_of(span: Span) -> list[dt.date]:
    """The months a report of the span covers: none after the current one (a quarter or year in progress)."""
    months = span.months(until=parse_period(current_period()))
    if not months:
        raise ReportNotComputed(f"{span.label} has not begun")
    return months


async def _aggregate(session: AsyncSession, *, code: str, span: Span, ruleset: str) -> Combined:
    months = _months_of(span)
    rows = list(
        await session.scalars(
            select(ReportAggregate)
            .where(ReportAggregate.code == code, ReportAggregate.ruleset == ruleset, ReportAggregate.period.in_(months))
            .order_by(ReportAggregate.period)
        )
    )
    if len(rows) < len(months):
        missing = sorted(set(months) - {row.period for row in rows})
        raise ReportNotComputed(
            f"the {', '.join(map(format_period, missing))} figures of {code} under {ruleset} have not been computed "
            "yet; they are after the first submission of that period in the region, or the nightly rebuild"
        )
    return combine(rows)


async def _region_children(session: AsyncSession, *, code: str, months: list[dt.date], ruleset: str) -> list[Headline]:
    rows = await session.execute(
        select(ReportAggregate, Wilayah.name)
        .join(Wilayah, Wilayah.code == ReportAggregate.code)
        .where(
            ReportAggregate.period.in_(months),
            ReportAggregate.ruleset == ruleset,
            ReportAggregate.parent_code == code,
        )
        .order_by(ReportAggregate.code, ReportAggregate.period)
    )
    by_code: dict[str, tuple[str, list[ReportAggregate]]] = {}
    for child, name in rows:
        by_code.setdefault(child.code, (name, []))[1].append(child)
    children = []
    for name, monthly in by_code.values():
        combined = combine(monthly)
        children.append(Headline(**headline(combined.row, name, kampung_months=combined.kampung_months)))
    return children


_DESA_CHILDREN = text("""
SELECT w.code, w.name, w.kind, k.id AS kampung_id, k.name AS kampung_name,
       CASE WHEN k.id IS NOT NULL THEN coalesce(c.tier, 'belum_terklasifikasi') END AS tier,
       coalesce(r.months, 0) > 0 AS reported, coalesce(r.months, 0) AS months_reported
  FROM wilayah w
  LEFT JOIN kampung k ON k.desa_code = w.code AND k.active AND k.formed_on <= :period_end
  LEFT JOIN LATERAL (
        SELECT c.tier FROM classification c
         WHERE c.kampung_id = k.id AND c.ruleset = :ruleset AND c.period <= :period
         ORDER BY c.period DESC LIMIT 1
  ) c ON true
  LEFT JOIN LATERAL (
        SELECT count(DISTINCT s.period) AS months FROM submission s
         WHERE s.kampung_id = k.id AND s.period BETWEEN :first AND :period
  ) r ON true
 WHERE w.parent_code = :code AND w.level = 'desa'
 ORDER BY w.code""")


async def _desa_children(
    session: AsyncSession, *, code: str, first: dt.date, period: dt.date, ruleset: str
) -> list[DesaChild]:
    """As of the last month `period`; `months_reported` counts from `first`."""
    params = {"code": code, "first": first, "period": period, "period_end": _month_end(period), "ruleset": ruleset}
    rows = await session.execute(_DESA_CHILDREN, params)
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


async def _target_progress(session: AsyncSession, *, row: ReportAggregate, name: str) -> list[Any]:
    applied = await target_rules.applied_targets(session, code=row.code, year=row.period.year)
    if not applied:
        return []
    december = await session.get(ReportAggregate, (dt.date(row.period.year - 1, 12, 1), row.ruleset, row.code))
    return target_rules.progress(
        applied,
        month=row.period,
        now=headline(row, name),
        december=None if december is None else headline(december, name),
    )


async def _previous(session: AsyncSession, *, code: str, span: Span, ruleset: str, name: str) -> TrendPoint | None:
    before = span.shifted(-1)
    try:
        combined = await _aggregate(session, code=code, span=before, ruleset=ruleset)
    except ReportNotComputed:
        return None
    figures = headline(combined.row, name, kampung_months=combined.kampung_months)
    return TrendPoint(**figures, period=before.label, computed_at=combined.row.computed_at)


async def get_report(
    session: AsyncSession, *, code: str, period: str, ruleset: str, rulesets: list[str], closing: Closing
) -> Report:
    """A month, quarter or year (`spans`): figures as of its last month, reporting and services over its months."""
    _check_ruleset(ruleset, rulesets)
    name, level = await region_name(session, code)
    span = parse_span(period)
    combined = await _aggregate(session, code=code, span=span, ruleset=ruleset)
    row, month = combined.row, combined.row.period
    children: list[Headline] | list[DesaChild]
    if level is Level.KECAMATAN:
        children = await _desa_children(session, code=code, first=span.first, period=month, ruleset=ruleset)
    else:
        children = await _region_children(session, code=code, months=combined.months, ruleset=ruleset)
    approval = await approvals.statuses(
        session, codes=[code, *(child.code for child in children)], period=month, closing=closing
    )
    for child in children:
        if isinstance(child, Headline):
            child.approval = approval[child.code]
    figures = headline(row, name, kampung_months=combined.kampung_months)
    target = await session.get(Target, (code, month.year))
    targets = None
    if target is not None:
        targets = TargetVsActual(
            **_target_read(target).model_dump(),
            formation_actual_pct=figures["coverage_pct"],
            mandiri_plus_actual_pct=figures["mandiri_plus_pct"],
        )
    details = _details(row)
    details["period"] = span.label
    details["tier_change"].previous_period = span.shifted(-1).label
    return Report(
        **figures,
        **details,
        months=[format_period(m) for m in combined.months],
        kampung_months=combined.kampung_months,
        percontohan=await _percontohan(session, code=code, period=month, ruleset=ruleset),
        quality=await open_counts(session, code=code, period=month),
        targets=targets,
        target_progress=await _target_progress(session, row=row, name=name),
        previous=await _previous(session, code=code, span=span, ruleset=ruleset, name=name),
        children=list(children),
        approval=approval[code],
    )


async def get_trend(
    session: AsyncSession, *, code: str, from_period: str, to_period: str, ruleset: str, rulesets: list[str]
) -> Trend:
    """One point per month, quarter or year (both ends of one kind) whose months so far are all computed."""
    _check_ruleset(ruleset, rulesets)
    start, end = parse_span(from_period), parse_span(to_period)
    if start.kind != end.kind:
        raise Unprocessable.field(["query", "to"], f"must be a {start.kind} like `from`")
    if start.first > end.first:
        raise Unprocessable.field(["query", "from"], "must not be after `to`")
    if (end.last.year - start.first.year) * 12 + end.last.month - start.first.month >= MAX_TREND_MONTHS:
        raise Unprocessable.field(["query", "from"], f"a trend spans at most {MAX_TREND_MONTHS} months")
    name, _ = await region_name(session, code)
    rows = await session.scalars(
        select(ReportAggregate)
        .where(
            ReportAggregate.code == code,
            ReportAggregate.ruleset == ruleset,
            ReportAggregate.period.between(start.first, end.last),
        )
        .order_by(ReportAggregate.period)
    )
    by_month = {row.period: row for row in rows}
    points, today = [], parse_period(current_period())
    for span in spans_between(start, end):
        months = span.months(until=today)
        if months and all(m in by_month for m in months):
            combined = combine([by_month[m] for m in months])
            figures = headline(combined.row, name, kampung_months=combined.kampung_months)
            points.append(TrendPoint(**figures, period=span.label, computed_at=combined.row.computed_at))
    return Trend(code=code, name=name, ruleset=ruleset, from_period=from_period, to_period=to_period, points=points)


def _target_read(target: Target) -> TargetRead:
    def number(value: Decimal | None) -> float | None:
        return None if value is None else float(value)

    return TargetRead(
        code=target.code,
        year=target.year,
        formation_pct=number(target.formation_pct),
        mandiri_plus_pct=number(target.mandiri_plus_pct),
        mandiri_plus_increase_pts=number(target.mandiri_plus_increase_pts),
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
