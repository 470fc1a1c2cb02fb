"""Data-quality flags under a region (only those a key's scope covers), their checks, and their counts in reports."""

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from kampungkb_shared.errors import NotFound
from kampungkb_shared.periods import format_period
from kampungkb_shared.quality import FlagKind
from kampungkb_shared.regions import NATION_CODE
from registry_api.auth.service import OFFICERS, Principal
from registry_api.quality.models import QualityFlag
from registry_api.quality.repository import flags_under, readable_flags
from registry_api.quality.schemas import FlagPage, FlagRead, FlagStatus
from registry_api.wilayah.service import region_name


def _overlaps(principal: Principal, code: str) -> bool:
    """A region is listed to a key whose scope covers it, or lies inside it (then filtered to the scope)."""
    if principal.scope.startswith("kampung:"):
        return True
    return code == NATION_CODE or principal.covers_region(code) or principal.scope.startswith(code + ".")


def _read(flag: QualityFlag, kampung_name: str) -> FlagRead:
    return FlagRead.model_validate(
        {**{c.key: getattr(flag, c.key) for c in QualityFlag.__table__.columns}, "kampung_name": kampung_name}
        | {"period": format_period(flag.period)}
    )


async def list_flags(
    session: AsyncSession,
    *,
    code: str,
    period: dt.date,
    kind: FlagKind | None,
    status: FlagStatus | None,
    limit: int,
    cursor: int | None,
    principal: Principal,
) -> FlagPage:
    await region_name(session, code)
    if not _overlaps(principal, code):
        raise NotFound(f"no region with code {code} in the scope of this key")
    statement = readable_flags(principal).where(QualityFlag.period == period, flags_under(code))
    if kind:
        statement = statement.where(QualityFlag.kind == kind.value)
    if status:
        statement = statement.where(QualityFlag.status == status)
    if cursor:
        statement = statement.where(QualityFlag.id > cursor)
    rows = list(await session.execute(statement.order_by(QualityFlag.id).limit(limit + 1)))
    page = rows[:limit]
    return FlagPage(
        code=code,
        period=format_period(period),
        items=[_read(flag, name) for flag, name in page],
        next_cursor=str(page[-1][0].id) if len(rows) > limit else None,
    )


async def _visible_flag(session: AsyncSession, *, flag_id: int, principal: Principal) -> tuple[QualityFlag, str]:
    row = (await session.execute(readable_flags(principal).where(QualityFlag.id == flag_id).with_for_update())).first()
    if row is None:
        raise NotFound(f"no data-quality flag with id {flag_id} in the scope of this key")
    return row[0], row[1]


async def check_flag(session: AsyncSession, *, flag_id: int, note: str | None, principal: Principal) -> FlagRead:
    """Mark a flag checked (`note` given) or open again (`note` None), with who did it and when: an officer's review
    (kecamatan and above, in scope), never the operator or phone whose own data the flag is about."""
    principal.require_role(*OFFICERS)
    flag, name = await _visible_flag(session, flag_id=flag_id, principal=principal)
    checked = note is not None
    flag.status = "checked" if checked else "open"
    flag.checked_by = principal.actor if checked else None
    flag.checked_at = dt.datetime.now(dt.UTC) if checked else None
    flag.note = note
    await session.flush()
    return _read(flag, name)
