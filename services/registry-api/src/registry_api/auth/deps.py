"""FastAPI dependencies for callers: who they are (an API key or a bearer token of the identity provider), whether
a read may go without either, and the rate limit of their route group."""

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from kampungkb_shared.errors import Forbidden, Unauthorized
from registry_api.auth.limits import RateLimiter
from registry_api.auth.oidc import OidcVerifier
from registry_api.auth.service import KEY_PREFIX, WRITERS, Principal, authenticate
from registry_api.db import SessionDep

_bearer = HTTPBearer(
    auto_error=False, description="`Authorization: Bearer <api key>`, or a JWT of the configured OpenID Connect issuer"
)
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="or `X-API-Key: <api key>`")


async def _presented(
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    header: Annotated[str | None, Depends(_header)],
) -> str | None:
    return bearer.credentials if bearer else header


def _group(request: Request, *, anonymous: bool) -> str:
    route = request.scope.get("route")
    path = getattr(route, "path", request.url.path)
    if path == "/v1/enrol":
        return "enrol"
    if anonymous:
        return "anonymous"
    if path.startswith(("/v1/keys", "/v1/enrolments")):
        return "keys"
    if path.startswith("/v1/imports") and request.method == "POST":
        return "import"
    return "read" if request.method in ("GET", "HEAD") else "write"


async def _limit(request: Request, caller: str, *, anonymous: bool) -> None:
    limiter: RateLimiter | None = request.app.state.rate_limiter
    if limiter is not None:
        await limiter.check(_group(request, anonymous=anonymous), caller)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def _identify(request: Request, session: SessionDep, credential: str) -> Principal:
    verifier: OidcVerifier | None = request.app.state.oidc
    try:
        if verifier is not None and not credential.startswith(KEY_PREFIX + "_") and credential.count(".") == 2:
            principal = await verifier.verify(credential)
        else:
            principal = await authenticate(session, credential)
    except Unauthorized:
        await _limit(request, client_address(request), anonymous=True)  # guessing keys counts against the address
        raise
    await _limit(request, principal.actor, anonymous=False)
    return principal


async def current_principal(
    request: Request, session: SessionDep, credential: Annotated[str | None, Depends(_presented)]
) -> Principal:
    if not credential:
        raise Unauthorized("an API key is required: Authorization: Bearer <key> or X-API-Key")
    return await _identify(request, session, credential)


async def writer_principal(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    if principal.role not in WRITERS:
        raise Forbidden(f"role {principal.role} is read-only")
    return principal


async def optional_reader(
    request: Request, session: SessionDep, credential: Annotated[str | None, Depends(_presented)]
) -> Principal | None:
    """For region and report reads: public when the settings say so, otherwise any valid key."""
    return await reader_of(request, session, credential)


async def reader_of(request: Request, session: SessionDep, credential: str | None) -> Principal | None:
    """The reader behind a credential however it came (a header, the dashboard's cookie), or None for a public read."""
    if credential:
        return await _identify(request, session, credential)
    if request.app.state.settings.public_reads:
        await _limit(request, client_address(request), anonymous=True)
        return None
    raise Unauthorized("an API key is required to read")


async def limited_client(request: Request) -> None:
    """For calls without a key (a phone enrolling): the limit of the client address."""
    await _limit(request, client_address(request), anonymous=True)


RATE_LIMITING = (current_principal, optional_reader, limited_client)
"""The dependencies that count a call against a rate limit: an operation with one of them may answer 429 (the OpenAPI
document says so on each)."""

PrincipalDep = Annotated[Principal, Depends(current_principal)]
WriterDep = Annotated[Principal, Depends(writer_principal)]
PublicReaderDep = Annotated[Principal | None, Depends(optional_reader)]
LimitedClientDep = Annotated[None, Depends(limited_client)]
