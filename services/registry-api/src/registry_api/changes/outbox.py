"""Writing outbox events, in the transaction of the change that causes them. Only the change pipeline calls this.

- `classify` (key: the Kampung KB id): classify it again from `period` on; written when the classifier could not be
  reached, or by a module import that leaves its classification to a later import (`handover` in the payload, due
  only later: `registry_api.changes.handover`).
- `report` (key: `RefreshRegionChain.key`): refresh that kabupaten's region chain from the period on (the report
  worker refreshes every later computed period with it), up to `through` where the change moves no report after it;
  the payload is a `kampungkb_shared.jobs.RefreshRegionChain`. When one change touches `REBUILD_FROM_KABUPATEN`
  kabupaten or more in a period (a bulk import), the period gets one event instead (key: `{period}`, a
  `RebuildPeriod`): one whole-period rebuild costs about as much as 60 to 100 chain refreshes.
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Set
from typing import Any

from kampungkb_shared.jobs import RebuildPeriod, RefreshRegionChain, ReportJob
from kampungkb_shared.observability import request_id
from kampungkb_shared.periods import format_period

REBUILD_FROM_KABUPATEN = 50

CLASSIFY = "classify"
REPORT = "report"
TOPICS = (CLASSIFY, REPORT)

# The earliest period each Kampung KB is handed over from already: pending hand-over events (`ix_outbox_pending`).
_HANDED_OVER = """
    SELECT (payload->>'kampung_id')::bigint AS kampung_id, min(payload->>'period') AS period FROM outbox
     WHERE topic = 'classify' AND delivered_at IS NULL AND payload ? 'handover'
     GROUP BY 1
"""
_INSERT_CLASSIFY = f"""
    INSERT INTO outbox (topic, key, payload, request_id, available_at)
    SELECT '{CLASSIFY}', e.kampung_id::text,
           jsonb_build_object('kampung_id', e.kampung_id, 'period', to_char(e.period, 'YYYY-MM'))
           || CASE WHEN $3 THEN '{{"handover": true}}'::jsonb ELSE '{{}}'::jsonb END,
           $4, clock_timestamp() + $5 * interval '1 second'
      FROM unnest(CAST($1 AS bigint[]), CAST($2 AS date[])) AS e(kampung_id, period)
"""
_INSERT_REPORTS = f"""
    INSERT INTO outbox (topic, key, payload, request_id, available_at)
    SELECT '{REPORT}', e.key, CAST(e.payload AS jsonb), $3, clock_timestamp() + $4 * interval '1 second'
      FROM unnest(CAST($1 AS text[]), CAST($2 AS text[])) AS e(key, payload)
    RETURNING id
"""
_DUE = "UPDATE outbox SET available_at = clock_timestamp() WHERE id = ANY(CAST($1 AS bigint[]))"


async def add_classify(driver: Any, *, earliest: dict[int, dt.date], handover_s: float | None = None) -> None:
    """One `classify` event per Kampung KB (from its period on), in one statement: the fallback when the classifier
    could not be reached, or (with `handover_s`) a hand-over to a later import, due for the relay only after that long.

    A Kampung KB already handed over from the same period or an earlier one gets no second hand-over event: the
    imports of one month's files leave one event per Kampung KB, not one per file. (The caller holds the Kampung
    KB locked, so no other transaction can take those events until it commits.)"""
    if handover_s is not None and earliest:
        covered = {row["kampung_id"]: row["period"] for row in await driver.fetch(_HANDED_OVER)}
        earliest = {
            kampung_id: period
            for kampung_id, period in earliest.items()
            if (since := covered.get(kampung_id)) is None or since > format_period(period)
        }
    if not earliest:
        return
    ids = sorted(earliest)
    await driver.execute(
        _INSERT_CLASSIFY, ids, [earliest[i] for i in ids], handover_s is not None, request_id.get(), handover_s or 0.0
    )


def report_jobs(changes: Iterable[tuple[dt.date, str]], onward: Set[str] = frozenset()) -> list[tuple[str, ReportJob]]:
    """The report jobs (with their outbox keys) that bring every changed (period, kabupaten) up to date, and every
    computed period after the last one in the `onward` kabupaten.

    A period changed in `REBUILD_FROM_KABUPATEN` kabupaten or more is rebuilt whole; every other kabupaten gets one
    chain refresh from the earliest period it changed in through the last one (or on, in an `onward` kabupaten), not
    one per period: a back-dated write to a Kampung KB with three years behind it is one refresh."""
    rid = request_id.get()
    by_period: dict[dt.date, set[str]] = defaultdict(set)
    for period, kabupaten in changes:
        by_period[period].add(kabupaten)
    jobs: list[tuple[str, ReportJob]] = []
    spans: dict[str, tuple[dt.date, dt.date]] = {}
    for period, kabupaten_codes in sorted(by_period.items()):
        month = format_period(period)
        if len(kabupaten_codes) >= REBUILD_FROM_KABUPATEN:
            jobs.append((month, RebuildPeriod(period=month, request_id=rid)))
            continue
        for code in kabupaten_codes:
            spans[code] = (spans.get(code, (period, period))[0], period)
    for code, (first, last) in sorted(spans.items()):
        through = None if code in onward else format_period(last)
        job = RefreshRegionChain(period=format_period(first), kabupaten_code=code, through=through, request_id=rid)
        jobs.append((job.key(), job))
    return jobs


async def add_reports(
    driver: Any, *, changes: Iterable[tuple[dt.date, str]], onward: Set[str] = frozenset(), due_in_s: float = 0.0
) -> list[int]:
    """The `report` events of `report_jobs(changes, onward)`; returns their ids.

    With `due_in_s`, the relay leaves them alone that long: for a writer that makes them due itself when its work is
    done (`make_due`), and has the relay deliver them anyway if it never gets there."""
    jobs = report_jobs(changes, onward)
    if not jobs:
        return []
    rows = await driver.fetch(
        _INSERT_REPORTS,
        [key for key, _ in jobs],
        [job.model_dump_json() for _, job in jobs],
        request_id.get(),
        due_in_s,
    )
    return [row["id"] for row in rows]


async def make_due(driver: Any, *, ids: list[int]) -> None:
    """The events `ids` due now."""
    await driver.execute(_DUE, ids)
