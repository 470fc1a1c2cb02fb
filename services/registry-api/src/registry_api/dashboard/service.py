"""What the officer's page shows, read through the report, reporting, quality and classification services.

Report figures are public reads (as `GET /v1/reports/{code}`); the list to chase, the open data-quality flags and
each Kampung KB's next-tier actions name single Kampung KB, so they appear only for a signed-in reader whose scope
covers them.
"""

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kampungkb_shared.periods import add_months, format_period, parse_period
from kampungkb_shared.regions import NATION_CODE, ancestors
from kampungkb_shared.timeliness import DeadlineSettings
from registry_api.auth.service import Principal
from registry_api.charts import service as charts
from registry_api.charts.labels import Lang
from registry_api.classifications.client import ClassifierClient, ClassifierUnavailable
from registry_api.classifications.explanations import explain
from registry_api.classifications.service import classifications_as_of
from registry_api.quality import service as quality
from registry_api.quality.schemas import FlagPage
from registry_api.reporting import service as reporting
from registry_api.reporting.schemas import ReportingPage
from registry_api.reports import service as reports
from registry_api.reports.models import ReportPeriod
from registry_api.reports.schemas import DesaChild, Report
from registry_api.reports.spans import parse_span
from registry_api.settings import Settings
from registry_api.wilayah.service import NATION_NAME, region_name

CHASE_ROWS = 50
"""The first rows of the list to chase on the page; the whole list is a download."""
FLAG_ROWS = 50
"""The first open data-quality flags on the page; the whole list is `GET /v1/quality/{code}`."""
CHOICE_MONTHS = 24
"""The period picker offers the computed months among the 24 up to the newest computed one."""


@dataclass
class Crumb:
    code: str
    name: str


@dataclass
class Page:
    code: str
    name: str
    period: str
    ruleset: str
    periods: list[tuple[str, list[str]]]
    """The periods offered, by group (`months`, `quarters`, `years`; `shown` for a period named outside them)."""
    crumbs: list[Crumb]
    module: charts.Module = "kkbpk"
    """The module of the reporting chart."""
    report: Report | None = None
    computed_at: dt.datetime | None = None
    """The report's `computed_at` in the programme's time zone."""
    figures: dict[str, charts.Figures] = field(default_factory=dict)
    """What each chart draws, shown beside it as a table."""
    chase: ReportingPage | None = None
    flags: FlagPage | None = None
    actions: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    next_tiers: dict[int, str] = field(default_factory=dict)

    @property
    def desa(self) -> list[DesaChild]:
        """A kecamatan's desa/kelurahan; empty above a kecamatan."""
        if self.report is None:
            return []
        return [child for child in self.report.children if isinstance(child, DesaChild)]


def programme_today(settings: DeadlineSettings, now: dt.datetime | None = None) -> dt.date:
    """Today in the programme's time zone (`REPORTING_TIME_ZONE`), the one its deadlines are read in."""
    return (now or dt.datetime.now(dt.UTC)).astimezone(ZoneInfo(settings.reporting_time_zone)).date()


def reporting_month(settings: DeadlineSettings, now: dt.datetime | None = None) -> dt.date:
    """The month being reported now: the previous one, whose data are due by `REPORTING_DEADLINE_DAY` of this one
    (the current month is not over, and early in it nearly nobody has reported)."""
    return add_months(programme_today(settings, now), -1)


async def computed_months(session: AsyncSession, *, ruleset: str) -> set[dt.date]:
    """The months report-worker has computed under the rule set."""
    return set(await session.scalars(select(ReportPeriod.period).where(ReportPeriod.ruleset == ruleset)))


def default_period(computed: set[dt.date], *, reporting: dt.date) -> str:
    """The period a page opens on: the newest computed month up to the month being reported (a month computed while
    it runs, or the next one, is not the default); that month itself when none is computed."""
    return format_period(max((month for month in computed if month <= reporting), default=reporting))


