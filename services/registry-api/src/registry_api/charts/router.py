from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Request, Response

from kampungkb_shared.periods import current_period
from registry_api.auth.deps import PublicReaderDep
from registry_api.charts import service
from registry_api.charts.labels import Lang
from registry_api.db import SessionDep
from registry_api.etags import none_match
from registry_api.reports.spans import ReportPeriod
from registry_api.settings import Settings

router = APIRouter(tags=["reports"])

CACHE_CONTROL = "no-cache"
"""Revalidated on every use: the tag follows the figures, so a 304 costs the reads but no drawing."""


async def chart_response(
    request: Request,
    session: SessionDep,
    *,
    chart: service.ChartName,
    code: str,
    period: str | None,
    ruleset: str | None,
    lang: Lang,
    module: service.Module,
    if_none_match: str | None,
    size: service.Size = service.API_SIZE,
) -> Response:
    """A chart as SVG, or 304 when the caller holds its tag (shared by the API and the dashboard, which draws its
    own `size`)."""
    settings: Settings = request.app.state.settings
    drawing = await service.load(
        session,
        chart=chart,
        code=code,
        period=period or current_period(),
        ruleset=ruleset or settings.primary_ruleset,
        rulesets=settings.rulesets,
        closing=settings.closing(),
        lang=lang,
        module=module,
        size=size,
    )
    headers = {"ETag": drawing.etag, "Cache-Control": CACHE_CONTROL}
    if if_none_match is not None and not none_match(if_none_match, drawing.etag):
        return Response(status_code=304, headers=headers)
    headers["Content-Security-Policy"] = service.SVG_POLICY
    return Response(drawing.draw(), media_type=service.SVG_TYPE, headers=headers)


@router.get(
    "/v1/reports/{code}/charts/{chart}.svg",
    response_class=Response,
    responses={
        200: {"content": {service.SVG_TYPE: {}}, "description": "the chart"},
        304: {"description": "the chart is unchanged since the `ETag` sent in `If-None-Match`"},
    },
)
async def get_chart(
    request: Request,
    code: Annotated[str, Path(description="a region code (kecamatan and above), `00` for the nation")],
    chart: Annotated[service.ChartName, Path(description="`tiers`, `trend`, `reporting` or `kkbpk`")],
    session: SessionDep,
    reader: PublicReaderDep,
    period: Annotated[
        ReportPeriod | None, Query(description="YYYY-MM, YYYY-Qn or YYYY; default: the current month")
    ] = None,
    ruleset: Annotated[str | None, Query(description="default: the primary rule set")] = None,
    lang: Annotated[Lang, Query(description="labels in Indonesian (`id`) or English (`en`)")] = "id",
    module: Annotated[service.Module, Query(description="the module of the `reporting` chart")] = "profil",
    if_none_match: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    """A chart of the region's report as SVG: tiers, trend with the target, reporting per child, or KKBPK."""
    return await chart_response(
        request,
        session,
        chart=chart,
        code=code,
        period=period,
        ruleset=ruleset,
        lang=lang,
        module=module,
        if_none_match=if_none_match,
    )
