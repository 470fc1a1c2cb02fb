"""Dashboard sessions: a browser signed in with an API key holds a random token (its cookie), never the key.

Only the token's SHA-256 is stored, in a row naming the key the session was opened with and when the session ends.
A page finds the principal of that key as the API does for the key itself (`key_in_force`, `key_principal`), so
the key's role and scope apply as they do there, and a key revoked or expired ends its sessions with it.
"""

import datetime as dt
import logging
import secrets

from sqlalchemy import delete, func, insert
from sqlalchemy.ext.asyncio import AsyncSession

from kampungkb_shared.errors import Unauthorized
from registry_api.auth.models import DashboardSession
from registry_api.auth.service import Principal, digest, key_in_force, key_principal
from registry_api.db import session_fetch

log = logging.getLogger(__name__)

_SIGNED_IN = key_in_force("k.id = (SELECT key_id FROM dashboard_session WHERE token_hash = $1 AND expires_at > now())")


async def sign_in(session: AsyncSession, *, principal: Principal, hours: float) -> str:
    """A session of the key the principal presented, ending after `hours`; returns its token, which is not stored.
    Sessions that have ended are deleted on the way."""
    if principal.key_id is None:
        raise Unauthorized("the dashboard is signed in to with an API key")
    await session.execute(delete(DashboardSession).where(DashboardSession.expires_at <= func.now()))
    token = secrets.token_urlsafe(32)
    await session.execute(
        insert(DashboardSession).values(
            token_hash=digest(token), key_id=principal.key_id, expires_at=func.now() + dt.timedelta(hours=hours)
        )
    )
    log.info("dashboard session opened with key %s by %s", principal.key_prefix, principal.actor)
    return token


async def signed_in(session: AsyncSession, *, token: str) -> Principal:
    """The principal of the key a session was opened with; 401 when there is no such session, when it has ended
    (expired, signed out) or when its key is revoked or expired."""
    found = await session_fetch(session, _SIGNED_IN, digest(token))
    if not found:
        raise Unauthorized("no dashboard session, or one that has ended: sign in again")
    return await key_principal(session, found[0])


async def sign_out(session: AsyncSession, *, token: str) -> None:
    """End a session: its token is refused from now on."""
    await session.execute(delete(DashboardSession).where(DashboardSession.token_hash == digest(token)))
