"""Activities (kegiatan): dated, many per month. A new one can change the partner set, so it reclassifies."""

import datetime as dt

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from registry_api import cursors
from registry_api.auth.service import Principal
from registry_api.changes import pipeline
from registry_api.classifications.schemas import ClassificationRead
from registry_api.submissions.models import Kegiatan
from registry_api.submissions.schemas import KegiatanCreate, KegiatanPage, KegiatanRead
from registry_api.submissions.service import classification_written, lock_kampung


async def create_kegiatan(
    session: AsyncSession,
    *,
    kampung_id: int,
    data: KegiatanCreate,
    principal: Principal,
    classifying: pipeline.Classifying,
) -> tuple[Kegiatan, ClassificationRead | None]:
    """Store the activity and reclassify its month and every later classified period; returns it with its month's
    classification (None: pending)."""
    kampung = await lock_kampung(session, kampung_id, principal)
    kegiatan = Kegiatan(kampung_id=kampung_id, **data.model_dump(mode="json", exclude={"date"}), date=data.date)
    kegiatan.created_by = principal.actor
    session.add(kegiatan)
    await session.flush()
    await session.refresh(kegiatan)
    month = data.date.replace(day=1)
    change = pipeline.Change(kabupaten={kampung.id: kampung.kabupaten_code}, written_from={kampung.id: month})
    recorded = await pipeline.record(session, change, classifying=classifying)
    classification = await classification_written(session, recorded, kampung_id=kampung_id, period=month)
    return kegiatan, classification


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
