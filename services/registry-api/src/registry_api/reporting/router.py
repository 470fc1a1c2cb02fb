from collections.abc import AsyncIterator
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kampungkb_shared.errors import NotFound
from kampungkb_shared.periods import current_period
from registry_api.auth.deps import PrincipalDep
from registry_api.db import SessionDep
from registry_api.reporting import export, service
from registry_api.reporting.schemas import ReportingPage
from registry_api.reports.export import CSV_TYPE, XLSX_TYPE
from registry_api.reports.spans import ReportPeriod
from registry_api.settings import Settings

router = APIRouter(tags=["reports"])


async def _streamed(sessionmaker: async_sessionmaker[AsyncSession], query: service.Query) -> AsyncIterator[bytes]:
    # The request's session is closed once the endpoint returns: the body reads on a session of its own.
    async with sessionmaker() as session, session.begin():
        async for chunk in export.csv_lines(service.every_row(session, query=query)):
            yield chunk


@router.get(
    "/v1/reports/{code}/reporting",
    response_model=ReportingPage,
    responses={
        200: {"content": {CSV_TYPE: {}, XLSX_TYPE: {}}, "description": "the list, or the whole list as a table"}
    },
)
async def get_reporting(
    request: Request,
    code: Annotated[str, Path(description="a region code (kecamatan and above), `00` for the nation")],
    session: SessionDep,
    principal: PrincipalDep,
    period: Annotated[
        ReportPeriod | None, Query(description="YYYY-MM, YYYY-Qn or YYYY; default: the current month")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: str | None = None,
    format: Literal["json", "csv", "xlsx"] = "json",
) -> ReportingPage | Response:
    """Each counted Kampung KB under the region with its timeliness per module, missing first; CSV/XLSX: all rows."""
    if not principal.covers_region(code):  # who wrote what, per Kampung KB: only inside the caller's scope
        raise NotFound(f"no region {code} in the scope {principal.scope}")
    settings: Settings = request.app.state.settings
    query = await service.prepare(session, code=code, period=period or current_period(), deadline=settings)
    filename = f"kampungkb-reporting-{code.replace('.', '')}-{query.period}.{format}"
    disposition = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if format == "csv":
        return StreamingResponse(
            _streamed(request.app.state.sessionmaker, query), media_type=CSV_TYPE, headers=disposition
        )
    if format == "xlsx":
        body = await export.xlsx(service.every_row(session, query=query), title=f"{code} {query.period}")
        return Response(body, media_type=XLSX_TYPE, headers=disposition)
    return await service.page(session, query=query, limit=limit, cursor=cursor)
