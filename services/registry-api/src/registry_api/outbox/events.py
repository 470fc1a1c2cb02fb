"""Writing outbox events, in the transaction of the change that causes them.

- `classify` (key: the Kampung KB id): classify it again from `period` on; written when the write path could
  not reach the classifier.
- `report` (key: `{period}:{kabupaten_code}`): refresh that kabupaten's region chain for the period; the payload
  is a `kampungkb_shared.jobs.RefreshRegionChain`.
"""

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncSession

from kampungkb_shared.jobs import RefreshRegionChain
from kampungkb_shared.observability import request_id
from kampungkb_shared.periods import format_period
from registry_api.outbox.models import OutboxEvent

CLASSIFY = "classify"
REPORT = "report"
TOPICS = (CLASSIFY, REPORT)


async def add_classify(session: AsyncSession, *, kampung_id: int, period: dt.date) -> None:
    payload = {"kampung_id": kampung_id, "period": format_period(period)}
    await session.execute(
        insert(OutboxEvent).values(topic=CLASSIFY, key=str(kampung_id), payload=payload, request_id=request_id.get())
    )


async def add_classify_many(session: AsyncSession, *, earliest: dict[int, dt.date]) -> None:
    """One `classify` event per Kampung KB (from its period on), in one statement: a bulk import's fallback."""
    if not earliest:
        return
    ids = sorted(earliest)
    await session.execute(
        text("""
            INSERT INTO outbox (topic, key, payload, request_id)
            SELECT :topic, e.kampung_id::text,
                   jsonb_build_object('kampung_id', e.kampung_id, 'period', to_char(e.period, 'YYYY-MM')), :rid
              FROM unnest(CAST(:ids AS bigint[]), CAST(:periods AS date[])) AS e(kampung_id, period)
        """),
        {"topic": CLASSIFY, "ids": ids, "periods": [earliest[i] for i in ids], "rid": request_id.get()},
    )


async def add_reports(session: AsyncSession, *, changes: Iterable[tuple[dt.date, str]]) -> list[int]:
    """One `report` event per (period, kabupaten code); returns their ids."""
    rid = request_id.get()
    rows = []
    for period, kabupaten in sorted(set(changes)):
        job = RefreshRegionChain(period=format_period(period), kabupaten_code=kabupaten, request_id=rid)
        rows.append(
            {"topic": REPORT, "key": f"{job.period}:{kabupaten}", "payload": job.model_dump(), "request_id": rid}
        )
    if not rows:
        return []
    result = await session.execute(insert(OutboxEvent).returning(OutboxEvent.id), rows)
    return list(result.scalars())
