"""The change pipeline: every change to a Kampung KB goes through here, inside the writer's transaction.

A writer (a `PUT`, a multi-module write, an activity, a registration or its change, an import's merge, the relay
catching up on classifications owed) first `lock`s the Kampung KB it writes to, writes, and then hands `record` a
`Change`: which Kampung KB changed, at which period their data were written (`written_at`) or from which period on
(`written_from`), from which their classification is owed (`owed_from`), and from which month their being counted
changed (`recount_from`: a registration, a deactivation, a new `formed_on`). `record` does all that follows: it
classifies (the only caller of the classification engine) or hands the classification over, keeps the tier on the
profile (bumping its version and `updated_at`, so the change is seen by ETags and `updated_since`), and writes every
outbox event (the only writer). The change feed needs nothing from it: statement triggers record every row written
(`changes.models.ChangeLog`).

Which reports a change moves: a period's report counts each Kampung KB's modules in force, the tier of its newest
classification and the one before it, and whether (and when) it submitted for exactly that period. So a snapshot
that moved at a period (`Reclassified.moved`: the modules in force, or the activities, differ from the ones its
classification saw) moves the reports from that period up to the Kampung KB's next classified period, where the tier
before it is read (or every later report when there is none); a submission written moves its own period's report.
A back-dated correction to a month the next month's submissions supersede refreshes two months, not the 36 after it.
"""

import datetime as dt
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kampungkb_shared.periods import current_period, parse_period
from registry_api.changes import outbox
from registry_api.classifications.client import ClassifierClient
from registry_api.classifications.service import Answer, Reclassified, reclassify
from registry_api.db import GENERIC_PLANS, owe_after_commit, session_driver, session_fetch

REPORT_EVENTS = "report_events"
"""What a request's commit owes delivery for (`db.owe_after_commit`): the report events it wrote."""

_LOCK = """
    SELECT k.id, k.desa_code, k.kabupaten_code{plans}
      FROM kampung k JOIN unnest(CAST($1 AS bigint[])) AS p(id) ON p.id = k.id
     ORDER BY k.id FOR {mode} OF k{skip}
"""
_LOCKS = {
    (shared, skip, generic): _LOCK.format(
        mode="SHARE" if shared else "NO KEY UPDATE",
        skip=" SKIP LOCKED" if skip else "",
        plans=f", {GENERIC_PLANS}" if generic else "",
    )
    for shared in (False, True)
    for skip in (False, True)
    for generic in (False, True)
}
_LOCK_MANY = {shared: f"SELECT count(*) FROM ({_LOCKS[shared, False, False]}) AS locked" for shared in (False, True)}

# The tier a profile shows, with a new version: a client holding the old ETag or the old `updated_at` sees it changed.
_SET_TIER = """
    UPDATE kampung k SET tier = u.tier, version = k.version + 1, updated_at = clock_timestamp()
      FROM unnest(CAST($1 AS bigint[]), CAST($2 AS text[])) AS u(id, tier)
     WHERE k.id = u.id AND k.tier IS DISTINCT FROM u.tier
"""

# A Kampung KB counts in the reports of every period from its formation on: the periods computed since the month a
# count changed from, or the current month (`$3`, `periods.current_period`) where none is computed yet (so its report
# appears).
_RECOUNTED_PERIODS = """
    SELECT c.kampung_id, coalesce(p.period, CAST($3 AS date)) AS period
      FROM unnest(CAST($1 AS bigint[]), CAST($2 AS date[])) AS c(kampung_id, since)
      LEFT JOIN (SELECT DISTINCT period FROM report_period) AS p ON p.period >= c.since
"""


@dataclass(frozen=True, slots=True)
class Locked:
    """A Kampung KB locked for this transaction's writes: what the write paths need of it."""

    id: int
    desa_code: str
    kabupaten_code: str


