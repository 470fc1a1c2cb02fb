"""Activities (kegiatan): dated, many per month. A new one can change the partner set, so it reclassifies."""

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from registry_api import cursors
from registry_api.auth.service import Principal
from registry_api.classifications.client import ClassifierClient
from registry_api.classifications.service import WriteOutcome, classify_after_write
from registry_api.submissions.models import Kegiatan
from registry_api.submissions.schemas import KegiatanCreate, KegiatanPage, KegiatanRead
from registry_api.submissions.service import lock_kampung


async def create_kegiatan(
    session: AsyncSession,
    *,
    kampung_id: int,
    data: KegiatanCreate,
    principal: Principal,
    classifier: ClassifierClient,
    rulesets: Sequence[str],
    budget_s: float,
) -> tuple[Kegiatan, WriteOutcome]:
    """Store the activity and reclassify its month and every later classified period."""
    kampung = await lock_kampung(session, kampung_id, principal)
    kegiatan = Kegiatan(kampung_id=kampung_id, **data.model_dump(mode="json", exclude={"date"}), date=data.date)
    kegiatan.created_by = principal.actor
    session.add(kegiatan)
    await session.flush()
    await session.refresh(kegiatan)
    outcome = await classify_after_write(
        session,
        classifier=classifier,
        rulesets=rulesets,
        budget_s=budget_s,
        kampung_id=kampung.id,
        kabupaten_code=kampung.kabupaten_code,
        period=data.date.replace(day=1),
    )
    return kegiatan, outcome


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
