"""Approved months (DHIS2's data approval): a kecamatan or kabupaten officer approves a month for its region, and
from then on operators and integrations may no longer write into it; officers whose scope covers the approved
region (the approver and those above) still may, to correct, and may reopen it. A month also closes itself
`REGISTRY_PERIOD_CLOSES_AFTER_DAYS` after its end, unless reopened.

A region's state for a month is the newest row of `period_approval` for it; a Kampung KB's month is approved when a
region holding it (its kecamatan or kabupaten) is.
"""

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kampungkb_shared.closing import Closing
from kampungkb_shared.errors import Forbidden, NotFound, PeriodApproved, Unprocessable
from kampungkb_shared.periods import format_period
from kampungkb_shared.regions import Level, level_of
from registry_api.approvals.models import PeriodApproval
from registry_api.approvals.schemas import ApprovalEvent, ApprovalRead, ApprovalStatus
from registry_api.auth.service import OFFICERS, RANK, Principal, Role
from registry_api.db import session_driver
from registry_api.wilayah.models import Wilayah

APPROVING_LEVELS = frozenset({Level.KECAMATAN, Level.KABUPATEN})


@dataclass(frozen=True)
class _Latest:
    """The newest approval row of one region holding what was asked about."""

    region_code: str
    action: str
    actor: str
    role: str
    at: dt.datetime


# For each (code, period) asked, the newest row of every region holding the code (itself included) in that month.
_HOLDING = """
  CROSS JOIN LATERAL (
        SELECT DISTINCT ON (e.region_code) e.region_code, e.action, e.actor, e.role, e.at
          FROM period_approval e
         WHERE e.period = a.period AND (a.code = e.region_code OR a.code LIKE e.region_code || '.%')
         ORDER BY e.region_code, e.id DESC
  ) e"""
_BY_KAMPUNG = f"""
SELECT a.n, e.region_code, e.action, e.actor, e.role, e.at
  FROM unnest($1::bigint[], $2::date[]) WITH ORDINALITY AS w(kampung_id, period, n)
  JOIN kampung k ON k.id = w.kampung_id
  CROSS JOIN LATERAL (SELECT w.n, k.desa_code AS code, w.period) a
{_HOLDING}"""
BY_CODE = f"""
SELECT a.n, e.region_code, e.action, e.actor, e.role, e.at
  FROM unnest($1::text[], $2::date[]) WITH ORDINALITY AS a(code, period, n)
{_HOLDING}"""
"""The approval rows holding each region ($1) in its period ($2); `statuses_of` reads them (by position)."""


def _by_key(count: int, rows: Iterable[Sequence[Any]]) -> list[list[_Latest]]:
    """The rows of `_BY_KAMPUNG` or `BY_CODE` (read by position, so rows of a record array serve as well) per key."""
    found: list[list[_Latest]] = [[] for _ in range(count)]
    for n, *latest in rows:
        found[n - 1].append(_Latest(*latest))
    return found


async def _holding(
    session: AsyncSession, query: str, keys: Sequence[Any], periods: Sequence[dt.date]
) -> list[list[_Latest]]:
    return _by_key(len(keys), await (await session_driver(session)).fetch(query, list(keys), list(periods)))


def _status(code: str, latest: list[_Latest], *, period: dt.date, closing: Closing, now: dt.datetime) -> ApprovalStatus:
    approved = [row for row in latest if row.action == "approved"]
    if approved:
        widest = min(approved, key=lambda row: len(row.region_code))
        return ApprovalStatus(
            code=code, state="approved", approved_in=widest.region_code, approved_by=widest.actor, approved_at=widest.at
        )
    reopened = any(row.action == "reopened" for row in latest)
    state = "closed" if not reopened and closing.closed(period, now=now) else "open"
    return ApprovalStatus(code=code, state=state)


def _may_write(principal: Principal, status: ApprovalStatus) -> bool:
    if status.state == "open":
        return True
    if principal.role not in OFFICERS:
        return False
    return status.approved_in is None or principal.covers_region(status.approved_in)


async def refused_writes(
    session: AsyncSession,
    *,
    kampung_ids: Sequence[int],
    periods: Sequence[dt.date],
    principal: Principal,
    closing: Closing,
) -> list[ApprovalStatus | None]:
    """The rule of approved months, for many writes at once (one query): for each Kampung KB (locked by the caller)
    and period, the status that refuses the principal's write into it, None where it may write."""
    now = dt.datetime.now(dt.UTC)
    latest = await _holding(session, _BY_KAMPUNG, kampung_ids, periods)
    # A month that no region holding the Kampung KB has an approval row for is open, or closed by time, for every
    # such Kampung KB alike: judged once per period, not once per write of a national file (a refusal is copied with
    # each Kampung KB's own code).
    unheld: dict[dt.date, ApprovalStatus | None] = {}
    refused: list[ApprovalStatus | None] = []
    for kampung_id, period, rows in zip(kampung_ids, periods, latest, strict=True):
        if not rows and period in unheld:
            judged = unheld[period]
            refused.append(None if judged is None else judged.model_copy(update={"code": str(kampung_id)}))
            continue
        status = _status(str(kampung_id), rows, period=period, closing=closing, now=now)
        verdict = None if _may_write(principal, status) else status
        if not rows:
            unheld[period] = verdict
        refused.append(verdict)
    return refused