async def lock(
    session: AsyncSession,
    ids: Sequence[int],
    *,
    skip_locked: bool = False,
    shared: bool = False,
    generic_plans: bool = False,
) -> dict[int, Locked]:
    """Lock the Kampung KB rows (`FOR NO KEY UPDATE`, in id order) so that writes to one Kampung KB serialise; with
    `skip_locked`, those another transaction holds are left out. Returns the locked ones by id.

    `shared` (`FOR SHARE`): for a write that neither reads nor is read by the other writes holding the same lock
    (`submissions.rules.SHARED_LOCK_MODULES`): they go side by side and every other writer waits for them. Such a
    writer takes the lock whole (this call again, without `shared`) before it changes a Kampung KB row.

    `generic_plans`: the rest of the transaction runs on generic plans (`db.plan_once`), set by the same statement
    once it has locked a row."""
    if not ids:
        return {}
    rows = await session_fetch(session, _LOCKS[shared, skip_locked, generic_plans], list(ids))
    # A few hundred kabupaten codes among a national file's Kampung KB: one string each, not one per Kampung KB.
    return {row["id"]: Locked(row["id"], row["desa_code"], sys.intern(row["kabupaten_code"])) for row in rows}


async def lock_many(session: AsyncSession, ids: Sequence[int], *, shared: bool = False) -> int:
    """`lock` for a bulk writer (an import's merge), answering only how many it locked: a national file's Kampung KB
    are not brought back (their rows were a fifth of an import's memory, held until it ended)."""
    if not ids:
        return 0
    return int(await (await session_driver(session)).fetchval(_LOCK_MANY[shared], list(ids)))


@dataclass
class Change:
    """What a writer changed, by Kampung KB (each one locked by the writer)."""

    kabupaten: dict[int, str]
    """The kabupaten of every Kampung KB below, for its reports."""
    written_at: dict[int, dt.date] = field(default_factory=dict)
    """Data written at this period alone (a submission of it), or activities (which reports read only through the
    snapshots they move): classify from it, refresh its report and the ones its moved snapshots move."""
    written_from: dict[int, dt.date] = field(default_factory=dict)
    """Data changed from this period on, at periods not known one by one (imports handed over to each other): classify
    from it, refresh every report after."""
    owed_from: dict[int, dt.date] = field(default_factory=dict)
    """Nothing was written, the classification from this period on is owed (the classifier was away): refresh only
    the reports its moved snapshots move."""
    recount_from: dict[int, dt.date] = field(default_factory=dict)
    """Whether it counts changed from this month on (registered, deactivated, `formed_on` moved)."""


@dataclass(frozen=True)
class Classifying:
    """How a writer has its change classified."""

    classifier: ClassifierClient
    rulesets: Sequence[str]
    budget_s: float
    """All attempts of one batch call, backoff included."""
    use_breaker: bool = False
    chunk: int = 10_000
    concurrency: int = 2
    attempt_timeout_s: float | None = None
    hand_over_s: float | None = None
    """Write `classify` events due only after this long rather than classify now: a module import with a later one
    queued, or a large import that classifies on connections of its own once its merge has committed
    (`registry_api.changes.handover`). No report events then: whoever takes the classification writes them."""
    fallback: bool = True
    """When the classifier cannot be reached, leave `classify` events for the relay (the relay keeps its own)."""
    explain: bool = True
    """Whether a write's answer carries its classification's explanation; false for a write answered in short
    (`Prefer: return=minimal`): the classifier is asked for none, and the answer is the summary."""

    @property
    def primary(self) -> str:
        return self.rulesets[0]


@dataclass
class Recorded:
    """What `record` did."""

    classifying: Classifying | None
    report_event_ids: list[int] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    """Rule set -> why the classifier could not classify under it."""
    answers: dict[tuple[int, dt.date, str], Answer] = field(default_factory=dict)
    """The classifier's results of a small run, with their explanation (`Reclassified.answers`)."""


@dataclass
class Moved:
    """The reports changes move, gathered over several `record` calls of one transaction and queued once
    (`queue_reports`): a national file classified a slice at a time rebuilds its periods once, not once a slice."""

    reports: set[tuple[dt.date, str]] = field(default_factory=set)
    """(period, kabupaten)."""
    onward: set[str] = field(default_factory=set)
    """The kabupaten whose every computed report after their last period moves too."""


