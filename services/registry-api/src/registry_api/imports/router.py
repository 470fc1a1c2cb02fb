import datetime as dt
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Header, Path, Query, Request, Response

from kampungkb_shared.errors import Unprocessable, UnsupportedMediaType
from kampungkb_shared.periods import parse_period, within_programme
from registry_api.auth.deps import PrincipalDep, WriterDep
from registry_api.db import BIGINT_MAX, SessionDep
from registry_api.imports import service
from registry_api.imports.docs import IMPORT_DESCRIPTION
from registry_api.imports.formats import ImportModule
from registry_api.imports.schemas import ImportRead
from registry_api.settings import Settings

_CSV_EXAMPLE = (
    "desa_code,pus,families,remaja,families_with_balita,families_with_remaja,families_with_lansia,"
    "population_male,population_female\n99.01.01.2001,100,150,60,40,35,30,,\n"
)
_NDJSON_EXAMPLE = (
    '{"desa_code": "99.01.01.2001", "pus": 100, "families": 150, "remaja": 60, "families_with_balita": 40, '
    '"families_with_remaja": 35, "families_with_lansia": 30}\n'
)

ImportId = Annotated[int, Path(ge=1, le=BIGINT_MAX, description="the import job's id")]

router = APIRouter(prefix="/v1/imports", tags=["imports"])

FORMATS = {"text/csv": "csv", "application/x-ndjson": "ndjson", "application/ndjson": "ndjson"}


def _period(module: ImportModule, period: str | None) -> dt.date | None:
    if period is None:
        if module.submission_module is not None:
            raise Unprocessable.field(
                ["query", "period"], f"required for {module}: the month the data describe, YYYY-MM"
            )
        return None
    try:
        return within_programme(parse_period(period), month=True)
    except ValueError as exc:
        raise Unprocessable.field(["query", "period"], str(exc)) from exc


def _format(content_type: str | None) -> str:
    media = (content_type or "").split(";")[0].strip().lower()
    if media not in FORMATS:
        raise UnsupportedMediaType(f"Content-Type must be text/csv or application/x-ndjson, not {media or 'missing'}")
    return FORMATS[media]


def _status_url(request: Request, job_id: int) -> str:
    return str(request.url_for("get_import", job_id=job_id).path)


@router.post(
    "",
    status_code=202,
    response_model=ImportRead,
    description=IMPORT_DESCRIPTION,
    responses={
        200: {"description": "the job first created with this Idempotency-Key", "model": ImportRead},
        409: {"description": "the Idempotency-Key was used for an import of another module, period or dry run"},
        413: {"description": "body over the import size limit, refused before it is read"},
        415: {"description": "not text/csv or application/x-ndjson"},
        422: {"description": "unknown module, missing or bad period, or an empty body"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {"schema": {"type": "string"}, "example": _CSV_EXAMPLE},
                "application/x-ndjson": {"schema": {"type": "string"}, "example": _NDJSON_EXAMPLE},
            },
        }
    },
)
async def create_import(
    request: Request,
    response: Response,
    background: BackgroundTasks,
    session: SessionDep,
    principal: WriterDep,
    module: Annotated[ImportModule, Query(description="what the rows are")],
    period: Annotated[str | None, Query(description="YYYY-MM, the month the data describe")] = None,
    dry_run: Annotated[bool, Query(description="validate and count, write nothing")] = False,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)] = None,
) -> ImportRead:
    """Start a bulk import of one module (CSV or NDJSON); 202 with the job, or 200 with the key's first job."""
    settings: Settings = request.app.state.settings
    body_format = _format(request.headers.get("content-type"))
    job, created = await service.create_job(
        session,
        principal=principal,
        module=module,
        period=_period(module, period),
        dry_run=dry_run,
        body_format=body_format,
        idempotency_key=idempotency_key,
        body=request.stream(),
        chunk_bytes=settings.import_chunk_bytes,
    )
    if created and (runner := getattr(request.app.state, "import_runner", None)) is not None:
        background.add_task(runner.wake)  # after the commit: the job is visible to the claim by then
    response.status_code = 202 if created else 200
    response.headers["Location"] = _status_url(request, job.id)
    return service.to_read(job, status_url=_status_url(request, job.id))


@router.get("/{job_id}", response_model=ImportRead)
async def get_import(job_id: ImportId, request: Request, session: SessionDep, principal: PrincipalDep) -> ImportRead:
    """The import's status, counts, phase timings, the first 1,000 row errors and, when failed, the reason."""
    job = await service.get_job(session, job_id=job_id, principal=principal)
    return service.to_read(job, status_url=_status_url(request, job.id))
