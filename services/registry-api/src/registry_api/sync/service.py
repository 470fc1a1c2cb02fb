"""A client's first pull: a Kampung KB with everything in force, and the change-feed cursor to follow after it."""

import contextlib
import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kampungkb_shared.errors import NotFound
from kampungkb_shared.periods import add_months
from registry_api.auth.service import Principal
from registry_api.changes import feed
from registry_api.classifications.client import ClassifierClient, ClassifierUnavailable
from registry_api.classifications.explanations import explain
from registry_api.classifications.schemas import ClassificationRead, ClassificationSummary
from registry_api.classifications.service import classification_as_of
from registry_api.kampung.readable import get_readable_kampung
from registry_api.kampung.schemas import KampungRead
from registry_api.submissions import service as submissions
from registry_api.submissions.models import Kegiatan
from registry_api.submissions.schemas import KegiatanRead, Module, SubmissionRead
from registry_api.sync.schemas import InForce

_KEGIATAN_MONTHS = 12


async def in_force(
    session: AsyncSession,
    *,
    principal: Principal,
    classifier: ClassifierClient,
    kampung_id: int,
    period: dt.date,
    ruleset: str,
) -> InForce:
    # The cursor first: whatever commits after it is in the feed after it, whether or not the reads below see it.
    cursor = await feed.head(session)
    kampung = await get_readable_kampung(session, principal=principal, kampung_id=kampung_id)
    modules = await submissions.in_force(session, kampung_id=kampung_id, period=period)
    month_end = add_months(period, 1)
    activities = await session.scalars(
        select(Kegiatan)
        .where(
            Kegiatan.kampung_id == kampung_id,
            Kegiatan.date >= add_months(period, 1 - _KEGIATAN_MONTHS),
            Kegiatan.date < month_end,
        )
        .order_by(Kegiatan.date, Kegiatan.id)
    )
    classification: ClassificationRead | ClassificationSummary | None = None
    with contextlib.suppress(NotFound):
        row = await classification_as_of(session, kampung_id=kampung_id, period=period, ruleset=ruleset)
        try:
            [classification] = await explain(session, classifier=classifier, rows=[row])
        except ClassifierUnavailable:  # the pull goes on: its figures without the explanation, derived later
            classification = ClassificationSummary.stored(row)

    def read(module: Module) -> SubmissionRead | None:
        found = modules.get(module)
        return submissions.to_read(found) if found is not None else None

    return InForce(
        cursor=cursor,
        period=f"{period:%Y-%m}",
        kampung=KampungRead.model_validate(kampung),
        profil=read(Module.PROFIL),
        kependudukan=read(Module.KEPENDUDUKAN),
        kkbpk=read(Module.KKBPK),
        kegiatan=[KegiatanRead.model_validate(k) for k in activities],
        classification=classification,
    )
