import datetime as dt
from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Response

from kampungkb_shared.errors import Unprocessable
from kampungkb_shared.modules import KependudukanPayload, KkbpkPayload, ProfilPayload
from kampungkb_shared.periods import parse_period, within_programme
from registry_api.approvals.deps import PERIOD_APPROVED, ClosingDep
from registry_api.auth.deps import PrincipalDep, WriterDep
from registry_api.changes.deps import WriteClassifyingDep
from registry_api.classifications.schemas import ClassificationRead, ClassificationSummary
from registry_api.db import BIGINT_MAX, SessionDep
from registry_api.etags import etag
from registry_api.instants import Instant
from registry_api.kampung.readable import get_readable_kampung
from registry_api.kampung.schemas import KampungId
from registry_api.submissions import kegiatan as kegiatan_service
from registry_api.submissions import service
from registry_api.submissions.schemas import (
    KegiatanCreate,
    KegiatanPage,
    KegiatanRead,
    KegiatanWritten,
    Module,
    ModulePayload,
    PendingClassification,
    PeriodWrite,
    PeriodWritten,
    RevisionRead,
    SubmissionPage,
    SubmissionRead,
    SubmissionWritten,
)

router = APIRouter(prefix="/v1/kampung", tags=["submissions"])

IfMatch = Annotated[str | None, Header(alias="If-Match")]
IfNoneMatch = Annotated[str | None, Header(alias="If-None-Match")]
Prefer = Annotated[
    str | None,
    Header(
        alias="Prefer",
        description="`return=minimal`: the classification as a summary (tier, indices, passed), without explanation "
        "and snapshot",
    ),
]


async def _period(period: Annotated[str, Path(description="the month the data describe, YYYY-MM")]) -> dt.date:
    try:
        return parse_period(period)
    except ValueError as exc:
        raise Unprocessable.field(["path", "period"], str(exc)) from exc


async def _writable_period(day: Annotated[dt.date, Depends(_period)]) -> dt.date:
    try:
        return within_programme(day, month=True)
    except ValueError as exc:
        raise Unprocessable.field(["path", "period"], str(exc)) from exc


PeriodDep = Annotated[dt.date, Depends(_period)]
WritablePeriodDep = Annotated[dt.date, Depends(_writable_period)]

_WRITE_RESPONSES: dict[int | str, dict[str, Any]] = {
    201: {"description": "created (revision 1)", "model": SubmissionWritten},
    **PERIOD_APPROVED,
    412: {"description": "If-Match names another revision (or If-None-Match: * and it exists)"},
    422: {"description": "invalid payload, or a rule across modules broken; `errors[].loc` names the field"},
}


def _classification(
    stored: ClassificationRead | ClassificationSummary | None,
) -> ClassificationRead | ClassificationSummary | PendingClassification:
    return stored if stored is not None else PendingClassification()


def _minimal(prefer: str | None, response: Response) -> bool:
    """Whether `Prefer` asks for `return=minimal` (RFC 7240); if so, says it is applied."""
    wanted = prefer is not None and "return=minimal" in {p.split(";")[0].strip() for p in prefer.split(",")}
    if wanted:
        response.headers["Preference-Applied"] = "return=minimal"
    return wanted


_PUT_DOCS = {
    Module.PROFIL: "Write the profil (organisation, poktan, facilities, ...) of a month; 201 new, 200 replaced.",
    Module.KEPENDUDUKAN: "Write the population figures (PUS, families, ...) of a month; 201 new, 200 replaced.",
    Module.KKBPK: "Write the KKBPK figures (poktan participants, KB users, non-users); 201 new, 200 replaced.",
}


