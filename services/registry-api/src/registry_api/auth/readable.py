"""Who may read what, in one place: for each resource, the statement of the rows a principal may read.

Lists build on these statements, so the scope is part of the SQL rather than a check after the rows are loaded; a
single resource outside the scope is absent from the statement and answers 404, as an unknown one does. What a
Kampung KB holds (submissions, revisions, activities, classifications, enrolments) is readable with the Kampung KB.
"""

from typing import Any

from sqlalchemy import ColumnElement, Select, String, cast, exists, false, literal, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from kampungkb_shared.errors import NotFound
from kampungkb_shared.regions import NATION_CODE
from registry_api.auth.models import ApiKey, PrincipalRecord
from registry_api.auth.service import Principal, granted_roles
from registry_api.imports.models import ImportJob
from registry_api.kampung.models import Kampung


def _in_region(column: Any, region: str) -> ColumnElement[bool]:
    return or_(column == region, column.startswith(region + ".", autoescape=True))


def in_region(code: str) -> ColumnElement[bool]:
    """Kampung KB under a region code (a prefix of whole segments); every one for `00`."""
    return true() if code == NATION_CODE else _in_region(Kampung.desa_code, code)


def kampung_in_scope(principal: Principal) -> ColumnElement[bool]:
    """The condition on `kampung` rows that a principal's scope covers."""
    if principal.scope == NATION_CODE:
        return true()
    if principal.scope.startswith("kampung:"):
        return Kampung.id == int(principal.scope.removeprefix("kampung:"))
    return _in_region(Kampung.desa_code, principal.scope)


def scope_limits(principal: Principal) -> tuple[str | None, int | None]:
    """What a principal's scope limits reads to, for statements written in SQL (the change feed): a region code
    prefix, or one Kampung KB's id (None: no limit)."""
    if principal.scope.startswith("kampung:"):
        return None, int(principal.scope.removeprefix("kampung:"))
    return (None if principal.scope == NATION_CODE else principal.scope), None


def readable_kampung(principal: Principal) -> Select[Kampung]:
    """The Kampung KB a principal may read: those inside its scope."""
    return select(Kampung).where(kampung_in_scope(principal))


async def get_readable_kampung(session: AsyncSession, *, principal: Principal, kampung_id: int) -> Kampung:
    """The Kampung KB if the principal may read it; 404 as if absent otherwise."""
    kampung = await session.scalar(readable_kampung(principal).where(Kampung.id == kampung_id))
    if kampung is None:
        raise NotFound(f"no Kampung KB with id {kampung_id}")
    return kampung


def scope_within(column: Any, principal: Principal) -> ColumnElement[bool]:
    """The condition that a scope held in `column` lies inside the principal's scope (a Kampung KB's by its desa)."""
    if principal.scope == NATION_CODE:
        return true()
    if principal.scope.startswith("kampung:"):
        same: ColumnElement[bool] = column == principal.scope
        return same
    kampung_inside = exists().where(
        literal("kampung:") + cast(Kampung.id, String) == column, kampung_in_scope(principal)
    )
    inside: ColumnElement[bool] = or_(_in_region(column, principal.scope), kampung_inside)
    return inside


async def covers_scope(session: AsyncSession, *, principal: Principal, scope: str) -> bool:
    """True when `scope` (of a key to give) lies inside the principal's scope."""
    return bool(await session.scalar(select(scope_within(literal(scope, String), principal))))


def readable_keys(principal: Principal) -> Select[ApiKey, PrincipalRecord]:
    """The keys a principal may see and revoke: its own, and those of principals of a role it may give, in scope."""
    own = PrincipalRecord.id == principal.principal_id if principal.principal_id is not None else false()
    managed = PrincipalRecord.role.in_([role.value for role in granted_roles(principal.role)]) & scope_within(
        PrincipalRecord.scope, principal
    )
    return (
        select(ApiKey, PrincipalRecord)
        .join(PrincipalRecord, PrincipalRecord.id == ApiKey.principal_id)
        .where(or_(own, managed))
    )


def readable_imports(principal: Principal) -> Select[ImportJob]:
    """Import jobs a principal may read: those sent with its own keys, and those of scopes inside its own."""
    own: ColumnElement[bool] = false()
    if principal.principal_id is not None:
        own = ImportJob.key_id.in_(select(ApiKey.id).where(ApiKey.principal_id == principal.principal_id))
    return select(ImportJob).where(or_(own, scope_within(ImportJob.scope, principal)))
