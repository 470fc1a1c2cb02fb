"""Approved months: approve, reopen and read a region's month."""

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from kampungkb_shared.errors import Unprocessable
from kampungkb_shared.periods import parse_period, within_programme
from registry_api.approvals import service
from registry_api.approvals.deps import ClosingDep
from registry_api.approvals.schemas import ApprovalRead
from registry_api.auth.deps import PublicReaderDep, WriterDep
from registry_api.db import SessionDep

router = APIRouter(prefix="/v1/approvals", tags=["approvals"])

CodePath = Annotated[str, Path(description="a kecamatan or kabupaten/kota code", examples=["99.01.01"])]


def _month(period: str, loc: str) -> dt.date:
    try:
        return within_programme(parse_period(period), month=True)
    except ValueError as exc:
        raise Unprocessable.field([loc, "period"], str(exc)) from exc


async def _path_period(period: Annotated[str, Path(description="the month, YYYY-MM", examples=["2026-10"])]) -> dt.date:
    return _month(period, "path")


async def _query_period(
    period: Annotated[str, Query(description="the month, YYYY-MM", examples=["2026-10"])],
) -> dt.date:
    return _month(period, "query")


_RESPONSES: dict[int | str, dict[str, str]] = {
    403: {
        "description": "not an officer (kecamatan and above) whose scope covers the region, or (reopening) not "
        "the approver nor of a higher role"
    },
    404: {"description": "unknown region"},
    409: {"description": "`period-approved`: a region above holds the approval; reopen it there"},
    422: {"description": "not a kecamatan or kabupaten/kota code, or not a month of the programme"},
}


@router.put("/{code}/{period}", response_model=ApprovalRead, responses=_RESPONSES)
async def approve_period(
    code: CodePath,
    period: Annotated[dt.date, Depends(_path_period)],
    session: SessionDep,
    principal: WriterDep,
    closing: ClosingDep,
) -> ApprovalRead:
    """Approve a kecamatan's or kabupaten's month: operators and integrations may no longer write into it."""
    return await service.approve(session, code=code, period=period, principal=principal, closing=closing)


@router.delete("/{code}/{period}", response_model=ApprovalRead, responses=_RESPONSES)
async def reopen_period(
    code: CodePath,
    period: Annotated[dt.date, Depends(_path_period)],
    session: SessionDep,
    principal: WriterDep,
    closing: ClosingDep,
) -> ApprovalRead:
    """Reopen an approved or closed month (its approver, or an officer above); kept in its history."""
    return await service.reopen(session, code=code, period=period, principal=principal, closing=closing)


@router.get("/{code}", response_model=ApprovalRead, responses={404: {"description": "unknown region"}})
async def get_approvals(
    code: Annotated[str, Path(description="a region code, `00` for the nation", examples=["99.01"])],
    period: Annotated[dt.date, Depends(_query_period)],
    session: SessionDep,
    reader: PublicReaderDep,
    closing: ClosingDep,
) -> ApprovalRead:
    """A region's month: its approval status and history, and the status of each child region."""
    return await service.read_approval(session, code=code, period=period, closing=closing)