def period_choices(shown: str, computed: set[dt.date], *, today: dt.date) -> list[tuple[str, list[str]]]:
    """The periods offered whatever the one shown, newest first: the computed months among the `CHOICE_MONTHS` up to
    the newest computed one (never one after this month), and the quarters and years of those months whose months so
    far are all computed (as a report of them needs); the period shown first when it is none of them."""
    this_month = today.replace(day=1)
    newest = max((month for month in computed if month <= this_month), default=this_month)
    window = [add_months(newest, -n) for n in range(CHOICE_MONTHS)]
    so_far = this_month  # the months of a span a report counts so far, in the same day as the rest

    def whole(span: str) -> bool:
        months = parse_span(span).months(until=so_far)
        return bool(months) and all(month in computed for month in months)

    years = sorted({month.year for month in window}, reverse=True)
    groups = [
        ("months", [format_period(month) for month in window if month in computed]),
        ("quarters", [f"{year}-Q{q}" for year in years for q in range(4, 0, -1) if whole(f"{year}-Q{q}")]),
        ("years", [str(year) for year in years if whole(str(year))]),
    ]
    groups = [(name, periods) for name, periods in groups if periods]
    if any(shown in periods for _, periods in groups):
        return groups
    return [("shown", [shown]), *groups]


async def _crumbs(session: AsyncSession, *, code: str) -> list[Crumb]:
    crumbs = [Crumb(NATION_CODE, NATION_NAME)]
    if code != NATION_CODE:
        for above in [*ancestors(code), code]:
            name, _ = await region_name(session, above)
            crumbs.append(Crumb(above, name))
    return crumbs


async def load(
    session: AsyncSession,
    *,
    code: str,
    period: str | None,
    ruleset: str | None,
    principal: Principal | None,
    settings: Settings,
    classifier: ClassifierClient,
    module: charts.Module = "kkbpk",
    lang: Lang = "id",
) -> Page:
    """The page's figures; a period not computed yet leaves `report` empty (the page says so). Without `period`, the
    month being reported (`default_period`)."""
    ruleset = ruleset or settings.primary_ruleset
    computed = await computed_months(session, ruleset=ruleset)
    period = period or default_period(computed, reporting=reporting_month(settings))
    name, _ = await region_name(session, code)
    page = Page(
        code=code,
        name=name,
        period=period,
        ruleset=ruleset,
        periods=period_choices(period, computed, today=programme_today(settings)),
        crumbs=await _crumbs(session, code=code),
        module=module,
    )
    try:
        page.report = report = await reports.get_report(
            session, code=code, period=period, ruleset=ruleset, rulesets=settings.rulesets, closing=settings.closing()
        )
    except reports.ReportNotComputed:
        return page
    page.computed_at = report.computed_at.astimezone(ZoneInfo(settings.reporting_time_zone))
    trend, target = await charts.load_trend(
        session, code=code, period=period, ruleset=ruleset, rulesets=settings.rulesets
    )
    page.figures = {
        "tiers": charts.tiers_figures(report, lang),
        "trend": charts.trend_figures(trend, target, lang),
        "reporting": charts.reporting_figures(report, module, lang),
        "kkbpk": charts.kkbpk_figures(report, lang),
    }
    if principal is None or not principal.covers_region(code):
        return page
    query = await reporting.prepare(session, code=code, period=period, deadline=settings)
    page.chase = await reporting.page(session, query=query, limit=CHASE_ROWS, cursor=None)
    as_of: dt.date = parse_period(page.report.months[-1]) if page.report.months else parse_span(period).last
    page.flags = await quality.list_flags(
        session, code=code, period=as_of, kind=None, status="open", limit=FLAG_ROWS, cursor=None, principal=principal
    )
    ids = [desa.kampung_id for desa in page.desa if desa.kampung_id is not None]
    if ids:
        found = await classifications_as_of(session, kampung_ids=ids, period=as_of, ruleset=ruleset)
        try:
            explained = await explain(session, classifier=classifier, rows=list(found.values()))
        except ClassifierUnavailable:
            explained = []  # the classifier derives the next steps: without it, the page shows the tiers alone
        for read in explained:
            if read.next_tier is not None:
                page.next_tiers[read.kampung_id] = read.next_tier.tier.value
                page.actions[read.kampung_id] = [action.model_dump() for action in read.next_tier.actions]
    return page
