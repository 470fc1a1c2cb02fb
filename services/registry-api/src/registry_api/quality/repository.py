"""Statements over the flags, reused by the quality endpoints and the reports: who may read which, and counts."""

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, or_, select, true

from kampungkb_shared.quality import FlagKind
from kampungkb_shared.regions import NATION_CODE
from registry_api.auth.service import Principal
from registry_api.kampung.models import Kampung
from registry_api.quality.models import QualityFlag
from registry_api.quality.schemas import QualityCounts


def flags_under(code: str) -> ColumnElement[bool]:
    """Flags of Kampung KB in a region (`00`: everywhere)."""
    if code == NATION_CODE:
        return true()
    return or_(QualityFlag.desa_code == code, QualityFlag.desa_code.startswith(code + ".", autoescape=True))


def readable_flags(principal: Principal) -> Select[QualityFlag, str]:
    """The flags a key may see, with their Kampung KB's name: those inside its region scope, or of its Kampung KB."""
    statement = select(QualityFlag, Kampung.name).join(Kampung, Kampung.id == QualityFlag.kampung_id)
    if principal.scope.startswith("kampung:"):
        return statement.where(QualityFlag.kampung_id == int(principal.scope.removeprefix("kampung:")))
    return statement.where(flags_under(principal.scope))


OPEN_COUNTS = """
SELECT kind, status, count(*) FROM quality_flag
 WHERE period = $2 AND ($1 = '00' OR desa_code = $1 OR desa_code LIKE $1 || '.%')
 GROUP BY kind, status"""
"""The flags of a region's ($1, `flags_under`) Kampung KB for a period ($2), counted by kind and status."""


def counts_of(rows: Iterable[Sequence[Any]]) -> QualityCounts:
    """Open and checked flags from the rows of `OPEN_COUNTS` (read by position: rows of a record array serve too)."""
    by_kind = dict.fromkeys(FlagKind, 0)
    checked = 0
    for kind, status, count in rows:
        if status == "open":
            by_kind[FlagKind(kind)] += count
        else:
            checked += count
    return QualityCounts(open=sum(by_kind.values()), checked=checked, open_by_kind=by_kind)
