"""Principals and their API keys: roles and scopes that agree, keys shown once, expiry, revocation, and the check
of a presented key."""

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import func, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from kampungkb_shared.errors import Forbidden, NotFound, Unauthorized, Unprocessable
from kampungkb_shared.regions import NATION_CODE, Level, level_of
from registry_api.auth.models import ApiKey, PrincipalRecord
from registry_api.db import BIGINT_MAX, session_fetch, write_after_commit

KEY_PREFIX = "kkb"
LAST_USED_EVERY_S = 60
"""`api_key.last_used_at` is written at most this often per key, never on every request."""


class Role(StrEnum):
    ADMIN = "admin"
    PROVINSI = "provinsi"
    KABUPATEN = "kabupaten"
    KECAMATAN = "kecamatan"
    OPERATOR = "operator"
    INTEGRATION = "integration"
    VIEWER = "viewer"


class PrincipalKind(StrEnum):
    PERSON = "person"
    DEVICE = "device"
    INTEGRATION = "integration"


WRITERS = frozenset({Role.ADMIN, Role.PROVINSI, Role.KABUPATEN, Role.KECAMATAN, Role.OPERATOR, Role.INTEGRATION})
OFFICERS = frozenset({Role.ADMIN, Role.PROVINSI, Role.KABUPATEN, Role.KECAMATAN})
"""The officers' roles: they enrol the phones of the Kampung KB in their scope, approve months and check data-quality
flags."""

RANK = {
    Role.VIEWER: 0,
    Role.OPERATOR: 1,
    Role.KECAMATAN: 2,
    Role.KABUPATEN: 3,
    Role.INTEGRATION: 3,
    Role.PROVINSI: 4,
    Role.ADMIN: 5,
}
"""A principal gives keys of its own rank or below, inside its own scope (`granted_roles`)."""

_KAMPUNG = "kampung"
_SCOPE_LEVELS: dict[Role, frozenset[str]] = {
    Role.ADMIN: frozenset({Level.NASIONAL}),
    Role.PROVINSI: frozenset({Level.PROVINSI}),
    Role.KABUPATEN: frozenset({Level.KABUPATEN}),
    Role.KECAMATAN: frozenset({Level.KECAMATAN}),
    Role.OPERATOR: frozenset({Level.DESA, _KAMPUNG}),
    Role.INTEGRATION: frozenset({Level.NASIONAL, Level.PROVINSI, Level.KABUPATEN, Level.KECAMATAN, Level.DESA}),
    Role.VIEWER: frozenset({Level.NASIONAL, Level.PROVINSI, Level.KABUPATEN, Level.KECAMATAN, Level.DESA}),
}
_SCOPE_WORDS = {
    Level.NASIONAL: "00",
    Level.PROVINSI: "a provinsi code",
    Level.KABUPATEN: "a kabupaten/kota code",
    Level.KECAMATAN: "a kecamatan code",
    Level.DESA: "a desa/kelurahan code",
    _KAMPUNG: "kampung:<id>",
}


def granted_roles(role: Role) -> frozenset[Role]:
    """The roles a principal of `role` may give keys of: its own rank or below, but never an officer's unless it is
    one (an integration, ranked beside a kabupaten officer, writes in its scope and approves nothing: it gives
    integration, operator and viewer keys); a viewer gives none."""
    if role is Role.VIEWER:
        return frozenset()
    granted = {r for r, rank in RANK.items() if rank <= RANK[role]}
    return frozenset(granted if role in OFFICERS else granted - OFFICERS)


def managed_roles(role: Role) -> frozenset[Role]:
    """The roles whose keys a principal of `role` manages (lists, revokes, rotates) in its scope: those it gives, its
    own and its peers' aside. A peer's key it gave itself it manages too (`auth.readable.readable_keys`): rotating a
    key hands its holder's identity to whoever rotates it, so no principal may take a peer's it did not give."""
    return frozenset(r for r in granted_roles(role) if RANK[r] < RANK[role])


def check_coherent(*, role: Role, scope: str) -> None:
    """422 naming `scope` unless the scope is of a level the role works at (an admin is national, and so on)."""
    kampung = scope.removeprefix("kampung:")
    try:
        numeric = kampung.isascii() and kampung.isdigit() and 0 < int(kampung) <= BIGINT_MAX
        level = _KAMPUNG if kampung != scope and numeric else level_of(scope)
    except ValueError:
        level = None
    allowed = _SCOPE_LEVELS[role]
    if level not in allowed:
        words = " or ".join(_SCOPE_WORDS[lvl] for lvl in _SCOPE_WORDS if lvl in allowed)
        raise Unprocessable.field(["body", "scope"], f"a {role.value} scope must be {words}, not {scope!r}")


@dataclass(frozen=True)
class Principal:
    """Who is calling: a principal's id, kind, name, role and region scope (`00`, a region code, or `kampung:<id>`),
    and the key it called with (none for a bearer token of the identity provider, whose `subject` it carries)."""

    name: str
    role: Role
    scope: str
    principal_id: int | None = None
    kind: PrincipalKind = PrincipalKind.INTEGRATION
    key_id: int | None = None
    key_prefix: str | None = None
    expires_at: dt.datetime | None = None
    subject: str | None = None

    @property
    def actor(self) -> str:
        """What writes record as their author (`submitted_by`, `created_by`, every revision)."""
        if self.principal_id is not None:
            return f"principal:{self.principal_id}"
        if self.subject is not None:
            return f"oidc:{self.subject}"[:64]
        return self.name

    def covers_region(self, code: str) -> bool:
        """True when `code` lies inside this principal's region scope."""
        if self.scope == NATION_CODE:
            return True
        if self.scope.startswith("kampung:"):
            return False
        return code == self.scope or code.startswith(self.scope + ".")

    def covers_kampung(self, *, kampung_id: int, desa_code: str) -> bool:
        return self.scope == f"kampung:{kampung_id}" or self.covers_region(desa_code)

    def require_role(self, *roles: Role) -> None:
        if self.role not in roles:
            raise Forbidden(f"role {self.role} may not do this; needs one of {', '.join(roles)}")

    def require_region(self, code: str) -> None:
        if not self.covers_region(code):
            raise Forbidden(f"scope {self.scope} does not cover region {code}")

    def require_kampung(self, *, kampung_id: int, desa_code: str) -> None:
        if self.role not in WRITERS:
            raise Forbidden(f"role {self.role} is read-only")
        if not self.covers_kampung(kampung_id=kampung_id, desa_code=desa_code):
            raise Forbidden(f"scope {self.scope} does not cover Kampung KB {kampung_id}")


