from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request

from registry_api.auth.deps import PrincipalDep, PublicReaderDep
from registry_api.auth.service import Role
from registry_api.db import SessionDep
from registry_api.wilayah import service
from registry_api.wilayah.schemas import WilayahDetail, WilayahImportResult, WilayahPage

router = APIRouter(prefix="/v1/wilayah", tags=["wilayah"])

_CSV = (
    "code,name,level,kind,parent_code\n99,PROVINSI DEMO 99,provinsi,,\n99.01,KABUPATEN DEMO 01,kabupaten,kabupaten,99\n"
)


@router.post(
    "/import",
    response_model=WilayahImportResult,
    openapi_extra={
        "requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}, "example": _CSV}}}
    },
)
async def import_regions(request: Request, session: SessionDep, principal: PrincipalDep) -> WilayahImportResult:
    """Load regions from a CSV with the columns code,name,level,kind,parent_code; idempotent, all or nothing."""
    principal.require_role(Role.ADMIN)
    return await service.import_csv(session, await request.body())


@router.get("/{code}", response_model=WilayahDetail)
async def get_region(code: str, session: SessionDep, reader: PublicReaderDep) -> WilayahDetail:
    """One region with the number of kabupaten, kota, kecamatan, desa and kelurahan below it."""
    return await service.get_region(session, code)


@router.get("", response_model=WilayahPage)
async def list_regions(
    session: SessionDep,
    reader: PublicReaderDep,
    parent: str | None = None,
    level: Literal["provinsi", "kabupaten", "kecamatan", "desa"] | None = None,
    q: Annotated[str | None, Query(max_length=100, description="part of the name, any case")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: str | None = None,
) -> WilayahPage:
    """Regions in code order, filtered by parent, level and name; pass `next_cursor` back as `cursor`."""
    return await service.list_regions(session, parent=parent, level=level, q=q, limit=limit, cursor=cursor)
