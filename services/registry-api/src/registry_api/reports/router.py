from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response

from kampungkb_shared.periods import current_period
from registry_api.auth.deps import PublicReaderDep, WriterDep
from registry_api.db import SessionDep
from registry_api.reports import export, service
from registry_api.reports.schemas import Report, TargetRead, TargetUpdate, Trend
from registry_api.reports.spans import ReportPeriod, trend_start
from registry_api.settings import Settings

router = APIRouter(tags=["reports"])

RegionPath = Annotated[str, Path(description="a region code (kecamatan and above), `00` for the nation")]
PeriodQuery = Annotated[
    ReportPeriod | None,
    Query(description="a month YYYY-MM, a quarter YYYY-Qn or a year YYYY; default: the current month"),
]
RulesetQuery = Annotated[str | None, Query(description="default: the primary rule set")]
Year = Annotated[int, Path(ge=2016, le=2100)]


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def _report(request: Request, session: SessionDep, code: str, period: str | None, ruleset: str | None) -> Report:
    settings = _settings(request)
    return await service.get_report(
        session,
        code=code,
        period=period or current_period(),
        ruleset=ruleset or settings.primary_ruleset,
        rulesets=settings.rulesets,
        closing=settings.closing(),
    )


@router.get("/v1/reports/{code}", response_model=Report)
async def get_report(
    request: Request,
    code: RegionPath,
    session: SessionDep,
    reader: PublicReaderDep,
    period: PeriodQuery = None,
    ruleset: RulesetQuery = None,
) -> Report:
    """A region's figures for a month, quarter or year, per child region too; 404 `report-not-computed` if not yet."""
    return await _report(request, session, code, period, ruleset)


@router.get("/v1/reports/{code}/trend", response_model=Trend)
async def get_trend(
    request: Request,
    code: RegionPath,
    session: SessionDep,
    reader: PublicReaderDep,
    from_: Annotated[
        ReportPeriod | None,
        Query(alias="from", description="of the same kind as `to`; default: a year of points before `to`"),
    ] = None,
    to: Annotated[
        ReportPeriod | None, Query(description="YYYY-MM, YYYY-Qn or YYYY; default: the current month")
    ] = None,
    ruleset: RulesetQuery = None,
) -> Trend:
    """The headline figures of a region per month, quarter or year in a range (at most 120 months)."""
    settings = _settings(request)
    to = to or current_period()
    return await service.get_trend(
        session,
        code=code,
        from_period=from_ or trend_start(to),
        to_period=to,
        ruleset=ruleset or settings.primary_ruleset,
        rulesets=settings.rulesets,
    )


@router.get(
    "/v1/reports/{code}/export",
    response_class=Response,
    responses={200: {"content": {export.CSV_TYPE: {}, export.XLSX_TYPE: {}}, "description": "the children as a table"}},
)
async def export_report(
    request: Request,
    code: RegionPath,
    session: SessionDep,
    reader: PublicReaderDep,
    period: PeriodQuery = None,
    ruleset: RulesetQuery = None,
    format: Literal["csv", "xlsx"] = "csv",
) -> Response:
    """The region's children as a CSV or XLSX table (for a kecamatan: its desa/kelurahan and their tiers)."""
    report = await _report(request, session, code, period, ruleset)
    body, media_type, disposition = export.as_file(report, format)
    return Response(body, media_type=media_type, headers={"Content-Disposition": disposition})


@router.get("/v1/targets/{code}/{year}", response_model=TargetRead)
async def get_target(code: RegionPath, year: Year, session: SessionDep, reader: PublicReaderDep) -> TargetRead:
    """A region's targets for a year."""
    return await service.get_target(session, code=code, year=year)


@router.put("/v1/targets/{code}/{year}", response_model=TargetRead)
async def put_target(
    code: RegionPath, year: Year, data: TargetUpdate, session: SessionDep, principal: WriterDep
) -> TargetRead:
    """Set a region's targets for a year (admin, provinsi or kabupaten key whose scope covers the region)."""
    return await service.put_target(session, code=code, year=year, data=data, principal=principal)
