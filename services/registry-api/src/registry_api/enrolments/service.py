"""Phone enrolment, as ODK Central enrols app users: an officer makes a one-time code for one Kampung KB (shown as a
QR image), and the phone trades it, once and within its time, for a device key scoped to that Kampung KB."""

import datetime as dt
import io
import json
import logging
import secrets

import segno
from sqlalchemy import insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from kampungkb_shared.errors import Conflict, Gone, NotFound
from registry_api.auth.models import Enrolment
from registry_api.auth.service import OFFICERS, Principal, PrincipalKind, Role, create_key, digest
from registry_api.kampung.readable import get_readable_kampung

log = logging.getLogger(__name__)


async def create_enrolment(
    session: AsyncSession, *, principal: Principal, kampung_id: int, name: str, valid_s: int
) -> tuple[str, dt.datetime]:
    """A one-time code for a phone of a Kampung KB the officer may read (404 otherwise); returns it with its expiry."""
    principal.require_role(*OFFICERS)
    kampung = await get_readable_kampung(session, principal=principal, kampung_id=kampung_id)
    if not kampung.active:
        raise Conflict(f"Kampung KB {kampung_id} is not active")
    code = secrets.token_urlsafe(24)
    expires_at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=valid_s)
    await session.execute(
        insert(Enrolment).values(
            code_hash=digest(code), kampung_id=kampung_id, name=name, created_by=principal.actor, expires_at=expires_at
        )
    )
    return code, expires_at


async def _usable(session: AsyncSession, code: str) -> Enrolment:
    enrolment = await session.scalar(select(Enrolment).where(Enrolment.code_hash == digest(code)))
    if enrolment is None:
        raise NotFound("no such enrolment code")
    if enrolment.used_at is not None:
        raise Gone("this enrolment code was used already: ask the officer for a new one")
    if enrolment.expires_at <= dt.datetime.now(dt.UTC):
        raise Gone("this enrolment code has expired: ask the officer for a new one")
    return enrolment


async def qr_svg(session: AsyncSession, *, code: str, enrol_url: str) -> bytes:
    """The code and where to send it, as a QR image (SVG) for the phone to scan; 410 once used or expired."""
    await _usable(session, code)
    qr = segno.make(json.dumps({"enrol_url": enrol_url, "code": code}, separators=(",", ":")), error="m")
    out = io.BytesIO()
    qr.save(out, kind="svg", scale=6, border=2, title="Kampung KB enrolment")
    return out.getvalue()


_TAKE = text("""
    UPDATE enrolment SET used_at = now()
     WHERE code_hash = :code_hash AND used_at IS NULL AND expires_at > now()
    RETURNING id, kampung_id, created_by
""")


async def enrol(
    session: AsyncSession, *, code: str, device_name: str, key_days: int
) -> tuple[str, dt.datetime | None, int]:
    """Trade a code for a device key scoped to its Kampung KB, once (a second use, or a late one: 410)."""
    taken = (await session.execute(_TAKE, {"code_hash": digest(code)})).first()
    if taken is None:
        await _usable(session, code)  # says why: unknown (404), used or expired (410)
        raise Gone("this enrolment code cannot be used")
    key, plain = await create_key(
        session,
        name=device_name,
        role=Role.OPERATOR,
        scope=f"kampung:{taken.kampung_id}",
        kind=PrincipalKind.DEVICE,
        expires_in_days=key_days,
        created_by=taken.created_by,
    )
    await session.execute(
        update(Enrolment).where(Enrolment.id == taken.id).values(device_principal_id=key.principal_id)
    )
    log.info("enrolment %d used: device principal %d, key %s", taken.id, key.principal_id, key.prefix)
    return plain, key.expires_at, int(taken.kampung_id)
