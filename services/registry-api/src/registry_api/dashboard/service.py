"""What the officer's page shows, read through the report, reporting, quality and classification services.

Report figures are public reads (as `GET /v1/reports/{code}`); the list to chase, the open data-quality flags and
each Kampung KB's next-tier actions name single Kampung KB, so they appear only for a signed-in reader whose scope
covers them.
"""

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kampungkb_shared.periods import add_months, current_period, format_period, parse_period
from kampungkb_shared.regions import NATION_CODE, ancestors
from registry_api.auth.service import Principal
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
    periods: list[str]
    crumbs: list[Crumb]
    report: Report | None = None
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


async def latest_period(session: AsyncSession, *, ruleset: str) -> str:
    """The newest month report-worker has computed under the rule set; the current month when none."""
    newest = await session.scalar(select(func.max(ReportPeriod.period)).where(ReportPeriod.ruleset == ruleset))
    return current_period() if newest is None else format_period(newest)


def period_choices(period: str) -> list[str]:
    """The periods offered: twelve months back from the one shown, its year's quarters, and three years."""
    last = parse_span(period).last
    months = [format_period(add_months(last, -n)) for n in range(12)]
    quarters = [f"{last.year}-Q{q}" for q in range(4, 0, -1)]
    years = [str(last.year - n) for n in range(3)]
    return list(dict.fromkeys([period, *months, *quarters, *years]))


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
) -> Page:
    """The page's figures; a period not computed yet leaves `report` empty (the page says so)."""
    ruleset = ruleset or settings.primary_ruleset
    period = period or await latest_period(session, ruleset=ruleset)
    name, _ = await region_name(session, code)
    page = Page(
        code=code,
        name=name,
        period=period,
        ruleset=ruleset,
        periods=period_choices(period),
        crumbs=await _crumbs(session, code=code),
    )
    try:
        page.report = await reports.get_report(
            session, code=code, period=period, ruleset=ruleset, rulesets=settings.rulesets, closing=settings.closing()
        )
    except reports.ReportNotComputed:
        return page
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
