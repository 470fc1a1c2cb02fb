"""Kampung KB profiles: registration, changes, percontohan and listing under any region."""

import datetime as dt

from sqlalchemy import func, or_, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kampungkb_shared.errors import Conflict, NotFound, Unprocessable
from kampungkb_shared.regions import ancestors
from registry_api.auth.service import Principal
from registry_api.etags import check_if_match
from registry_api.kampung.models import Kampung
from registry_api.kampung.schemas import KampungCreate, KampungPage, KampungRead, KampungUpdate
from registry_api.wilayah.models import Wilayah

_UNIQUE_MESSAGES = {
    "uq_kampung_active_desa": "this desa/kelurahan already has an active Kampung KB",
}


def _conflict(exc: IntegrityError) -> Conflict | None:
    text = str(exc.orig)
    return next((Conflict(message) for name, message in _UNIQUE_MESSAGES.items() if name in text), None)


async def _flush(session: AsyncSession) -> None:
    try:
        await session.flush()
    except IntegrityError as exc:
        conflict = _conflict(exc)
        if conflict is None:
            raise
        raise conflict from exc


async def get_kampung(session: AsyncSession, kampung_id: int) -> Kampung:
    kampung = await session.get(Kampung, kampung_id)
    if kampung is None:
        raise NotFound(f"no Kampung KB with id {kampung_id}")
    return kampung


async def create_kampung(session: AsyncSession, *, data: KampungCreate, principal: Principal) -> Kampung:
    principal.require_region(data.desa_code)
    desa = await session.get(Wilayah, data.desa_code)
    if desa is None or desa.level != "desa":
        found = "not a known region" if desa is None else f"a {desa.level}"
        raise Unprocessable.field(
            ["body", "desa_code"], f"must be a desa or kelurahan code; {data.desa_code} is {found}"
        )
    provinsi, kabupaten, kecamatan = ancestors(data.desa_code)
    kampung = Kampung(
        **data.model_dump(),
        kecamatan_code=kecamatan,
        kabupaten_code=kabupaten,
        provinsi_code=provinsi,
        created_by=principal.actor,
    )
    session.add(kampung)
    await _flush(session)
    await session.refresh(kampung)
    return kampung


async def update_kampung(
    session: AsyncSession, *, kampung_id: int, data: KampungUpdate, if_match: str | None, principal: Principal
) -> Kampung:
    kampung = await get_kampung(session, kampung_id)
    principal.require_kampung(kampung_id=kampung.id, desa_code=kampung.desa_code)
    check_if_match(if_match, kampung.version)
    for field, value in data.model_dump(exclude_unset=True).items():
        if value is None and field in {"name", "formed_on", "scope", "formation_criteria", "active"}:
            raise Unprocessable.field(["body", field], "must not be null")
        setattr(kampung, field, value)
    kampung.source_hash = None
    kampung.updated_at = func.now()
    await _flush(session)
    await session.refresh(kampung)
    return kampung


_LOCK_PERCONTOHAN = text("SELECT pg_advisory_xact_lock(hashtext('kampungkb:percontohan:' || :level || ':' || :code))")


async def set_percontohan(
    session: AsyncSession, *, kampung_id: int, level: str, on: bool, limit: int, principal: Principal
) -> Kampung:
    """Mark (or unmark) the percontohan of its kecamatan, kabupaten/kota or provinsi; at most `limit` each (409).

    The limit is a setting, so no unique index can hold it: designations in one region take its lock, then count.
    """
    kampung = await get_kampung(session, kampung_id)
    region = getattr(kampung, f"{level}_code")
    principal.require_region(region)
    if on:
        await session.execute(_LOCK_PERCONTOHAN, {"level": level, "code": region})
        kampung = await session.get_one(Kampung, kampung_id, with_for_update=True, populate_existing=True)
        if not kampung.active:
            raise Conflict("an inactive Kampung KB cannot be percontohan")
        flag = getattr(Kampung, f"percontohan_{level}")
        others = await session.scalar(
            select(func.count()).where(
                Kampung.active, flag, getattr(Kampung, f"{level}_code") == region, Kampung.id != kampung_id
            )
        )
        if others and others >= limit:
            raise Conflict(f"{level} {region} already has {others} percontohan Kampung KB, the most it may have")
    setattr(kampung, f"percontohan_{level}", on)
    kampung.updated_at = func.now()
    await _flush(session)
    await session.refresh(kampung)
    return kampung


async def list_kampung(
    session: AsyncSession,
    *,
    wilayah: str | None,
    tier: str | None,
    percontohan: bool | None,
    active: bool | None,
    updated_since: dt.datetime | None,
    limit: int,
    cursor: int | None,
) -> KampungPage:
    query = select(Kampung).order_by(Kampung.id).limit(limit + 1)
    if wilayah and wilayah != "00":
        query = query.where(
            or_(Kampung.desa_code == wilayah, Kampung.desa_code.startswith(wilayah + ".", autoescape=True))
        )
    if tier:
        query = query.where(Kampung.tier == tier)
    if percontohan is not None:
        either = or_(Kampung.percontohan_kabupaten, Kampung.percontohan_provinsi)
        query = query.where(either if percontohan else ~either)
    if active is not None:
        query = query.where(Kampung.active.is_(active))
    if updated_since:
        query = query.where(Kampung.updated_at > updated_since)
    if cursor:
        query = query.where(Kampung.id > cursor)
    rows = list(await session.scalars(query))
    page = rows[:limit]
    return KampungPage(
        items=[KampungRead.model_validate(k) for k in page],
        next_cursor=str(page[-1].id) if len(rows) > limit else None,
    )
