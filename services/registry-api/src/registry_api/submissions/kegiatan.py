"""Activities (kegiatan): dated, many per month. A new one can change the partner set, so it reclassifies."""

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from kampungkb_shared.closing import Closing
from kampungkb_shared.errors import NotFound, Unprocessable
from registry_api import cursors
from registry_api.approvals.service import refuse_approved
from registry_api.auth.service import Principal
from registry_api.changes import pipeline
from registry_api.classifications.schemas import ClassificationRead, ClassificationSummary
from registry_api.classifications.service import stored_classification
from registry_api.submissions.models import Kegiatan, KegiatanIdempotency
from registry_api.submissions.schemas import KegiatanCreate, KegiatanPage, KegiatanRead
from registry_api.submissions.service import classification_written, lock_kampung
from registry_api.submissions.store import canonical_json, content_hash


@dataclass
class Recorded:
    """An activity's answer: the activity, whether this request created it, and its month's classification under the
    primary rule set (its summary when the write asked for no explanation; None: pending)."""

    kegiatan: Kegiatan
    created: bool
    classification: ClassificationRead | ClassificationSummary | None


async def create_kegiatan(
    session: AsyncSession,
    *,
    kampung_id: int,
    data: KegiatanCreate,
    principal: Principal,
    classifying: pipeline.Classifying,
    closing: Closing,
    idempotency_key: str | None,
) -> Recorded:
    """Store the activity and reclassify its month and every later classified period. With an `Idempotency-Key` the
    principal used before for the same request, the activity then stored is answered instead (422 for another
    request). An activity dated in a month the principal may no longer write into is refused as a module's write
    into it is (409 `period-approved`): it would change that month's partners, and so its classification."""
    kampung = await lock_kampung(session, kampung_id, principal)
    month = data.date.replace(day=1)
    request_hash = content_hash(canonical_json({"kampung_id": kampung_id, **data.model_dump(mode="json")}))
    if idempotency_key is not None:
        # Under the Kampung KB's lock: a concurrent replay to it waits here until the first one has committed.
        seen = await session.get(KegiatanIdempotency, (principal.actor, idempotency_key))
        if seen is not None:
            if seen.request_hash != request_hash:
                msg = "this key was used for another activity: send a new key for a new activity"
                raise Unprocessable.field(["header", "Idempotency-Key"], msg)
            stored = await session.get(Kegiatan, seen.kegiatan_id)
            assert stored is not None
            stored_month = stored.date.replace(day=1)
            classification = await stored_classification(
                session,
                classifier=classifying.classifier,
                kampung_id=kampung_id,
                period=stored_month,
                ruleset=classifying.primary,
                explanation=classifying.explain,
            )
            return Recorded(stored, created=False, classification=classification)
    await refuse_approved(session, kampung_ids=[kampung.id], periods=[month], principal=principal, closing=closing)
    kegiatan = Kegiatan(kampung_id=kampung_id, **data.model_dump(mode="json", exclude={"date"}), date=data.date)
    kegiatan.created_by = principal.actor
    session.add(kegiatan)
    await session.flush()
    await session.refresh(kegiatan)
    if idempotency_key is not None:
        values = {"actor": principal.actor, "key": idempotency_key, "request_hash": request_hash}
        kept = await session.scalar(
            pg_insert(KegiatanIdempotency)
            .values(**values, kegiatan_id=kegiatan.id)
            .on_conflict_do_nothing()
            .returning(KegiatanIdempotency.kegiatan_id)
        )
        if kept is None:
            # The same key sent at once to another Kampung KB (whose lock this one does not wait for).
            msg = "this key is being used for another activity: send a new key for a new activity"
            raise Unprocessable.field(["header", "Idempotency-Key"], msg)
    change = pipeline.Change(kabupaten={kampung.id: kampung.kabupaten_code}, written_at={kampung.id: month})
    recorded = await pipeline.record(session, change, classifying=classifying)
    answered = await classification_written(session, recorded, kampung_id=kampung_id, period=month)
    return Recorded(kegiatan, created=True, classification=answered)


async def get_kegiatan(session: AsyncSession, *, kampung_id: int, kegiatan_id: int) -> KegiatanRead:
    """One activity of the Kampung KB (404 for an id of another's)."""
    kegiatan = await session.get(Kegiatan, kegiatan_id)
    if kegiatan is None or kegiatan.kampung_id != kampung_id:
        raise NotFound(f"Kampung KB {kampung_id} has no activity {kegiatan_id}")
    return KegiatanRead.model_validate(kegiatan)


async def list_kegiatan(
    session: AsyncSession,
    *,
    kampung_id: int,
    date_from: dt.date | None,
    date_to: dt.date | None,
    limit: int,
    cursor: str | None,
) -> KegiatanPage:
    """Activities from `date_from` to `date_to` (both included), by date; `next_cursor` pages on."""
    query = select(Kegiatan).where(Kegiatan.kampung_id == kampung_id)
    if date_from is not None:
        query = query.where(Kegiatan.date >= date_from)
    if date_to is not None:
        query = query.where(Kegiatan.date <= date_to)
    if cursor:
        query = query.where(tuple_(Kegiatan.date, Kegiatan.id) > tuple_(*cursors.decode(cursor, dt.date.fromisoformat)))
    rows = list(await session.scalars(query.order_by(Kegiatan.date, Kegiatan.id).limit(limit + 1)))
    page = rows[:limit]
    next_cursor = cursors.encode(page[-1].date, page[-1].id) if len(rows) > limit else None
    return KegiatanPage(items=[KegiatanRead.model_validate(k) for k in page], next_cursor=next_cursor)
