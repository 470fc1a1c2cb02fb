import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Request

from kampungkb_shared.errors import Unprocessable
from kampungkb_shared.periods import parse_read_period
from registry_api.auth.deps import PrincipalDep
from registry_api.classifications.explanations import UNEXPLAINED, explain_one
from registry_api.classifications.schemas import ClassificationRead
from registry_api.classifications.service import classification_as_of
from registry_api.db import SessionDep
from registry_api.kampung.readable import get_readable_kampung
from registry_api.kampung.schemas import KampungId

router = APIRouter(prefix="/v1/kampung", tags=["classification"])


@router.get("/{kampung_id}/classification", response_model=ClassificationRead, responses=UNEXPLAINED)
async def get_classification(
    kampung_id: KampungId,
    session: SessionDep,
    principal: PrincipalDep,
    request: Request,
    period: Annotated[str | None, Query(description="YYYY-MM; the newest classification at or before it")] = None,
    ruleset: Annotated[str | None, Query(description="default: the registry's primary rule set")] = None,
) -> ClassificationRead:
    """The classification as of a period (default: the latest), with its scores, indices and explanation."""
    await get_readable_kampung(session, principal=principal, kampung_id=kampung_id)
    as_of: dt.date | None = None
    if period is not None:
        try:
            as_of = parse_read_period(period)
        except ValueError as exc:
            raise Unprocessable.field(["query", "period"], str(exc)) from exc
    row = await classification_as_of(
        session, kampung_id=kampung_id, period=as_of, ruleset=ruleset or request.app.state.settings.primary_ruleset
    )
    return await explain_one(session, classifier=request.app.state.classifier, row=row)
