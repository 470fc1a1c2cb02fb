from typing import Annotated

from fastapi import APIRouter, Query, Request

from kampungkb_shared.errors import Unprocessable
from kampungkb_shared.periods import PERIOD_PATTERN, current_period, parse_read_period
from registry_api.auth.deps import PrincipalDep
from registry_api.classifications.explanations import UNEXPLAINED
from registry_api.db import SessionDep
from registry_api.kampung.schemas import KampungId
from registry_api.sync import service
from registry_api.sync.schemas import InForce

router = APIRouter(prefix="/v1/kampung", tags=["sync"])


@router.get("/{kampung_id}/in-force", response_model=InForce, responses=UNEXPLAINED)
async def get_in_force(
    kampung_id: KampungId,
    session: SessionDep,
    principal: PrincipalDep,
    request: Request,
    period: Annotated[
        str | None,
        Query(pattern=PERIOD_PATTERN, description="YYYY-MM; default: the current month"),
    ] = None,
) -> InForce:
    """A Kampung KB with everything in force for a month and the change-feed cursor: an offline client's first pull."""
    try:
        as_of = parse_read_period(period or current_period())
    except ValueError as exc:
        raise Unprocessable.field(["query", "period"], str(exc)) from exc
    return await service.in_force(
        session,
        principal=principal,
        classifier=request.app.state.classifier,
        kampung_id=kampung_id,
        period=as_of,
        ruleset=request.app.state.settings.primary_ruleset,
    )
