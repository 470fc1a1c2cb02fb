from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from kampungkb_shared.openapi import REGION_CODE_PATTERN
from registry_api.auth.deps import PrincipalDep
from registry_api.changes import feed
from registry_api.changes.schemas import ChangeHead, ChangeKind, ChangePage
from registry_api.db import SessionDep

router = APIRouter(prefix="/v1/changes", tags=["changes"])

_CURSOR = r"^\d{1,19}-\d{1,19}$"
_KIND = "|".join(kind.value for kind in ChangeKind)
_KINDS = f"^({_KIND})(,({_KIND}))*$"


@router.get("", response_model=ChangePage, responses={410: {"description": "the cursor is older than the feed keeps"}})
async def list_changes(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    after: Annotated[
        str | None, Query(pattern=_CURSOR, description="a `cursor` or `next_cursor` from this feed")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
    kinds: Annotated[str | None, Query(pattern=_KINDS, description="only these kinds, comma-separated")] = None,
    wilayah: Annotated[str | None, Query(pattern=REGION_CODE_PATTERN)] = None,
) -> Response:
    """Committed changes in order, after a cursor: a client that stores `next_cursor` never misses one."""
    page = await feed.page(
        session,
        principal=principal,
        after=after,
        limit=min(limit, request.app.state.settings.changes_page_max),
        kinds=sorted(set(kinds.split(","))) if kinds else None,
        wilayah=None if wilayah == "00" else wilayah,
    )
    return Response(page.json(), media_type="application/json")


@router.get("/head", response_model=ChangeHead)
async def changes_head(session: SessionDep, principal: PrincipalDep) -> ChangeHead:
    """The cursor of now: take it before a full pull, then follow the feed after it."""
    return ChangeHead(cursor=await feed.head(session))