def refusal(status: ApprovalStatus, *, period: dt.date) -> str:
    """Why a write into an approved or closed month is refused, in words."""
    if status.state == "approved":
        return (
            f"{format_period(period)} is approved for {status.approved_in} by {status.approved_by}: only an officer "
            f"whose scope covers {status.approved_in} may write into it, or reopen it"
        )
    return f"{format_period(period)} is closed: only an officer may write into it, or reopen it"


async def refuse_approved(
    session: AsyncSession,
    *,
    kampung_ids: Sequence[int],
    periods: Sequence[dt.date],
    principal: Principal,
    closing: Closing,
) -> None:
    """409 `period-approved` when any of the writes falls in a month the principal may no longer write into."""
    refused = await refused_writes(
        session, kampung_ids=kampung_ids, periods=periods, principal=principal, closing=closing
    )
    for status, period in zip(refused, periods, strict=True):
        if status is not None:
            raise PeriodApproved(refusal(status, period=period), approved_in=status.approved_in)


def statuses_of(
    codes: Sequence[str], rows: Iterable[Sequence[Any]], *, period: dt.date, closing: Closing
) -> dict[str, ApprovalStatus]:
    """The status of each region's month from the rows `BY_CODE` found for the codes in that month."""
    now = dt.datetime.now(dt.UTC)
    latest = _by_key(len(codes), rows)
    return {
        code: _status(code, found, period=period, closing=closing, now=now)
        for code, found in zip(codes, latest, strict=True)
    }


async def statuses(
    session: AsyncSession, *, codes: Sequence[str], period: dt.date, closing: Closing
) -> dict[str, ApprovalStatus]:
    """The status of each region's month (one query)."""
    rows = await (await session_driver(session)).fetch(BY_CODE, list(codes), [period] * len(codes))
    return statuses_of(codes, rows, period=period, closing=closing)


async def _check_region(session: AsyncSession, code: str) -> None:
    if await session.get(Wilayah, code) is None:
        raise NotFound(f"no region with code {code}")


def _check_approver(principal: Principal, code: str) -> None:
    principal.require_role(*OFFICERS)
    principal.require_region(code)
    try:
        level = level_of(code)
    except ValueError:
        level = None
    if level not in APPROVING_LEVELS:
        raise Unprocessable.field(["path", "code"], "months are approved for a kecamatan or a kabupaten/kota")


async def read_approval(session: AsyncSession, *, code: str, period: dt.date, closing: Closing) -> ApprovalRead:
    """A region's month: its status, its history and its children's status."""
    await _check_region(session, code)
    children = list(
        await session.scalars(select(Wilayah.code).where(Wilayah.parent_code == code).order_by(Wilayah.code))
    )
    found = await statuses(session, codes=[code, *children], period=period, closing=closing)
    history = await session.scalars(
        select(PeriodApproval)
        .where(PeriodApproval.region_code == code, PeriodApproval.period == period)
        .order_by(PeriodApproval.id)
    )
    return ApprovalRead(
        **found[code].model_dump(),
        period=format_period(period),
        history=[ApprovalEvent(action=row.action, actor=row.actor, role=row.role, at=row.at) for row in history],
        children=[found[child] for child in children],
    )


async def _own_latest(session: AsyncSession, *, code: str, period: dt.date) -> PeriodApproval | None:
    query = (
        select(PeriodApproval)
        .where(PeriodApproval.region_code == code, PeriodApproval.period == period)
        .order_by(PeriodApproval.id.desc())
        .limit(1)
    )
    return await session.scalar(query)


async def _lock_region_month(session: AsyncSession, *, code: str, period: dt.date) -> None:
    """Approvals of one region's month serialise, so that two approvals or reopenings never interleave."""
    driver = await session_driver(session)
    await driver.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"period_approval:{code}:{period}")


async def approve(
    session: AsyncSession, *, code: str, period: dt.date, principal: Principal, closing: Closing
) -> ApprovalRead:
    """Approve a region's month (a kecamatan or kabupaten, by an officer covering it); approving it again is a no-op."""
    _check_approver(principal, code)
    await _check_region(session, code)
    await _lock_region_month(session, code=code, period=period)
    own = await _own_latest(session, code=code, period=period)
    if own is None or own.action != "approved":
        session.add(
            PeriodApproval(
                region_code=code, period=period, action="approved", actor=principal.actor, role=principal.role.value
            )
        )
        await session.flush()
    return await read_approval(session, code=code, period=period, closing=closing)


async def reopen(
    session: AsyncSession, *, code: str, period: dt.date, principal: Principal, closing: Closing
) -> ApprovalRead:
    """Reopen a region's month: by its approver, or an officer of a higher role covering the region; a closed
    month is reopened by any officer covering the region. Reopening an open month is a no-op."""
    _check_approver(principal, code)
    await _check_region(session, code)
    await _lock_region_month(session, code=code, period=period)
    own = await _own_latest(session, code=code, period=period)
    current = (await statuses(session, codes=[code], period=period, closing=closing))[code]
    if own is not None and own.action == "approved":
        if own.actor != principal.actor and RANK[principal.role] <= RANK[Role(own.role)]:
            raise Forbidden(f"only {own.actor}, who approved it, or an officer above a {own.role} may reopen it")
    elif current.state == "approved":
        raise PeriodApproved(
            f"{format_period(period)} is approved for {current.approved_in}: reopen it there",
            approved_in=current.approved_in,
        )
    elif current.state == "open":
        return await read_approval(session, code=code, period=period, closing=closing)
    session.add(
        PeriodApproval(
            region_code=code, period=period, action="reopened", actor=principal.actor, role=principal.role.value
        )
    )
    await session.flush()
    return await read_approval(session, code=code, period=period, closing=closing)
