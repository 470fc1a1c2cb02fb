from typing import Annotated

from fastapi import APIRouter, Path, Query

from kampungkb_shared.periods import Period, current_period, parse_period
from kampungkb_shared.quality import FlagKind
from registry_api.auth.deps import PrincipalDep, WriterDep
from registry_api.db import BIGINT_MAX, SessionDep
from registry_api.quality import service
from registry_api.quality.schemas import FlagCheck, FlagPage, FlagRead, FlagStatus

router = APIRouter(prefix="/v1/quality", tags=["quality"])

FlagId = Annotated[int, Path(ge=1, le=BIGINT_MAX, description="the flag's id")]


@router.get("/{code}", response_model=FlagPage)
async def list_flags(
    code: Annotated[str, Path(description="a region code (kecamatan and above), `00` for the nation")],
    session: SessionDep,
    principal: PrincipalDep,
    period: Annotated[Period | None, Query(description="YYYY-MM; default: the current month")] = None,
    kind: FlagKind | None = None,
    status: FlagStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[int | None, Query(ge=0, le=BIGINT_MAX)] = None,
) -> FlagPage:
    """Data-quality flags of a month under a region, with the values and history that raised them; by id, paged."""
    return await service.list_flags(
        session,
        code=code,
        period=parse_period(period or current_period()),
        kind=kind,
        status=status,
        limit=limit,
        cursor=cursor,
        principal=principal,
    )


@router.put("/flags/{flag_id}/check", response_model=FlagRead)
async def check_flag(flag_id: FlagId, data: FlagCheck, session: SessionDep, principal: WriterDep) -> FlagRead:
    """Mark a flag checked, with who and a note: it stops counting, and stays checked while its values stay. An
    officer's review: kecamatan, kabupaten, provinsi or admin keys whose scope holds the flag; operator and phone
    keys get 403 (no Kampung KB silences its own flags)."""
    return await service.check_flag(session, flag_id=flag_id, note=data.note, principal=principal)


@router.delete("/flags/{flag_id}/check", response_model=FlagRead)
async def reopen_flag(flag_id: FlagId, session: SessionDep, principal: WriterDep) -> FlagRead:
    """Open a checked flag again: it counts once more. Officers only (kecamatan and above, in scope), as checking."""
    return await service.check_flag(session, flag_id=flag_id, note=None, principal=principal)
