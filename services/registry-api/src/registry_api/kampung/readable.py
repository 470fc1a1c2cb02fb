"""Who may read which Kampung KB, in one place: the statement of the Kampung KB a principal may read.

Lists build on it, so the scope is part of the SQL rather than a check after the rows are loaded; a single Kampung KB
outside the scope is absent from the statement and answers 404, as an unknown one does. What a Kampung KB holds
(submissions, revisions, activities, classifications, enrolments) is readable with the Kampung KB.
"""

from sqlalchemy import ColumnElement, Select, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from kampungkb_shared.errors import NotFound
from kampungkb_shared.regions import NATION_CODE
from registry_api.auth.readable import under_region
from registry_api.auth.service import Principal
from registry_api.kampung.models import Kampung


def in_region(code: str) -> ColumnElement[bool]:
    """Kampung KB under a region code (a prefix of whole segments); every one for `00`."""
    return true() if code == NATION_CODE else under_region(Kampung.desa_code, code)


def kampung_in_scope(principal: Principal) -> ColumnElement[bool]:
    """The condition on `kampung` rows that a principal's scope covers."""
    if principal.scope == NATION_CODE:
        return true()
    if principal.scope.startswith("kampung:"):
        return Kampung.id == int(principal.scope.removeprefix("kampung:"))
    return under_region(Kampung.desa_code, principal.scope)


def readable_kampung(principal: Principal) -> Select[Kampung]:
    """The Kampung KB a principal may read: those inside its scope."""
    return select(Kampung).where(kampung_in_scope(principal))


async def get_readable_kampung(session: AsyncSession, *, principal: Principal, kampung_id: int) -> Kampung:
    """The Kampung KB if the principal may read it; 404 as if absent otherwise."""
    kampung = await session.scalar(readable_kampung(principal).where(Kampung.id == kampung_id))
    if kampung is None:
        raise NotFound(f"no Kampung KB with id {kampung_id}")
    return kampung
