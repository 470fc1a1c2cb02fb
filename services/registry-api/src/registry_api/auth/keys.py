"""Keys managed over the API: a principal gives keys at or below its own role and inside its own scope, lists and
revokes the keys it manages, and rotates a key (a new one for the same principal; the old one lives until it
expires)."""

import logging

from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncSession

from kampungkb_shared.errors import Forbidden, NotFound, Unprocessable
from registry_api.auth.models import ApiKey, PrincipalRecord
from registry_api.auth.readable import covers_scope, readable_keys
from registry_api.auth.schemas import KeyCreate, KeyCreated, KeyPage, KeyRead
from registry_api.auth.service import (
    Principal,
    PrincipalKind,
    Role,
    check_coherent,
    create_key,
    granted_roles,
    issue_key,
)

log = logging.getLogger(__name__)


def _check_days(days: int, *, maximum: int, kind: PrincipalKind) -> None:
    if days > maximum:
        raise Unprocessable.field(["body", "expires_in_days"], f"at most {maximum} days for a {kind.value} key")


async def give_key(
    session: AsyncSession, *, caller: Principal, data: KeyCreate, max_days: dict[PrincipalKind, int]
) -> KeyCreated:
    """A new principal with its first key; 403 above the caller's role or outside its scope."""
    check_coherent(role=data.role, scope=data.scope)
    if data.kind is PrincipalKind.DEVICE and data.role is not Role.OPERATOR:
        raise Unprocessable.field(["body", "role"], "a device is an operator of one Kampung KB or desa")
    _check_days(data.expires_in_days, maximum=max_days[data.kind], kind=data.kind)
    if caller.kind is PrincipalKind.DEVICE:
        raise Forbidden("a device does not give keys")
    if data.role not in granted_roles(caller.role):
        raise Forbidden(f"a {caller.role.value} may not give a {data.role.value} key")
    if not await covers_scope(session, principal=caller, scope=data.scope):
        raise Forbidden(f"scope {data.scope} is outside the caller's scope {caller.scope}")
    key, plain = await create_key(
        session,
        name=data.name,
        role=data.role,
        scope=data.scope,
        kind=data.kind,
        expires_in_days=data.expires_in_days,
        created_by=caller.actor,
    )
    log.info(
        "key %s given to principal %d (%s %s) by %s", key.prefix, key.principal_id, data.role, data.scope, caller.actor
    )
    return KeyCreated(prefix=key.prefix, key=plain, expires_at=key.expires_at)


def _read(key: ApiKey, principal: PrincipalRecord) -> KeyRead:
    return KeyRead(
        prefix=key.prefix,
        name=key.name,
        principal_id=principal.id,
        kind=PrincipalKind(principal.kind),
        role=Role(principal.role),
        scope=principal.scope,
        created_at=key.created_at,
        expires_at=key.expires_at,
        last_used_at=key.last_used_at,
        revoked_at=key.revoked_at,
    )


async def list_keys(session: AsyncSession, *, caller: Principal, limit: int, cursor: int | None) -> KeyPage:
    """The keys the caller manages, by id; never a secret."""
    query = readable_keys(caller).order_by(ApiKey.id).limit(limit + 1)
    if cursor:
        query = query.where(ApiKey.id > cursor)
    rows = (await session.execute(query)).all()
    page = rows[:limit]
    return KeyPage(
        items=[_read(key, principal) for key, principal in page],
        next_cursor=str(page[-1][0].id) if len(rows) > limit else None,
    )


async def _managed(session: AsyncSession, *, caller: Principal, prefix: str) -> tuple[ApiKey, PrincipalRecord]:
    row = (await session.execute(readable_keys(caller).where(ApiKey.prefix == prefix))).first()
    if row is None:
        raise NotFound(f"no key with prefix {prefix}")
    return row[0], row[1]


async def revoke(session: AsyncSession, *, caller: Principal, prefix: str) -> None:
    """Revoke a key the caller manages (404 otherwise): the next request with it is refused, imports included."""
    key, _ = await _managed(session, caller=caller, prefix=prefix)
    await session.execute(
        update(ApiKey).where(ApiKey.id == key.id, ApiKey.revoked_at.is_(None)).values(revoked_at=func.now())
    )
    log.info("key %s revoked by %s", prefix, caller.actor)


async def rotate(
    session: AsyncSession,
    *,
    caller: Principal,
    prefix: str,
    expires_in_days: int | None,
    max_days: dict[PrincipalKind, int],
) -> KeyCreated:
    """A new key for the principal of a key the caller manages; the old key lives on until it expires."""
    key, principal = await _managed(session, caller=caller, prefix=prefix)
    if key.revoked_at is not None:
        raise NotFound(f"no active key with prefix {prefix}")
    kind = PrincipalKind(principal.kind)
    days = expires_in_days or max_days[kind]
    _check_days(days, maximum=max_days[kind], kind=kind)
    new, plain = await issue_key(session, principal_id=principal.id, name=key.name, expires_in_days=days)
    log.info("key %s rotated to %s by %s", prefix, new.prefix, caller.actor)
    return KeyCreated(prefix=new.prefix, key=plain, expires_at=new.expires_at)
