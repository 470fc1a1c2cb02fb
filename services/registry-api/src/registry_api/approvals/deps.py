"""The closing of months as the process's settings give it, for the routes that write or read approvals."""

from typing import Annotated, Any

from fastapi import Depends, Request

from kampungkb_shared.closing import Closing
from registry_api.settings import Settings


async def closing(request: Request) -> Closing:
    settings: Settings = request.app.state.settings
    return settings.closing()


ClosingDep = Annotated[Closing, Depends(closing)]

PERIOD_APPROVED: dict[int | str, dict[str, Any]] = {
    409: {"description": "`period-approved`: the month is approved (or closed) for a region holding the Kampung KB"}
}
"""The `responses` of a route that writes into a month with `ClosingDep`: the refusal of an approved or closed one."""
