"""Statements over the flags, reused by the quality endpoints and the reports: who may read which, and counts."""

import datetime as dt

from sqlalchemy import ColumnElement, Select, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

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


async def open_counts(session: AsyncSession, *, code: str, period: dt.date) -> QualityCounts:
    """Open and checked flags of a region's Kampung KB for a period, open ones by kind."""
    rows = await session.execute(
        select(QualityFlag.kind, QualityFlag.status, func.count())
        .where(QualityFlag.period == period, flags_under(code))
        .group_by(QualityFlag.kind, QualityFlag.status)
    )
    by_kind = dict.fromkeys(FlagKind, 0)
    checked = 0
    for kind, status, count in rows:
        if status == "open":
            by_kind[FlagKind(kind)] += count
        else:
            checked += count
    return QualityCounts(open=sum(by_kind.values()), checked=checked, open_by_kind=by_kind)
