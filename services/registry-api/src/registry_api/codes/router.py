from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response

from kampungkb_shared.classification import RuleSetInfo
from kampungkb_shared.code_labels import CODE_LISTS
from registry_api.auth.deps import limited_client
from registry_api.codes import service
from registry_api.codes.rulesets import RulesetCatalogue
from registry_api.codes.schemas import CodeListRead, CodeListsRead

# Read without a key, so limited as every read without one is: by the client's address.
router = APIRouter(prefix="/v1", dependencies=[Depends(limited_client)])

ListName = Annotated[
    str,
    Path(
        alias="list",
        description="the list's name",
        json_schema_extra={"enum": list(CODE_LISTS)},
        examples=["contraception"],
    ),
]


def _json(body: bytes, tag: str) -> Response:
    return Response(body, media_type="application/json", headers={"ETag": tag, "Cache-Control": "no-cache"})


@router.get("/codes", response_model=CodeListsRead, tags=["codes"])
async def list_code_lists() -> Response:
    """Every code list with Indonesian and English labels; `ETag`, so that a client asks again for nothing."""
    return _json(*service.all_lists())


@router.get("/codes/{list}", response_model=CodeListRead, tags=["codes"])
async def get_code_list(name: ListName) -> Response:
    """One code list with Indonesian and English labels; `ETag`."""
    return _json(*service.one_list(name))


_UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"description": "The classifier is unreachable and no list is cached yet"}
}


@router.get("/rulesets", response_model=list[RuleSetInfo], tags=["classifications"], responses=_UNAVAILABLE)
async def list_rulesets(request: Request) -> list[RuleSetInfo]:
    """The classifier's rule sets (id, title, content hash, default), kept by the registry for a minute."""
    catalogue: RulesetCatalogue = request.app.state.rulesets
    return await catalogue.rulesets()
