"""Writing outbox events, in the transaction of the change that causes them. The change pipeline calls this, and
the partner-window sweep (`changes/partner_windows.py`) for the classifications that the passing of time owes,
which no write causes.

- `classify` (key: the Kampung KB id): classify it again from `period` on; written when the classifier could not be
  reached, or by a module import that leaves its classification to a later import (`handover` in the payload, due
  only later: `registry_api.changes.handover`).
- `report` (key: `RefreshRegionChain.key`): refresh that kabupaten's region chain from the period on (the report
  worker refreshes every later computed period with it), up to `through` where the change moves no report after it;
  the payload is a `kampungkb_shared.jobs.RefreshRegionChain`. A period that `REBUILD_FROM_KABUPATEN` kabupaten or
  more must refresh (a bulk import) is rebuilt whole instead (key: `RebuildPeriod.key`, a `RebuildPeriod`, through
  the periods after it that need it too): one whole-period rebuild costs about as much as 60 to 100 chain refreshes.
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Set
from typing import Any

from kampungkb_shared.jobs import RebuildPeriod, RefreshRegionChain, ReportJob
from kampungkb_shared.observability import request_id
from kampungkb_shared.periods import add_months, format_period
from registry_api.changes.models import PENDING_HANDOVER

REBUILD_FROM_KABUPATEN = 50

CLASSIFY = "classify"
REPORT = "report"
TOPICS = (CLASSIFY, REPORT)

# A hand-over (`$3`) leaves out the Kampung KB handed over already from the same period or an earlier one. Their
# earliest periods are looked up in one JSON object, built once (`ix_outbox_pending`), rather than joined: the events
# were written moments ago, before any statistics, and a join planned on "one row" is a quadratic nested loop; nor are
# they fetched into a map of the writer's (a national file's worth of rows in its memory).
_INSERT_CLASSIFY = f"""
    WITH covered AS (
        SELECT coalesce(jsonb_object_agg(kampung_id, period), '{{}}') AS since
          FROM (SELECT payload->>'kampung_id' AS kampung_id, min(payload->>'period') AS period FROM outbox
                 WHERE $3 AND {PENDING_HANDOVER}
                 GROUP BY 1) AS p
    )
    INSERT INTO outbox (topic, key, payload, request_id, available_at)
    SELECT '{CLASSIFY}', e.kampung_id::text,
           jsonb_build_object('kampung_id', e.kampung_id, 'period', to_char(e.period, 'YYYY-MM'))
           || CASE WHEN $3 THEN '{{"handover": true}}'::jsonb ELSE '{{}}'::jsonb END,
           $4, clock_timestamp() + $5 * interval '1 second'
      FROM unnest(CAST($1 AS bigint[]), CAST($2 AS date[])) AS e(kampung_id, period) CROSS JOIN covered c
     WHERE coalesce(c.since ->> e.kampung_id::text > to_char(e.period, 'YYYY-MM'), true)
     ORDER BY e.kampung_id
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
    if not earliest:
        return
    ids = list(earliest)
    await driver.execute(
        _INSERT_CLASSIFY, ids, [earliest[i] for i in ids], handover_s is not None, request_id.get(), handover_s or 0.0
    )


def report_jobs(changes: Iterable[tuple[dt.date, str]], onward: Set[str] = frozenset()) -> list[tuple[str, ReportJob]]:
    """The report jobs (with their outbox keys) that bring every changed (period, kabupaten) up to date, the periods
    between a kabupaten's first and last, and every computed period after its last in the `onward` kabupaten.

    A period `REBUILD_FROM_KABUPATEN` kabupaten or more must refresh is rebuilt whole: one job from each such period
    that a change names, through the rebuilt periods after it that none names (or on, when that many kabupaten go
    on). Every other kabupaten gets one chain refresh over what no rebuild covers, not one per period: a back-dated
    write to a Kampung KB with three years behind it is one refresh. A refresh starts in a period its kabupaten
    changed, since a chain refresh computes its first period if no report did yet."""
    rid = request_id.get()
    changed: dict[str, set[dt.date]] = defaultdict(set)
    for period, kabupaten in changes:
        changed[kabupaten].add(period)
    if not changed:
        return []
    named = set().union(*changed.values())
    last = max(named)
    months = [add_months(min(named), n) for n in range(_months_apart(min(named), last) + 1)]
    spans = {code: (min(periods), None if code in onward else max(periods)) for code, periods in changed.items()}
    rebuilt = {
        month for month in months if sum(_covers(span, month) for span in spans.values()) >= REBUILD_FROM_KABUPATEN
    }
    rebuilt_on = sum(span[1] is None for span in spans.values()) >= REBUILD_FROM_KABUPATEN
    rebuilds: list[RebuildPeriod] = []
    for month in months:
        if month in named and month in rebuilt:
            rebuilds.append(RebuildPeriod(period=format_period(month), through=format_period(month), request_id=rid))
        elif month in rebuilt:  # between two changed periods: some change's reports are there (the first is named)
            rebuilds[-1] = rebuilds[-1].model_copy(update={"through": format_period(month)})
    if rebuilt_on:  # `last` is rebuilt too: every onward span covers it
        rebuilds[-1] = rebuilds[-1].model_copy(update={"through": None})
    jobs: list[tuple[str, ReportJob]] = [(job.key(), job) for job in rebuilds]
    for code, span in sorted(spans.items()):
        left = [month for month in months if _covers(span, month) and month not in rebuilt]
        goes_on = span[1] is None and not rebuilt_on
        if not left and not goes_on:
            continue
        begin = left[0] if left else last
        first = max(period for period in changed[code] if period <= begin)
        through = None if goes_on else format_period(left[-1])
        job = RefreshRegionChain(period=format_period(first), kabupaten_code=code, through=through, request_id=rid)
        jobs.append((job.key(), job))
    return jobs


def _covers(span: tuple[dt.date, dt.date | None], month: dt.date) -> bool:
    """Whether a kabupaten's span of reports to refresh (its last period none: on) holds the month."""
    return span[0] <= month and (span[1] is None or month <= span[1])


def _months_apart(first: dt.date, last: dt.date) -> int:
    return (last.year - first.year) * 12 + last.month - first.month


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