def _put_route(module: Module, payload_model: type[ModulePayload]) -> None:
    """One `PUT /{kampung_id}/{module}/{period}` per module, each with its own payload model in the OpenAPI document."""

    async def put(
        kampung_id: KampungId,
        period: WritablePeriodDep,
        payload: payload_model,  # type: ignore[valid-type]
        session: SessionDep,
        principal: WriterDep,
        classifying: WriteClassifyingDep,
        closing: ClosingDep,
        response: Response,
        if_match: IfMatch = None,
        if_none_match: IfNoneMatch = None,
        prefer: Prefer = None,
    ) -> SubmissionWritten:
        minimal = _minimal(prefer, response)
        written = await service.write_submission(
            session,
            kampung_id=kampung_id,
            module=module,
            period=period,
            payload=payload,
            principal=principal,
            if_match=if_match,
            if_none_match=if_none_match,
            classifying=replace(classifying, explain=not minimal),
            closing=closing,
        )
        read = written.submissions[module]
        response.status_code = 201 if module in written.created else 200
        response.headers["ETag"] = etag(read.revision)
        return SubmissionWritten(**dict(read), classification=_classification(written.classification))

    put.__doc__ = _PUT_DOCS[module]
    router.put(
        f"/{{kampung_id}}/{module.value}/{{period}}",
        response_model=SubmissionWritten,
        responses=_WRITE_RESPONSES,
        name=f"put_{module.value}",
    )(put)


for _module, _payload_model in (
    (Module.PROFIL, ProfilPayload),
    (Module.KEPENDUDUKAN, KependudukanPayload),
    (Module.KKBPK, KkbpkPayload),
):
    _put_route(_module, _payload_model)


@router.put(
    "/{kampung_id}/periods/{period}",
    response_model=PeriodWritten,
    responses={
        **PERIOD_APPROVED,
        412: {"description": "`if_match` names another revision of a module; `current` holds that module as stored"},
        422: {
            "description": "invalid payload, or a rule across modules broken by the set; `errors[].loc` names the "
            "module's field, e.g. `body.kkbpk.kb_users`"
        },
    },
)
async def put_period(
    kampung_id: KampungId,
    period: WritablePeriodDep,
    data: PeriodWrite,
    session: SessionDep,
    principal: WriterDep,
    classifying: WriteClassifyingDep,
    closing: ClosingDep,
    response: Response,
    prefer: Prefer = None,
) -> PeriodWritten:
    """Write several modules of a month in one transaction, the rules across modules checked on the set together."""
    minimal = _minimal(prefer, response)
    written = await service.write_submissions(
        session,
        kampung_id=kampung_id,
        period=period,
        payloads=data.payloads(),
        principal=principal,
        if_match=data.if_match,
        if_none_match={},
        classifying=replace(classifying, explain=not minimal),
        closing=closing,
    )
    return PeriodWritten(
        kampung_id=kampung_id,
        period=f"{period:%Y-%m}",
        profil=written.submissions.get(Module.PROFIL),
        kependudukan=written.submissions.get(Module.KEPENDUDUKAN),
        kkbpk=written.submissions.get(Module.KKBPK),
        classification=_classification(written.classification),
    )


@router.get("/{kampung_id}/submissions", response_model=SubmissionPage)
async def list_submissions(
    kampung_id: KampungId,
    session: SessionDep,
    principal: PrincipalDep,
    updated_since: Annotated[Instant | None, Query(description="only those written after this instant")] = None,
    module: Module | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    cursor: str | None = None,
) -> SubmissionPage:
    """The Kampung KB's submissions changed since an instant (current state of each).

    A write is stamped when its transaction began, so one that committed late can carry an instant earlier than
    rows already read: to follow changes without missing one, follow the change feed (`GET /v1/changes`) from the
    cursor of `GET /v1/kampung/{id}/in-force`."""
    await get_readable_kampung(session, principal=principal, kampung_id=kampung_id)
    return await service.list_changed(
        session, kampung_id=kampung_id, updated_since=updated_since, module=module, limit=limit, cursor=cursor
    )


