from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from kampungkb_shared.errors import Unprocessable
from kampungkb_shared.periods import PERIOD_PATTERN, current_period, parse_read_period
from registry_api.auth.deps import PrincipalDep
from registry_api.db import SessionDep
from registry_api.etags import content_etag
from registry_api.kampung.schemas import KampungId
from registry_api.sync import service
from registry_api.sync.schemas import InForce

router = APIRouter(prefix="/v1/kampung", tags=["sync"])


@router.get("/{kampung_id}/in-force", response_model=InForce)
async def get_in_force(
    kampung_id: KampungId,
    session: SessionDep,
    principal: PrincipalDep,
    request: Request,
    response: Response,
    period: Annotated[
        str | None,
        Query(pattern=PERIOD_PATTERN, description="YYYY-MM; default: the current month"),
    ] = None,
) -> InForce:
    """A Kampung KB with everything in force for a month and the change-feed cursor: an offline client's first pull.

    Its `ETag` is of everything but the cursor, which moves with every write anywhere: a client whose copy is current
    gets a 304 and keeps its own cursor, from which the feed still misses nothing."""
    try:
        as_of = parse_read_period(period or current_period())
    except ValueError as exc:
        raise Unprocessable.field(["query", "period"], str(exc)) from exc
    found = await service.in_force(
        session,
        principal=principal,
        classifier=request.app.state.classifier,
        kampung_id=kampung_id,
        period=as_of,
        ruleset=request.app.state.settings.primary_ruleset,
    )
    response.headers["ETag"] = content_etag(found.model_dump_json(exclude={"cursor"}).encode())
    return found
