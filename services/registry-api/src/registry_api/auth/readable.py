"""What a principal's scope lets it read, as conditions inside statements (never a check after the rows are loaded).

Each resource builds the statement of its readable rows from these: `kampung.readable` (Kampung KB and what they
hold), `imports.readable` (import jobs), the keys below, and the change feed (`scope_limits`).
"""

from typing import Any

from sqlalchemy import ColumnElement, Select, String, cast, column, exists, false, literal, or_, select, table, true
from sqlalchemy.ext.asyncio import AsyncSession

from kampungkb_shared.regions import NATION_CODE
from registry_api.auth.models import ApiKey, PrincipalRecord
from registry_api.auth.service import Principal, granted_roles, managed_roles

_KAMPUNG = table("kampung", column("id"), column("desa_code"))
"""The Kampung KB table as far as scopes need it (a scope `kampung:<id>` lies where its desa does)."""


def under_region(column: Any, region: str) -> ColumnElement[bool]:
    """`column` (a region code) is `region` or lies below it."""
    return or_(column == region, column.startswith(region + ".", autoescape=True))


def scope_limits(principal: Principal) -> tuple[str | None, int | None]:
    """What a principal's scope limits reads to, for statements written in SQL (the change feed): a region code
    prefix, or one Kampung KB's id (None: no limit)."""
    if principal.scope.startswith("kampung:"):
        return None, int(principal.scope.removeprefix("kampung:"))
    return (None if principal.scope == NATION_CODE else principal.scope), None


def scope_within(column: Any, principal: Principal) -> ColumnElement[bool]:
    """The condition that a scope held in `column` lies inside the principal's scope (a Kampung KB's by its desa)."""
    if principal.scope == NATION_CODE:
        return true()
    if principal.scope.startswith("kampung:"):
        same: ColumnElement[bool] = column == principal.scope
        return same
    kampung_inside = exists().where(
        literal("kampung:") + cast(_KAMPUNG.c.id, String) == column, under_region(_KAMPUNG.c.desa_code, principal.scope)
    )
    inside: ColumnElement[bool] = or_(under_region(column, principal.scope), kampung_inside)
    return inside


async def covers_scope(session: AsyncSession, *, principal: Principal, scope: str) -> bool:
    """True when `scope` (of a key to give) lies inside the principal's scope."""
    return bool(await session.scalar(select(scope_within(literal(scope, String), principal))))


def readable_keys(principal: Principal) -> Select[ApiKey, PrincipalRecord]:
    """The keys a principal may see, revoke and rotate: its own, those of principals of a role below it in its scope
    (`managed_roles`), and those of principals it gave keys to in its scope (a colleague's of its own role)."""
    own = PrincipalRecord.id == principal.principal_id if principal.principal_id is not None else false()
    below = PrincipalRecord.role.in_([role.value for role in managed_roles(principal.role)])
    given = PrincipalRecord.role.in_([role.value for role in granted_roles(principal.role)]) & (
        PrincipalRecord.created_by == principal.actor
    )
    managed = (below | given) & scope_within(PrincipalRecord.scope, principal)
    return (
        select(ApiKey, PrincipalRecord)
        .join(PrincipalRecord, PrincipalRecord.id == ApiKey.principal_id)
        .where(or_(own, managed))
    )
