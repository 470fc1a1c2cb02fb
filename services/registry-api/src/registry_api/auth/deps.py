"""FastAPI dependencies for callers: who they are (an API key or a bearer token of the identity provider; on the
dashboard, a session opened with a key), whether a read may go without either, and the rate limit of their route
group."""

from collections.abc import Awaitable
from typing import Annotated

from fastapi import Depends, Request, Response
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from kampungkb_shared.errors import Forbidden, Unauthorized
from registry_api.auth import sessions
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


async def _counted(request: Request, identified: Awaitable[Principal]) -> Principal:
    """The principal a credential identifies, counted against its limit; a refused credential counts against the
    client's address (guessing keys or session tokens)."""
    try:
        principal = await identified
    except Unauthorized:
        await _limit(request, client_address(request), anonymous=True)
        raise
    await _limit(request, principal.actor, anonymous=False)
    return principal


async def _identify(request: Request, session: SessionDep, credential: str) -> Principal:
    verifier: OidcVerifier | None = request.app.state.oidc
    if verifier is not None and not credential.startswith(KEY_PREFIX + "_") and credential.count(".") == 2:
        return await _counted(request, verifier.verify(credential))
    return await _counted(request, authenticate(session, credential))


async def _public_read(request: Request) -> None:
    if not request.app.state.settings.public_reads:
        raise Unauthorized("an API key is required to read")
    await _limit(request, client_address(request), anonymous=True)


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
    if credential:
        return await _identify(request, session, credential)
    await _public_read(request)
    return None


async def dashboard_reader(request: Request, session: SessionDep, token: str | None) -> Principal | None:
    """The reader of a dashboard page: the principal of its session's token (`auth.sessions`), never of a key, or
    None for a public read."""
    if token:
        return await _counted(request, sessions.signed_in(session, token=token))
    await _public_read(request)
    return None


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


SHOWN_ONCE = "no-store"
"""The `Cache-Control` of an answer holding a secret shown once (a key, an enrolment code, a webhook's signing
secret): no cache on the way keeps it, nor the client's. (An answer to a request with credentials gets it anyway,
`kampungkb_shared.security`; `POST /v1/enrol` carries none.)"""


def shown_once(response: Response) -> None:
    """Mark an answer that holds a secret shown once: `Cache-Control: no-store`."""
    response.headers["Cache-Control"] = SHOWN_ONCE