@router.post(
    "/{kampung_id}/kegiatan",
    status_code=201,
    response_model=KegiatanWritten,
    responses={
        200: {
            "description": "a replay: the activity first recorded with this Idempotency-Key",
            "model": KegiatanWritten,
        },
        **PERIOD_APPROVED,
        422: {"description": "invalid activity, or the Idempotency-Key was used for another one"},
    },
)
async def create_kegiatan(
    kampung_id: KampungId,
    data: KegiatanCreate,
    session: SessionDep,
    principal: WriterDep,
    classifying: WriteClassifyingDep,
    closing: ClosingDep,
    response: Response,
    prefer: Prefer = None,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=200,
            description="A key of the client's choosing per activity (a UUID): a retry with it answers the activity "
            "already recorded (200) instead of recording a second one",
        ),
    ] = None,
) -> KegiatanWritten:
    """Record an activity; its partners count from its month on, so that month and later ones are reclassified."""
    minimal = _minimal(prefer, response)
    recorded = await kegiatan_service.create_kegiatan(
        session,
        kampung_id=kampung_id,
        data=data,
        principal=principal,
        classifying=replace(classifying, explain=not minimal),
        closing=closing,
        idempotency_key=idempotency_key,
    )
    kegiatan = recorded.kegiatan
    response.status_code = 201 if recorded.created else 200
    response.headers["Location"] = f"/v1/kampung/{kampung_id}/kegiatan/{kegiatan.id}"
    read = KegiatanRead.model_validate(kegiatan)
    return KegiatanWritten(**read.model_dump(), classification=_classification(recorded.classification))


@router.get("/{kampung_id}/kegiatan", response_model=KegiatanPage)
async def list_kegiatan(
    kampung_id: KampungId,
    session: SessionDep,
    principal: PrincipalDep,
    date_from: Annotated[dt.date | None, Query(alias="from")] = None,
    date_to: Annotated[dt.date | None, Query(alias="to")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: str | None = None,
) -> KegiatanPage:
    """Activities between two dates (both included), by date; `next_cursor` pages on."""
    await get_readable_kampung(session, principal=principal, kampung_id=kampung_id)
    return await kegiatan_service.list_kegiatan(
        session, kampung_id=kampung_id, date_from=date_from, date_to=date_to, limit=limit, cursor=cursor
    )


@router.get("/{kampung_id}/kegiatan/{kegiatan_id}", response_model=KegiatanRead)
async def get_kegiatan(
    kampung_id: KampungId,
    kegiatan_id: Annotated[int, Path(ge=1, le=BIGINT_MAX, description="the activity's id")],
    session: SessionDep,
    principal: PrincipalDep,
) -> KegiatanRead:
    """One activity of the Kampung KB (where `POST .../kegiatan` answered it is, in `Location`)."""
    await get_readable_kampung(session, principal=principal, kampung_id=kampung_id)
    return await kegiatan_service.get_kegiatan(session, kampung_id=kampung_id, kegiatan_id=kegiatan_id)


@router.get("/{kampung_id}/{module}/{period}", response_model=SubmissionRead)
async def get_submission(
    kampung_id: KampungId,
    module: Module,
    period: PeriodDep,
    session: SessionDep,
    principal: PrincipalDep,
    response: Response,
    exact: Annotated[bool, Query(description="only a submission of exactly this period")] = False,
) -> SubmissionRead:
    """The submission in force for the period (the newest at or before it); its `period` says which one."""
    await get_readable_kampung(session, principal=principal, kampung_id=kampung_id)
    submission = await service.get_submission(session, kampung_id=kampung_id, module=module, period=period, exact=exact)
    response.headers["ETag"] = service.in_force_etag(submission, period)
    return service.to_read(submission)


@router.get("/{kampung_id}/{module}/{period}/revisions", response_model=list[RevisionRead])
async def list_revisions(
    kampung_id: KampungId, module: Module, period: PeriodDep, session: SessionDep, principal: PrincipalDep
) -> list[RevisionRead]:
    """Every revision of the submission of exactly this period, newest first, with who wrote it and when."""
    await get_readable_kampung(session, principal=principal, kampung_id=kampung_id)
    revisions = await service.list_revisions(session, kampung_id=kampung_id, module=module, period=period)
    return [
        RevisionRead(revision=r.revision, payload=r.payload, submitted_at=r.submitted_at, submitted_by=r.submitted_by)
        for r in revisions
    ]