def digest(secret: str) -> str:
    """What is stored of a secret (a key's, a dashboard session's token, an enrolment code): its SHA-256, in hex."""
    return hashlib.sha256(secret.encode()).hexdigest()


async def create_principal(
    session: AsyncSession, *, kind: PrincipalKind, name: str, role: Role, scope: str, created_by: str | None
) -> PrincipalRecord:
    """Store a principal whose role and scope agree (422 naming `scope` otherwise)."""
    check_coherent(role=role, scope=scope)
    record = PrincipalRecord(kind=kind.value, name=name, role=role.value, scope=scope, created_by=created_by)
    session.add(record)
    await session.flush()
    return record


async def issue_key(
    session: AsyncSession, *, principal_id: int, name: str, expires_in_days: int | None
) -> tuple[ApiKey, str]:
    """A new key of the principal, and its plain text, which is never stored and cannot be shown again."""
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    expires_at = None
    if expires_in_days is not None:
        expires_at = dt.datetime.now(dt.UTC) + dt.timedelta(days=expires_in_days)
    key = ApiKey(principal_id=principal_id, name=name, prefix=prefix, secret_hash=digest(secret), expires_at=expires_at)
    session.add(key)
    await session.flush()
    return key, f"{KEY_PREFIX}_{prefix}_{secret}"


async def create_key(
    session: AsyncSession,
    *,
    name: str,
    role: Role,
    scope: str,
    kind: PrincipalKind = PrincipalKind.INTEGRATION,
    expires_in_days: int | None = None,
    created_by: str | None = None,
) -> tuple[ApiKey, str]:
    """A new principal with its first key (what `registry-api keys create` makes)."""
    record = await create_principal(session, kind=kind, name=name, role=role, scope=scope, created_by=created_by)
    return await issue_key(session, principal_id=record.id, name=name, expires_in_days=expires_in_days)


async def revoke_key(session: AsyncSession, *, prefix: str) -> None:
    result = await session.execute(
        update(ApiKey).where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None)).values(revoked_at=func.now())
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise NotFound(f"no active key with prefix {prefix}")


def key_in_force(which: str) -> str:
    """The statement of the key `which` names (a condition on `k`, the key), with its principal, if the key is in
    force: neither revoked nor expired. Its row makes the principal (`key_principal`)."""
    return f"""
        SELECT k.id, k.principal_id, k.prefix, k.secret_hash, k.expires_at,
               k.last_used_at IS NULL OR k.last_used_at < now() - interval '{LAST_USED_EVERY_S} seconds' AS stale,
               p.kind, p.name, p.role, p.scope
          FROM api_key k JOIN principal p ON p.id = k.principal_id
         WHERE {which} AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())
    """


_BY_PREFIX = key_in_force("k.prefix = $1")
# Never waits: a request that finds the row locked (another request of the key writing it) leaves it to that one.
_TOUCH = """
    UPDATE api_key SET last_used_at = now()
     WHERE id = (SELECT id FROM api_key WHERE id = $1 FOR NO KEY UPDATE SKIP LOCKED)
"""


async def key_principal(session: AsyncSession, key: Any) -> Principal:
    """The principal calling with a key in force (a row of `key_in_force`), whether the key was presented to the API
    or opened the dashboard session it calls with; the key's `last_used_at` is written when stale, once the request
    has succeeded, apart from its transaction (`db.write_after_commit`: a read stays without a transaction id)."""
    if key["stale"]:
        write_after_commit(session, _TOUCH, key["id"])
    return Principal(
        principal_id=key["principal_id"],
        kind=PrincipalKind(key["kind"]),
        name=key["name"],
        role=Role(key["role"]),
        scope=key["scope"],
        key_id=key["id"],
        key_prefix=key["prefix"],
        expires_at=key["expires_at"],
    )


async def authenticate(session: AsyncSession, presented: str) -> Principal:
    """The principal of a presented key; 401 for a malformed, unknown, expired or revoked key."""
    parts = presented.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        raise Unauthorized("malformed API key")
    # On every request, mostly its first statement: straight to the driver, beginning the transaction with it.
    found = await session_fetch(session, _BY_PREFIX, parts[1])
    key = found[0] if found else None
    if key is None or not secrets.compare_digest(key["secret_hash"], digest(parts[2])):
        raise Unauthorized("unknown, expired or revoked API key")
    return await key_principal(session, key)


_STILL_VALID = text("""
    SELECT EXISTS (SELECT 1 FROM api_key
                    WHERE id = :id AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > clock_timestamp()))
""")


async def key_still_valid(connection: AsyncConnection | AsyncSession, key_id: int) -> bool:
    """False once the key is revoked or expired: checked when an import job is claimed and before it commits."""
    result: Any = await connection.execute(_STILL_VALID, {"id": key_id})
    return bool(result.scalar())
