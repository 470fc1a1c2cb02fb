"""What a principal may read, as a filter inside the statement (never a check after the rows are loaded)."""

from sqlalchemy import ColumnElement, false, or_, true

from kampungkb_shared.regions import NATION_CODE
from registry_api.auth.service import Principal
from registry_api.kampung.models import Kampung


def readable_kampung(principal: Principal) -> ColumnElement[bool]:
    """The Kampung KB rows `principal` may read: all of them for `00`, those under its region, or its own one."""
    scope = principal.scope
    if scope == NATION_CODE:
        return true()
    if scope.startswith("kampung:"):
        kampung_id = scope.removeprefix("kampung:")
        return Kampung.id == int(kampung_id) if kampung_id.isdigit() else false()
    return in_region(scope)


def in_region(code: str) -> ColumnElement[bool]:
    """Kampung KB under a region code (a prefix of whole segments); every one for `00`."""
    if code == NATION_CODE:
        return true()
    return or_(Kampung.desa_code == code, Kampung.desa_code.startswith(code + ".", autoescape=True))
