import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from kampungkb_shared.errors import ServiceUnavailable
from registry_api.auth.deps import PrincipalDep
from registry_api.db import SessionDep
from registry_api.exports import metrics, service
from registry_api.exports.schemas import ExportFormat, ExportModule
from registry_api.exports.slots import ExportSlots, SlotHoldingResponse
from registry_api.settings import Settings

router = APIRouter(prefix="/v1/exports", tags=["exports"])

EXPORT_DESCRIPTION = """
The rows in force, streamed as PostgreSQL writes them: for `profil`, `kependudukan`, `kkbpk` the newest submission at
or before `period` of each active Kampung KB under `wilayah` that has one; for `kampung` the active Kampung KB (formed
by the end of `period` when given); for `kegiatan` the activities dated `from`..`to`; for `classifications` the
newest result at or before `period` under `ruleset` (default: the primary rule set), without its explanation.

The columns (CSV) and objects (NDJSON) are exactly those the import of the module reads: a file exported and
imported again is reported as every row unchanged. In CSV, a name starting with `=`, `+`, `-` or `@` gets a `'`
before it (the import takes it off) and control characters are left out of names.

The file is a snapshot of one moment (one repeatable-read transaction), in desa-code order. Any key may export; the
rows are those of its scope, and `wilayah` (a region code prefix, `00` for the nation) may narrow it, never widen it.

A server streams a few exports at once (each holds a database connection while its client reads); past them an
export answers 503 with `Retry-After`.
"""


@router.get(
    "/{module}",
    response_class=StreamingResponse,
    description=EXPORT_DESCRIPTION,
    responses={
        200: {
            "description": "the rows, streamed",
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/x-ndjson": {"schema": {"type": "string"}},
            },
        },
        403: {"description": "wilayah outside the key's scope"},
        404: {"description": "no such region"},
        422: {"description": "unknown module or format, missing or bad period, dates or rule set"},
        503: {"description": "as many exports streaming as the server streams at once: retry after `Retry-After`"},
    },
)
async def export_module(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    module: ExportModule,
    period: Annotated[str | None, Query(description="YYYY-MM: what is in force at that month")] = None,
    wilayah: Annotated[str | None, Query(description="region code prefix; 00 or absent: all the key may read")] = None,
    fmt: Annotated[ExportFormat, Query(alias="format")] = ExportFormat.CSV,
    start: Annotated[dt.date | None, Query(alias="from", description="kegiatan: first date")] = None,
    end: Annotated[dt.date | None, Query(alias="to", description="kegiatan: last date")] = None,
    ruleset: Annotated[str | None, Query(description="classifications: the rule set")] = None,
) -> StreamingResponse:
    """Stream a module's rows in force for a period, in the columns of its import (CSV or NDJSON)."""
    settings: Settings = request.app.state.settings
    query = await service.check_query(
        session,
        principal=principal,
        module=module,
        fmt=fmt,
        period=period,
        wilayah=wilayah,
        start=start,
        end=end,
        ruleset=ruleset,
        rulesets=settings.rulesets,
    )
    statement = service.export_statement(principal=principal, query=query)
    slots: ExportSlots = request.app.state.export_slots
    try:
        give_back = slots.take()
    except ServiceUnavailable:
        metrics.EXPORTS.labels(query.module.value, query.format.value, "busy").inc()
        raise
    return SlotHoldingResponse(
        service.stream(request.app.state.sessionmaker, statement=statement, query=query),
        give_back=give_back,
        media_type=query.format.media_type,
        headers={"Content-Disposition": f'attachment; filename="{query.filename}"'},
    )
