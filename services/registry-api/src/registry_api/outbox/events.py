"""Writing outbox events, in the transaction of the change that causes them.

- `classify` (key: the Kampung KB id): classify it again from `period` on; written when the write path could
  not reach the classifier, or by a module import that leaves its classification to a later import
  (`handover` in the payload, due only later: `registry_api.imports.handover`).
- `report` (key: `{period}:{kabupaten_code}`): refresh that kabupaten's region chain for the period; the payload
  is a `kampungkb_shared.jobs.RefreshRegionChain`. When one change touches `REBUILD_FROM_KABUPATEN` kabupaten or
  more in a period (a bulk import), the period gets one event instead (key: `{period}`, a `RebuildPeriod`): one
  whole-period rebuild costs about as much as 60 to 100 chain refreshes.
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncSession

from kampungkb_shared.jobs import RebuildPeriod, RefreshRegionChain, ReportJob
from kampungkb_shared.observability import request_id
from kampungkb_shared.periods import format_period
from registry_api.db import session_driver
from registry_api.outbox.models import OutboxEvent

REBUILD_FROM_KABUPATEN = 50

CLASSIFY = "classify"
REPORT = "report"
TOPICS = (CLASSIFY, REPORT)


async def add_classify(session: AsyncSession, *, kampung_id: int, period: dt.date) -> None:
    payload = {"kampung_id": kampung_id, "period": format_period(period)}
    await session.execute(
        insert(OutboxEvent).values(topic=CLASSIFY, key=str(kampung_id), payload=payload, request_id=request_id.get())
    )


# The earliest period each Kampung KB is handed over from already: pending hand-over events (`ix_outbox_pending`).
_HANDED_OVER = """
    SELECT (payload->>'kampung_id')::bigint AS kampung_id, min(payload->>'period') AS period FROM outbox
     WHERE topic = 'classify' AND delivered_at IS NULL AND payload ? 'handover'
     GROUP BY 1
"""


async def add_classify_many(
    session: AsyncSession, *, earliest: dict[int, dt.date], handover_s: float | None = None
) -> None:
    """One `classify` event per Kampung KB (from its period on), in one statement: a bulk import's fallback, or
    (with `handover_s`) its hand-over to a later import, due for the relay only after that many seconds.

    A Kampung KB already handed over from the same period or an earlier one gets no second hand-over event: the
    imports of one month's files leave one event per Kampung KB, not one per file. (The caller holds the Kampung
    KB locked, so no other transaction can take those events until it commits.)"""
    if handover_s is not None and earliest:
        rows = await (await session_driver(session)).fetch(_HANDED_OVER)
        covered = {row["kampung_id"]: row["period"] for row in rows}
        earliest = {
            kampung_id: period
            for kampung_id, period in earliest.items()
            if (since := covered.get(kampung_id)) is None or since > format_period(period)
        }
    if not earliest:
        return
    ids = sorted(earliest)
    await session.execute(
        text("""
            INSERT INTO outbox (topic, key, payload, request_id, available_at)
            SELECT :topic, e.kampung_id::text,
                   jsonb_build_object('kampung_id', e.kampung_id, 'period', to_char(e.period, 'YYYY-MM'))
                   || CASE WHEN :handover THEN '{"handover": true}'::jsonb ELSE '{}'::jsonb END,
                   :rid, clock_timestamp() + :delay * interval '1 second'
              FROM unnest(CAST(:ids AS bigint[]), CAST(:periods AS date[])) AS e(kampung_id, period)
        """),
        {
            "topic": CLASSIFY,
            "ids": ids,
            "periods": [earliest[i] for i in ids],
            "rid": request_id.get(),
            "handover": handover_s is not None,
            "delay": handover_s or 0.0,
        },
    )


_INSERT_REPORTS = f"""
    INSERT INTO outbox (topic, key, payload, request_id)
    SELECT '{REPORT}', e.key, CAST(e.payload AS jsonb), $3
      FROM unnest(CAST($1 AS text[]), CAST($2 AS text[])) AS e(key, payload)
    RETURNING id
"""


async def add_reports(
    session: AsyncSession, *, changes: Iterable[tuple[dt.date, str]], due_in_s: float = 0.0
) -> list[int]:
    """One `report` event per (period, kabupaten code), or per period when it has many; returns their ids.

    With `due_in_s`, the relay leaves them alone that long: for a writer that makes them due itself when its work is
    done (`make_due`), and has the relay deliver them anyway if it never gets there."""
    rid = request_id.get()
    by_period: dict[dt.date, set[str]] = defaultdict(set)
    for period, kabupaten in changes:
        by_period[period].add(kabupaten)
    jobs: list[tuple[str, ReportJob]] = []
    for period, kabupaten_codes in sorted(by_period.items()):
        month = format_period(period)
        if len(kabupaten_codes) >= REBUILD_FROM_KABUPATEN:
            jobs.append((month, RebuildPeriod(period=month, request_id=rid)))
        else:
            jobs += [
                (f"{month}:{code}", RefreshRegionChain(period=month, kabupaten_code=code, request_id=rid))
                for code in sorted(kabupaten_codes)
            ]
    if not jobs:
        return []
    driver = await session_driver(session)
    rows = await driver.fetch(
        _INSERT_REPORTS, [key for key, _ in jobs], [job.model_dump_json() for _, job in jobs], rid
    )
    ids = [row["id"] for row in rows]
    if due_in_s:
        await make_due(session, ids=ids, in_s=due_in_s)
    return ids


_DUE = text("""
    UPDATE outbox SET available_at = clock_timestamp() + :delay * interval '1 second'
     WHERE id = ANY(CAST(:ids AS bigint[]))
""")


async def make_due(session: AsyncSession, *, ids: list[int], in_s: float = 0.0) -> None:
    """The events `ids` due now (or in `in_s`)."""
    await session.execute(_DUE, {"ids": ids, "delay": in_s})
