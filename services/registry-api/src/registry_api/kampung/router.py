from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response

from kampungkb_shared.codes import Tier
from registry_api.auth.deps import PrincipalDep, WriterDep
from registry_api.auth.service import Principal, Role
from registry_api.db import BIGINT_MAX, SessionDep
from registry_api.etags import etag
from registry_api.instants import Instant
from registry_api.kampung import service
from registry_api.kampung.readable import get_readable_kampung
from registry_api.kampung.schemas import (
    KampungCreate,
    KampungId,
    KampungPage,
    KampungRead,
    KampungUpdate,
    PercontohanLevel,
    PercontohanSet,
)
from registry_api.settings import Settings

router = APIRouter(prefix="/v1/kampung", tags=["kampung"])

IfMatch = Annotated[str | None, Header(alias="If-Match")]


def _read(kampung: object, response: Response) -> KampungRead:
    read = KampungRead.model_validate(kampung)
    response.headers["ETag"] = etag(read.version)
    return read


@router.post("", status_code=201, response_model=KampungRead)
async def create_kampung(
    data: KampungCreate, session: SessionDep, principal: WriterDep, response: Response
) -> KampungRead:
    """Register a Kampung KB in a desa/kelurahan (one active per desa)."""
    kampung = await service.create_kampung(session, data=data, principal=principal)
    response.headers["Location"] = f"/v1/kampung/{kampung.id}"
    return _read(kampung, response)


@router.get("/{kampung_id}", response_model=KampungRead)
async def get_kampung(
    kampung_id: KampungId, session: SessionDep, principal: PrincipalDep, response: Response
) -> KampungRead:
    """A Kampung KB's profile with its region codes and current tier; `ETag` for conditional writes."""
    return _read(await get_readable_kampung(session, principal=principal, kampung_id=kampung_id), response)


@router.patch("/{kampung_id}", response_model=KampungRead)
async def update_kampung(
    kampung_id: KampungId,
    data: KampungUpdate,
    session: SessionDep,
    principal: WriterDep,
    response: Response,
    if_match: IfMatch = None,
) -> KampungRead:
    """Change profile fields; with `If-Match`, only if nobody changed it since (412 otherwise)."""
    kampung = await service.update_kampung(
        session, kampung_id=kampung_id, data=data, if_match=if_match, principal=principal
    )
    return _read(kampung, response)


def _require_designator(principal: Principal, level: PercontohanLevel) -> None:
    # A kabupaten/kota designates its kecamatan's percontohan; the provinsi the higher levels, as on the official site.
    if level == "kecamatan":
        principal.require_role(Role.ADMIN, Role.PROVINSI, Role.KABUPATEN)
    else:
        principal.require_role(Role.ADMIN, Role.PROVINSI)


@router.put("/{kampung_id}/percontohan", response_model=KampungRead)
async def set_percontohan(
    kampung_id: KampungId,
    data: PercontohanSet,
    request: Request,
    session: SessionDep,
    principal: WriterDep,
    response: Response,
) -> KampungRead:
    """Make it a percontohan of its kecamatan, kabupaten/kota or provinsi (409 once the region has its limit)."""
    _require_designator(principal, data.level)
    settings: Settings = request.app.state.settings
    kampung = await service.set_percontohan(
        session,
        kampung_id=kampung_id,
        level=data.level,
        on=True,
        limit=settings.percontohan_limit(data.level),
        principal=principal,
    )
    return _read(kampung, response)


@router.delete("/{kampung_id}/percontohan/{level}", response_model=KampungRead)
async def cancel_percontohan(
    kampung_id: KampungId,
    level: PercontohanLevel,
    session: SessionDep,
    principal: WriterDep,
    response: Response,
) -> KampungRead:
    """Cancel ("batal") its percontohan status at that level."""
    _require_designator(principal, level)
    kampung = await service.set_percontohan(
        session, kampung_id=kampung_id, level=level, on=False, limit=0, principal=principal
    )
    return _read(kampung, response)


@router.get("", response_model=KampungPage)
async def list_kampung(
    session: SessionDep,
    principal: PrincipalDep,
    wilayah: Annotated[str | None, Query(description="a region code prefix: 36, 36.71, ...; 00 for all")] = None,
    tier: Tier | None = None,
    percontohan: bool | None = None,
    active: bool | None = True,
    updated_since: Annotated[
        Instant | None,
        Query(
            description="only those changed after this instant (a change is stamped when its transaction began: to "
            "miss none, follow the change feed, `GET /v1/changes`)"
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[int | None, Query(ge=0, le=BIGINT_MAX)] = None,
) -> KampungPage:
    """Kampung KB under a region, by id; filter by current tier and percontohan; `next_cursor` pages on."""
    return await service.list_kampung(
        session,
        principal=principal,
        wilayah=wilayah,
        tier=tier,
        percontohan=percontohan,
        active=active,
        updated_since=updated_since,
        limit=limit,
        cursor=cursor,
    )
