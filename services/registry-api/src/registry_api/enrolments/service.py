"""Phone enrolment, as ODK Central enrols app users: an officer makes a one-time code for one Kampung KB (shown as a
QR image), and the phone trades it, once and within its time, for a device key scoped to that Kampung KB.

On a 2G link the answer to that trade may be lost after the code was used. The same phone (the same `device_name`)
may then post the code again for a short while (`Settings.enrolment_retry_s`) and gets a new key of the same device
principal, the key made before revoked: keys are stored hashed, so the lost one cannot be shown again. Not once a key
of that phone was used (its answer did arrive), nor once its newest key was revoked (by an officer)."""

import datetime as dt
import io
import json
import logging
import secrets

import segno
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from kampungkb_shared.errors import Conflict, Gone, NotFound
from registry_api.auth.models import ApiKey, Enrolment, PrincipalRecord
from registry_api.auth.service import OFFICERS, Principal, PrincipalKind, Role, create_key, digest, issue_key
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


# The row locked: retries of one code, and a retry meeting the first use, go one after the other.
_HELD = text("""
    SELECT id, kampung_id, device_principal_id, used_at,
           used_at > now() - CAST(:retry_s AS integer) * interval '1 second' AS recent
      FROM enrolment
     WHERE code_hash = :code_hash
       FOR UPDATE
""")

_USED = "this enrolment code was used already: ask the officer for a new one"


async def enrol(
    session: AsyncSession, *, code: str, device_name: str, key_days: int, retry_s: int
) -> tuple[str, dt.datetime | None, int]:
    """Trade a code for a device key scoped to its Kampung KB, once (a second use, or a late one: 410); a retry of the
    same phone within `retry_s` of the use gets a new key, the one made before revoked (see the module)."""
    taken = (await session.execute(_TAKE, {"code_hash": digest(code)})).first()
    if taken is None:
        return await _retry(session, code=code, device_name=device_name, key_days=key_days, retry_s=retry_s)
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


async def _retry(
    session: AsyncSession, *, code: str, device_name: str, key_days: int, retry_s: int
) -> tuple[str, dt.datetime | None, int]:
    """A code that could not be taken: unknown (404), expired unused (410), or used; then, for the phone that used it
    within `retry_s`, none of whose keys was used and whose newest key is in force, a new key of it, every key made
    before revoked (410 otherwise). Under the enrolment's row lock, so that retries at once leave one key in force."""
    held = (await session.execute(_HELD, {"code_hash": digest(code), "retry_s": retry_s})).first()
    if held is None:
        raise NotFound("no such enrolment code")
    if held.used_at is None:
        raise Gone("this enrolment code has expired: ask the officer for a new one")
    if not held.recent or held.device_principal_id is None:
        raise Gone(_USED)
    device = await session.get(PrincipalRecord, held.device_principal_id)
    keys = (
        await session.execute(
            select(ApiKey.id, ApiKey.prefix, ApiKey.revoked_at, ApiKey.last_used_at).where(
                ApiKey.principal_id == held.device_principal_id
            )
        )
    ).all()
    newest = max(keys, key=lambda k: k.id, default=None)
    if (
        device is None
        or device.name != device_name
        or newest is None
        or newest.revoked_at is not None
        or any(k.last_used_at is not None for k in keys)
    ):
        raise Gone(_USED)
    await session.execute(
        update(ApiKey)
        .where(ApiKey.principal_id == device.id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=func.now())
    )
    key, plain = await issue_key(session, principal_id=device.id, name=device_name, expires_in_days=key_days)
    log.info(
        "enrolment %d retried: device principal %d, key %s revoked, key %s given",
        held.id,
        device.id,
        newest.prefix,
        key.prefix,
    )
    return plain, key.expires_at, int(held.kampung_id)
