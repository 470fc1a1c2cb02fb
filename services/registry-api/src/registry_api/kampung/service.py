"""Kampung KB profiles: registration, changes, percontohan and listing under any region."""

import datetime as dt

import asyncpg
from sqlalchemy import func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from kampungkb_shared.errors import Conflict, NotFound, PreconditionFailed, Unprocessable
from registry_api.auth.service import Principal
from registry_api.changes import pipeline
from registry_api.db import session_driver
from registry_api.etags import check_if_match, etag
from registry_api.kampung import store
from registry_api.kampung.models import Kampung
from registry_api.kampung.readable import readable_kampung
from registry_api.kampung.rules import desa_level_error
from registry_api.kampung.schemas import KampungCreate, KampungPage, KampungRead, KampungUpdate
from registry_api.wilayah.models import Wilayah


async def get_kampung(session: AsyncSession, kampung_id: int, *, fresh: bool = False) -> Kampung:
    """The Kampung KB; with `fresh`, read again from the database (after a write through `kampung.store`)."""
    kampung = await session.get(Kampung, kampung_id, populate_existing=fresh)
    if kampung is None:
        raise NotFound(f"no Kampung KB with id {kampung_id}")
    return kampung


async def create_kampung(session: AsyncSession, *, data: KampungCreate, principal: Principal) -> Kampung:
    """Register it (the one Kampung KB write, `kampung.store`) and have its region's reports count it."""
    principal.require_region(data.desa_code)
    desa = await session.get(Wilayah, data.desa_code)
    if error := desa_level_error(data.desa_code, desa.level if desa else None):
        raise Unprocessable.field(["body", "desa_code"], error)
    written = await _write(session, store.Row(kampung_id=None, **data.model_dump()), actor=principal.actor)
    await pipeline.record(session, _recount(written))
    return await get_kampung(session, written.id, fresh=True)


async def update_kampung(
    session: AsyncSession, *, kampung_id: int, data: KampungUpdate, if_match: str | None, principal: Principal
) -> Kampung:
    """Change fields (the stored ones kept where `data` leaves them out), through the one Kampung KB write."""
    await pipeline.lock(session, [kampung_id])
    kampung = await get_kampung(session, kampung_id, fresh=True)
    principal.require_kampung(kampung_id=kampung.id, desa_code=kampung.desa_code)
    try:
        check_if_match(if_match, kampung.version)
    except PreconditionFailed as exc:  # with what a client merges with and retries, without another read
        current = KampungRead.model_validate(kampung).model_dump(mode="json")
        raise PreconditionFailed(exc.detail, headers={"ETag": etag(kampung.version)}, current=current) from None
    changes = data.model_dump(exclude_unset=True)
    for field, value in changes.items():
        if value is None and field in {"name", "formed_on", "scope", "formation_criteria", "active"}:
            raise Unprocessable.field(["body", field], "must not be null")
    stored = KampungRead.model_validate(kampung).model_dump(include=set(store.Row.__dataclass_fields__))
    row = store.Row(**{**stored, **changes, "kampung_id": kampung.id, "source_hash": None})
    written = await _write(session, row, actor=principal.actor)  # reactivated where another is active: 409
    await pipeline.record(session, _recount(written))
    return await get_kampung(session, kampung_id, fresh=True)


async def _write(session: AsyncSession, row: store.Row, *, actor: str) -> store.Written:
    """One row through the Kampung KB write; a desa with an active one already is a 409 naming it."""
    driver = await session_driver(session)
    await driver.execute("SAVEPOINT kampung_write")  # the transaction stays usable to name the active one
    try:
        [written] = await store.write(driver, [row], actor=actor)
    except asyncpg.UniqueViolationError as exc:
        await driver.execute("ROLLBACK TO SAVEPOINT kampung_write")
        raise await _active_exists(session, row.desa_code) from exc
    await driver.execute("RELEASE SAVEPOINT kampung_write")
    return written


def _recount(written: store.Written) -> pipeline.Change:
    return pipeline.Change(
        kabupaten={written.id: written.kabupaten_code}, recount_from={written.id: written.counted_from}
    )


async def _active_exists(session: AsyncSession, desa_code: str) -> Conflict:
    """The 409 for a desa that has an active Kampung KB, naming it (`id`, `location`) so a retry finds it."""
    active = await session.scalar(select(Kampung.id).where(Kampung.desa_code == desa_code, Kampung.active))
    location = f"/v1/kampung/{active}"
    return Conflict(
        f"desa/kelurahan {desa_code} already has an active Kampung KB (id {active})",
        headers={"Location": location},
        id=active,
        location=location,
    )


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
    await pipeline.lock(session, [kampung.id])
    kampung = await get_kampung(session, kampung_id, fresh=True)
    if on:
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
    await session.flush()
    await session.refresh(kampung)
    # Reports list their percontohan: the region's reports from its formation on.
    await pipeline.record(
        session,
        pipeline.Change(kabupaten={kampung.id: kampung.kabupaten_code}, recount_from={kampung.id: kampung.formed_on}),
    )
    return kampung


async def list_kampung(
    session: AsyncSession,
    *,
    principal: Principal,
    wilayah: str | None,
    tier: str | None,
    percontohan: bool | None,
    active: bool | None,
    updated_since: dt.datetime | None,
    limit: int,
    cursor: int | None,
) -> KampungPage:
    query = readable_kampung(principal).order_by(Kampung.id).limit(limit + 1)
    if wilayah and wilayah != "00":
        query = query.where(
            or_(Kampung.desa_code == wilayah, Kampung.desa_code.startswith(wilayah + ".", autoescape=True))
        )
    if tier:
        query = query.where(Kampung.tier == tier)
    if percontohan is not None:
        either = or_(Kampung.percontohan_kecamatan, Kampung.percontohan_kabupaten, Kampung.percontohan_provinsi)
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
