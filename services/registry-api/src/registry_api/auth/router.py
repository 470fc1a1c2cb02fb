from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from registry_api.auth import keys
from registry_api.auth.deps import PrincipalDep, shown_once
from registry_api.auth.schemas import KeyCreate, KeyCreated, KeyPage, KeyRotate, MeRead
from registry_api.auth.service import PrincipalKind
from registry_api.db import BIGINT_MAX, SessionDep
from registry_api.settings import Settings

router = APIRouter(prefix="/v1", tags=["access"])

Prefix = Annotated[str, Path(min_length=1, max_length=16, description="the key's prefix (its second part)")]


def _max_days(request: Request) -> dict[PrincipalKind, int]:
    settings: Settings = request.app.state.settings
    return {
        PrincipalKind.PERSON: settings.key_max_days_person,
        PrincipalKind.DEVICE: settings.key_max_days_device,
        PrincipalKind.INTEGRATION: settings.key_max_days_integration,
    }


@router.get("/me", response_model=MeRead)
async def get_me(principal: PrincipalDep) -> MeRead:
    """The caller: its principal, kind, name, role, scope and the key it called with."""
    return MeRead(
        principal_id=principal.principal_id,
        subject=principal.subject,
        kind=principal.kind,
        name=principal.name,
        role=principal.role,
        scope=principal.scope,
        key_prefix=principal.key_prefix,
        expires_at=principal.expires_at,
    )


@router.post("/keys", status_code=201, response_model=KeyCreated)
async def create_key(
    data: KeyCreate, request: Request, response: Response, session: SessionDep, principal: PrincipalDep
) -> KeyCreated:
    """Give a new principal its key (shown once): at or below the caller's role, inside its scope (403 otherwise)."""
    shown_once(response)
    return await keys.give_key(session, caller=principal, data=data, max_days=_max_days(request))


@router.get("/keys", response_model=KeyPage)
async def list_keys(
    session: SessionDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[int | None, Query(ge=0, le=BIGINT_MAX)] = None,
) -> KeyPage:
    """The keys the caller manages (its own, and those it could give): never the secret."""
    return await keys.list_keys(session, caller=principal, limit=limit, cursor=cursor)


@router.delete("/keys/{prefix}", status_code=204, response_class=Response)
async def revoke_key(prefix: Prefix, session: SessionDep, principal: PrincipalDep) -> Response:
    """Revoke a key; the next request with it is refused, and its queued and running imports fail."""
    await keys.revoke(session, caller=principal, prefix=prefix)
    return Response(status_code=204)


@router.post("/keys/{prefix}/rotate", status_code=201, response_model=KeyCreated)
async def rotate_key(
    prefix: Prefix,
    data: KeyRotate,
    request: Request,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
) -> KeyCreated:
    """A new key for the same principal (shown once); the old key keeps working until it expires."""
    shown_once(response)
    return await keys.rotate(
        session, caller=principal, prefix=prefix, expires_in_days=data.expires_in_days, max_days=_max_days(request)
    )
