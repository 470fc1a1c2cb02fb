"""API keys: creation (shown once), revocation, and the check of a presented key."""

import hashlib
import secrets
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncSession

from kampungkb_shared.errors import Forbidden, NotFound, Unauthorized, Unprocessable
from kampungkb_shared.regions import NATION_CODE, is_region_code
from registry_api.auth.models import ApiKey
from registry_api.db import session_driver

KEY_PREFIX = "kkb"


class Role(StrEnum):
    ADMIN = "admin"
    PROVINSI = "provinsi"
    KABUPATEN = "kabupaten"
    OPERATOR = "operator"
    INTEGRATION = "integration"
    VIEWER = "viewer"


WRITERS = frozenset({Role.ADMIN, Role.PROVINSI, Role.KABUPATEN, Role.OPERATOR, Role.INTEGRATION})


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's id, role and region scope (`00`, a region code, or `kampung:<id>`)."""

    key_id: int
    name: str
    role: Role
    scope: str

    @property
    def actor(self) -> str:
        return f"key:{self.key_id}"

    def covers_region(self, code: str) -> bool:
        """True when `code` lies inside this key's region scope."""
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
            raise Forbidden(f"key scope {self.scope} does not cover region {code}")

    def require_kampung(self, *, kampung_id: int, desa_code: str) -> None:
        if self.role not in WRITERS:
            raise Forbidden(f"role {self.role} is read-only")
        if not self.covers_kampung(kampung_id=kampung_id, desa_code=desa_code):
            raise Forbidden(f"key scope {self.scope} does not cover Kampung KB {kampung_id}")


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _check_scope(scope: str) -> None:
    if scope == NATION_CODE or is_region_code(scope):
        return
    if scope.startswith("kampung:") and scope.removeprefix("kampung:").isdigit():
        return
    raise Unprocessable.field(["scope"], "must be 00, a region code such as 36.71, or kampung:<id>")


async def create_key(session: AsyncSession, *, name: str, role: Role, scope: str) -> tuple[ApiKey, str]:
    """Store a new key and return it with its plain text, which is never stored and cannot be shown again."""
    _check_scope(scope)
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    key = ApiKey(name=name, prefix=prefix, secret_hash=_hash(secret), role=role.value, scope=scope)
    session.add(key)
    await session.flush()
    return key, f"{KEY_PREFIX}_{prefix}_{secret}"


async def revoke_key(session: AsyncSession, *, prefix: str) -> None:
    result = await session.execute(
        update(ApiKey).where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None)).values(revoked_at=func.now())
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise NotFound(f"no active key with prefix {prefix}")


_ACTIVE_KEY = "SELECT id, name, role, scope, secret_hash FROM api_key WHERE prefix = $1 AND revoked_at IS NULL"


async def authenticate(session: AsyncSession, presented: str) -> Principal:
    """The principal of a presented key; 401 for a malformed, unknown or revoked key."""
    parts = presented.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        raise Unauthorized("malformed API key")
    key = await (await session_driver(session)).fetchrow(_ACTIVE_KEY, parts[1])  # on every request: no ORM
    if key is None or not secrets.compare_digest(key["secret_hash"], _hash(parts[2])):
        raise Unauthorized("unknown or revoked API key")
    return Principal(key_id=key["id"], name=key["name"], role=Role(key["role"]), scope=key["scope"])
