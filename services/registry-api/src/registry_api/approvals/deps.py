"""The closing of months as the process's settings give it, for the routes that write or read approvals."""

from typing import Annotated

from fastapi import Depends, Request

from kampungkb_shared.closing import Closing
from registry_api.settings import Settings


async def closing(request: Request) -> Closing:
    settings: Settings = request.app.state.settings
    return settings.closing()


ClosingDep = Annotated[Closing, Depends(closing)]
