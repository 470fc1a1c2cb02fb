from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response

from registry_api.auth.deps import LimitedClientDep, PrincipalDep, shown_once
from registry_api.db import SessionDep
from registry_api.enrolments import service
from registry_api.enrolments.schemas import Enrolled, EnrolmentCreate, EnrolmentCreated, EnrolRequest
from registry_api.settings import Settings

router = APIRouter(prefix="/v1", tags=["access"])

Code = Annotated[str, Path(min_length=1, max_length=100, description="the enrolment's one-time code")]

_USED: dict[int | str, dict[str, Any]] = {410: {"description": "the code was used already, or has expired"}}


@router.post(
    "/enrolments",
    status_code=201,
    response_model=EnrolmentCreated,
    responses={
        404: {"description": "no Kampung KB with that id in the caller's scope"},
        409: {"description": "the Kampung KB is not active"},
    },
)
async def create_enrolment(
    data: EnrolmentCreate, request: Request, response: Response, session: SessionDep, principal: PrincipalDep
) -> EnrolmentCreated:
    """A one-time code (valid 24 h) for one phone of a Kampung KB: kecamatan officers and above, in scope."""
    shown_once(response)
    settings: Settings = request.app.state.settings
    code, expires_at = await service.create_enrolment(
        session, principal=principal, kampung_id=data.kampung_id, name=data.name, valid_s=settings.enrolment_valid_s
    )
    qr_url = request.url_for("get_enrolment_qr", code=code).path
    return EnrolmentCreated(code=code, expires_at=expires_at, qr_svg_url=qr_url)


@router.get(
    "/enrolments/{code}/qr.svg",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}, "description": "the QR image"}, **_USED},
)
async def get_enrolment_qr(code: Code, request: Request, session: SessionDep, client: LimitedClientDep) -> Response:
    """The enrolment as a QR image to scan (the code and where to post it); 410 once used or expired."""
    svg = await service.qr_svg(session, code=code, enrol_url=str(request.url_for("enrol")))
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "no-store"})


@router.post("/enrol", response_model=Enrolled, responses={404: {"description": "no such enrolment code"}, **_USED})
async def enrol(
    data: EnrolRequest, request: Request, response: Response, session: SessionDep, client: LimitedClientDep
) -> Enrolled:
    """A phone trades its one-time code for a device key scoped to the Kampung KB (no key needed; 410 when used).

    The key is in this answer only (`Cache-Control: no-store`). If the answer is lost, post the same code with the
    same `device_name` again within 2 minutes of its first use (`REGISTRY_ENROLMENT_RETRY_S`): the answer is a new
    key, and the key made by the first use is revoked, so only the newest key works. After that, with another
    `device_name`, once a key of the phone was used (its answer did arrive) or revoked, the code answers 410: ask
    the officer for a new one. Retries at once leave one key in force, the last one answered."""
    shown_once(response)
    settings: Settings = request.app.state.settings
    key, expires_at, kampung_id = await service.enrol(
        session,
        code=data.code,
        device_name=data.device_name,
        key_days=settings.key_max_days_device,
        retry_s=settings.enrolment_retry_s,
    )
    return Enrolled(key=key, expires_at=expires_at, kampung_id=kampung_id)
