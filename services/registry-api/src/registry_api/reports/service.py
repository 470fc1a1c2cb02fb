"""Reads of the aggregates report-worker writes, with the live desa list of a kecamatan; targets."""

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from kampungkb_shared.closing import Closing
from kampungkb_shared.codes import Contraception, Tier
from kampungkb_shared.errors import NotFound, Unprocessable
from kampungkb_shared.periods import add_months, current_period, format_period, parse_period
from kampungkb_shared.regions import Level
from kampungkb_shared.reports import METHOD_COLUMNS, OWNERSHIP_FLAGS
from kampungkb_shared.timeliness import TIMELY_MODULES
from registry_api.auth.service import Principal, Role
from registry_api.db import plan_each
from registry_api.reports import targets as target_rules
from registry_api.reports.models import Target
from registry_api.reports.repository import RegionFigures, beside_figures, months_between, region_figures
from registry_api.reports.schemas import (
    DesaChild,
    Headline,
    Kkbpk,
    ModuleTimeliness,
    Ownership,
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
from registry_api.reports.spans import Combined, Figures, Span, combine, parse_span, spans_between
from registry_api.wilayah.service import region_name, region_of

MAX_TREND_MONTHS = 120
_TIERS = tuple(tier.value for tier in Tier)


class ReportNotComputed(NotFound):
    """The region exists, but report-worker has not written its figures for that period and rule set yet."""

    title = "Report not computed yet"
    kind = "report-not-computed"


def pct(numerator: int, denominator: int) -> float | None:
    """A share in percent with two decimals; None when there is nothing to take a share of."""
    return None if denominator == 0 else round(100 * numerator / denominator, 2)


def _tiers(row: Figures, prefix: str) -> Tiers:
    return Tiers(**{tier: getattr(row, f"{prefix}{tier}") for tier in _TIERS})


def _timeliness(row: Figures, base: int) -> TimelinessRead:
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


def _by_method(row: Figures) -> dict[Contraception, int]:
    return {code: getattr(row, column) for code, column in METHOD_COLUMNS.items()}


def headline(row: Figures, name: str, *, kampung_months: int | None = None) -> dict[str, Any]:
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
        "method_mix_pct": {code: pct(users, row.kb_users) for code, users in _by_method(row).items()},
        "timeliness": _timeliness(row, base),
    }


def _details(row: Figures) -> dict[str, Any]:
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
            kb_users_by_method=_by_method(row),
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


def _combined(found: dict[dt.date, Figures], months: list[dt.date]) -> Combined | None:
    """The figures of `months` combined, None unless every one of them was computed."""
    if not all(month in found for month in months):
        return None
    return combine([found[month] for month in months])


async def _not_computed(session: AsyncSession, *, code: str, message: str) -> ReportNotComputed:
    """Why a report cannot be given: an unknown region first (`region_name` raises), else not computed yet."""
    await region_name(session, code)
    return ReportNotComputed(message)


async def _figures_of(
    session: AsyncSession, *, code: str, span: Span, ruleset: str
) -> tuple[Combined, RegionFigures, dt.date]:
    """The span's figures of the region (its months so far), with those read beside them (the span before,
    December of the year before, the children's) and that December."""
    months = span.months(until=parse_period(current_period()))
    if not months:
        raise await _not_computed(session, code=code, message=f"{span.label} has not begun")
    december = dt.date(months[-1].year - 1, 12, 1)
    found = await region_figures(
        session,
        code=code,
        ruleset=ruleset,
        months=[*months, *span.shifted(-1).months(), december],
        children_months=months,
    )
    combined = _combined(found.months, months)
    if combined is None:
        missing = ", ".join(format_period(month) for month in months if month not in found.months)
        raise await _not_computed(
            session,
            code=code,
            message=f"the {missing} figures of {code} under {ruleset} have not been computed yet; they are after "
            "the first submission of that period in the region, or the nightly rebuild",
        )
    return combined, found, december


def _region_children(found: RegionFigures) -> list[Headline]:
    children = []
    for name, monthly in found.children.values():
        combined = combine(monthly)
        children.append(Headline(**headline(combined.row, name, kampung_months=combined.kampung_months)))
    return children


def _check_ruleset(ruleset: str, rulesets: list[str]) -> None:
    if ruleset not in rulesets:
        raise Unprocessable.field(["query", "ruleset"], f"must be one of {', '.join(rulesets)}")


def _targets_vs_actual(own: target_rules.TargetRow | None, figures: dict[str, Any]) -> TargetVsActual | None:
    if own is None:
        return None
    return TargetVsActual(
        **_target_read(own).model_dump(),
        formation_actual_pct=figures["coverage_pct"],
        mandiri_plus_actual_pct=figures["mandiri_plus_pct"],
    )


def _point(combined: Combined, name: str, span: Span) -> TrendPoint:
    figures = headline(combined.row, name, kampung_months=combined.kampung_months)
    return TrendPoint(
        **figures,
        period=span.label,
        computed_at=combined.row.computed_at,
        computed_version=combined.computed_version,
    )


def _previous(span: Span, found: RegionFigures, name: str) -> TrendPoint | None:
    before = span.shifted(-1)
    combined = _combined(found.months, before.months())
    return None if combined is None else _point(combined, name, before)


async def get_report(
    session: AsyncSession, *, code: str, period: str, ruleset: str, rulesets: list[str], closing: Closing
) -> Report:
    """A month, quarter or year (`spans`): figures as of its last month, reporting and services over its months."""
    _check_ruleset(ruleset, rulesets)
    await plan_each(session)
    span = parse_span(period)
    combined, found, december = await _figures_of(session, code=code, span=span, ruleset=ruleset)
    name, level = region_of(code, found.region)
    row, month = combined.row, combined.row.period
    regions = _region_children(found)
    beside = await beside_figures(
        session,
        code=code,
        children=[child.code for child in regions],
        span=span,
        month=month,
        ruleset=ruleset,
        closing=closing,
    )
    for child in regions:
        child.approval = beside.approval[child.code]
    children: list[Headline] | list[DesaChild] = beside.desa if level is Level.KECAMATAN else regions
    figures = headline(row, name, kampung_months=combined.kampung_months)
    at_december = found.months.get(december)
    details = _details(row)
    details["period"] = span.label
    details["tier_change"].previous_period = span.shifted(-1).label
    return Report(
        **figures,
        **details,
        computed_version=combined.computed_version,
        months=[format_period(m) for m in combined.months],
        kampung_months=combined.kampung_months,
        percontohan=beside.percontohan,
        quality=beside.quality,
        targets=_targets_vs_actual(beside.targets.get(code), figures),
        target_progress=target_rules.progress(
            target_rules.applied(beside.targets, code=code, year=month.year),
            month=month,
            now=headline(row, name),
            december=None if at_december is None else headline(at_december, name),
        ),
        previous=_previous(span, found, name),
        children=list(children),
        approval=beside.approval[code],
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
    await plan_each(session)
    name, _ = await region_name(session, code)
    by_month = await months_between(session, code=code, ruleset=ruleset, first=start.first, last=end.last)
    points, today = [], parse_period(current_period())
    for span in spans_between(start, end):
        months = span.months(until=today)
        if months and all(m in by_month for m in months):
            points.append(_point(combine([by_month[m] for m in months]), name, span))
    return Trend(code=code, name=name, ruleset=ruleset, from_period=from_period, to_period=to_period, points=points)


def _target_read(target: Target | target_rules.TargetRow) -> TargetRead:
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