async def record(
    session: AsyncSession, change: Change, *, classifying: Classifying | None = None, moved: Moved | None = None
) -> Recorded:
    """Everything that follows a change, in the caller's transaction: classify (or hand over), tier, events; with
    `moved`, the reports it moves are gathered there for `queue_reports` rather than queued."""
    driver = await session_driver(session)
    recorded = Recorded(classifying)
    reports: set[tuple[dt.date, str]] = set()
    onward: set[str] = set()
    classify_from = _earliest(change.written_at, change.written_from, change.owed_from)
    if classify_from and classifying is not None:
        if classifying.hand_over_s is not None:
            await outbox.add_classify(driver, earliest=classify_from, handover_s=classifying.hand_over_s)
        else:
            outcome = await reclassify(
                session,
                classifier=classifying.classifier,
                rulesets=classifying.rulesets,
                primary=classifying.primary,
                earliest=classify_from,
                budget_s=classifying.budget_s,
                use_breaker=classifying.use_breaker,
                chunk=classifying.chunk,
                concurrency=classifying.concurrency,
                attempt_timeout_s=classifying.attempt_timeout_s,
                explain=classifying.explain,
            )
            recorded.failed = outcome.failed
            recorded.answers = outcome.answers
            await _set_tiers(driver, outcome.tiers)
            if outcome.failed and classifying.fallback:
                await outbox.add_classify(driver, earliest=classify_from)
            reports, onward = _moved_reports(change, outcome)
    if change.recount_from:
        recounted = await _recounted(driver, change)
        reports |= recounted
        onward |= {kabupaten for _, kabupaten in recounted}
    if moved is not None:
        moved.reports |= reports
        moved.onward |= onward
        return recorded
    recorded.report_event_ids = await queue_reports(session, Moved(reports, onward))
    return recorded


async def queue_reports(session: AsyncSession, moved: Moved, *, hold_s: float = 0.0) -> list[int]:
    """The report events of what moved, due at once (delivered right after the commit) or, with `hold_s`, only after
    that long: for a writer that makes them due itself when its work is done (`make_due`), and has the relay deliver
    them anyway if it never gets there; returns their ids."""
    ids = await outbox.add_reports(
        await session_driver(session), changes=moved.reports, onward=moved.onward, due_in_s=hold_s
    )
    if not hold_s:
        owe_after_commit(session, REPORT_EVENTS, ids)
    return ids


async def make_due(session: AsyncSession, *, ids: list[int]) -> None:
    """Report events held back by `queue_reports` due now: the writer's work is done."""
    await outbox.make_due(await session_driver(session), ids=ids)


def _earliest(*by_kampung: dict[int, dt.date]) -> dict[int, dt.date]:
    earliest: dict[int, dt.date] = {}
    for periods in by_kampung:
        for kampung_id, period in periods.items():
            earliest[kampung_id] = min(period, earliest.get(kampung_id, period))
    return earliest


def _moved_reports(change: Change, outcome: Reclassified) -> tuple[set[tuple[dt.date, str]], set[str]]:
    """The (period, kabupaten) reports the change moves, among the periods it classified, and the kabupaten where it
    moves every computed report after them too (see the module's docstring)."""
    following = {(k, p): p_next for (k, p), (k_next, p_next) in pairwise(outcome.pairs) if k == k_next}
    reports: set[tuple[dt.date, str]] = set()
    onward: set[str] = set()
    for kampung_id, period in outcome.pairs:  # in (Kampung KB, period) order
        kabupaten = change.kabupaten[kampung_id]
        if kampung_id in change.written_from:
            reports.add((period, kabupaten))
            onward.add(kabupaten)
        elif (kampung_id, period) in outcome.moved:
            reports.add((period, kabupaten))
            if (upto := following.get((kampung_id, period))) is None:
                onward.add(kabupaten)
            else:  # the next classified period, whose tier before it is this one's
                reports.add((upto, kabupaten))
        elif change.written_at.get(kampung_id) == period:
            reports.add((period, kabupaten))
    return reports, onward


async def _set_tiers(driver: Any, tiers: dict[int, str]) -> None:
    if tiers:
        ids = sorted(tiers)
        await driver.execute(_SET_TIER, ids, [tiers[i] for i in ids])


async def _recounted(driver: Any, change: Change) -> set[tuple[dt.date, str]]:
    ids = sorted(change.recount_from)
    rows = await driver.fetch(
        _RECOUNTED_PERIODS,
        ids,
        [change.recount_from[i].replace(day=1) for i in ids],
        parse_period(current_period()),
    )
    return {(row["period"], change.kabupaten[row["kampung_id"]]) for row in rows}
