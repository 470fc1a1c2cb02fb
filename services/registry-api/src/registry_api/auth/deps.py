"""FastAPI dependencies for callers: who they are, and whether a read may go without a key."""

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from kampungkb_shared.errors import Forbidden, Unauthorized
from registry_api.auth.service import WRITERS, Principal, authenticate
from registry_api.db import SessionDep

_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <api key>`")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="or `X-API-Key: <api key>`")


async def _presented_key(
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    header: Annotated[str | None, Depends(_header)],
) -> str | None:
    return bearer.credentials if bearer else header


async def current_principal(session: SessionDep, key: Annotated[str | None, Depends(_presented_key)]) -> Principal:
    if not key:
        raise Unauthorized("an API key is required: Authorization: Bearer <key> or X-API-Key")
    return await authenticate(session, key)


async def writer_principal(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    if principal.role not in WRITERS:
        raise Forbidden(f"role {principal.role} is read-only")
    return principal


async def optional_reader(
    request: Request, session: SessionDep, key: Annotated[str | None, Depends(_presented_key)]
) -> Principal | None:
    """For region and report reads: public when the settings say so, otherwise any valid key."""
    if key:
        return await authenticate(session, key)
    if request.app.state.settings.public_reads:
        return None
    raise Unauthorized("an API key is required to read")


PrincipalDep = Annotated[Principal, Depends(current_principal)]
WriterDep = Annotated[Principal, Depends(writer_principal)]
PublicReaderDep = Annotated[Principal | None, Depends(optional_reader)]
