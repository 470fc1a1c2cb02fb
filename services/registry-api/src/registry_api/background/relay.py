"""The outbox relay: delivers pending events until they land, whatever was down when they were written.

Each pass claims a small batch per topic with `SELECT ... FOR UPDATE SKIP LOCKED` and holds the rows locked
while it delivers them, so any number of relays (in the API processes, in `registry-api worker` replicas) run
side by side and never deliver one event twice at the same time. A failed delivery is retried forever with
backoff (0.5 s doubling to 30 s). `classify` events become classifier batch calls (every rule set at once) for all
the Kampung KB claimed, delivered once their results are stored; `report` events become arq jobs with deterministic
ids, and stay owed, leased for `ReportQueue.lease_s`, until report-worker confirms the job done
(`report_worker.confirmations`): a job Redis lost, or report-worker dropped, is queued again once the lease runs out.
Housekeeping: backlog gauges, delivered events pruned after `retention_s`, unreferenced classification snapshots
hourly, and every `partner_window_sweep_s` a `classify` event for each Kampung KB that a partner left a rule set's
window this month or the two before, if nothing classified it in that month (`changes.partner_windows`).
"""

import asyncio
import datetime as dt
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kampungkb_shared.jobs import report_job
from kampungkb_shared.observability import request_id
from kampungkb_shared.periods import add_months, current_period, parse_period
from registry_api.background.loops import Passes
from registry_api.background.outbox_metrics import BACKLOG, DELIVERED, FAILED, OLDEST_AGE
from registry_api.background.polling import any_set
from registry_api.background.report_queue import Enqueued, ReportQueue
from registry_api.changes import feed, partner_windows, pipeline
from registry_api.changes import outbox as events
from registry_api.classifications import snapshots
from registry_api.classifications.client import ClassifierClient
from registry_api.db import plan_once
from registry_api.settings import Settings

log = logging.getLogger(__name__)

_CLAIM = """
    SELECT id, key, payload, request_id, attempts FROM outbox
     WHERE topic = :topic AND delivered_at IS NULL {condition}
     ORDER BY available_at, id LIMIT :limit
       FOR UPDATE SKIP LOCKED
"""
# `statement_timestamp()`, not the volatile `clock_timestamp()`: a stable bound is an index condition, so events due
# later (an import's hand-over: a whole nation of them) are never read, rather than filtered out row by row.
_CLAIM_DUE = text(_CLAIM.format(condition="AND available_at <= statement_timestamp()"))
_CLAIM_IDS = text(_CLAIM.format(condition="AND id = ANY(CAST(:ids AS bigint[]))"))
_DELIVERED = text("UPDATE outbox SET delivered_at = statement_timestamp() WHERE id = ANY(CAST(:ids AS bigint[]))")
_FAILED = text("""
    UPDATE outbox SET attempts = attempts + 1, last_error = :error,
           available_at = clock_timestamp() + least(power(2, attempts) * 0.5, 30) * interval '1 second'
     WHERE id = ANY(CAST(:ids AS bigint[]))
""")
_LATER = text("""
    UPDATE outbox SET last_error = :error, available_at = clock_timestamp() + :delay * interval '1 second'
     WHERE id = ANY(CAST(:ids AS bigint[]))
""")
_LEASED = text("""
    UPDATE outbox SET available_at = statement_timestamp() + :lease * interval '1 second'
     WHERE id = ANY(CAST(:ids AS bigint[]))
""")
_BACKLOG = text("""
    SELECT topic, count(*) AS n, extract(epoch FROM now() - min(created_at)) AS age
      FROM outbox WHERE delivered_at IS NULL GROUP BY topic
""")
BACKLOG_GAUGE_S = 15.0
"""How often a relay counts the pending events for the backlog gauges (a count over every pending row)."""
SNAPSHOT_PRUNE_S = 3600.0
"""How often a relay deletes the stored snapshots no classification refers to any more."""
_PRUNE = text("DELETE FROM outbox WHERE delivered_at < now() - :retention * interval '1 second'")

WINDOWS_UNKNOWN_S = 60.0
"""How soon a relay tries the partner-window sweep again when the classifier could not give the rule sets' windows."""

PARTNER_WINDOW_MONTHS_BACK = 2
"""The sweep of the months partners leave a window covers this month and this many before it: a relay that was down
over a month's turn still classifies the month it missed."""

RUNNING_RETRY_S = 0.5
"""How soon to retry a report event whose job was running (it may have read before our commit)."""


@dataclass(frozen=True)
class _Event:
    id: int
    key: str
    payload: dict[str, Any]
    request_id: str | None


async def _claim(session: AsyncSession, topic: str, *, limit: int, ids: list[int] | None = None) -> list[_Event]:
    if ids is None:
        result = await session.execute(_CLAIM_DUE, {"topic": topic, "limit": limit})
    else:
        result = await session.execute(_CLAIM_IDS, {"topic": topic, "limit": limit, "ids": ids})
    return [_Event(row.id, row.key, row.payload, row.request_id) for row in result]


async def _mark_failed(session: AsyncSession, topic: str, ids: list[int], error: str) -> None:
    await session.execute(_FAILED, {"ids": ids, "error": error[:2000]})
    FAILED.labels(topic=topic).inc(len(ids))


async def _mark_delivered(session: AsyncSession, topic: str, ids: list[int]) -> None:
    await session.execute(_DELIVERED, {"ids": ids})
    DELIVERED.labels(topic=topic).inc(len(ids))


@dataclass
class Relay:
    sessionmaker: async_sessionmaker[AsyncSession]
    classifier: ClassifierClient
    queue: ReportQueue
    rulesets: list[str]
    batch: int = 200
    poll_s: float = 0.5
    classifier_budget_s: float = 10.0
    retention_s: float = 86_400.0
    changes_retention_s: float = 90 * 86_400.0
    """How long the change feed keeps its items (a cursor older than that gets 410)."""
    gather_s: float = 0.1
    """After a wake-up, how long to let more commits' report events gather before delivering them together."""
    partner_window_sweep_s: float = 3600.0
    """How often to look for the Kampung KB a partner has left a rule set's window since their last classification."""
    _wake: asyncio.Event = field(default_factory=asyncio.Event, init=False)
    _next_gauge: float = field(default=0.0, init=False)
    _next_prune: float = field(default=0.0, init=False)
    _next_snapshot_prune: float = field(default=0.0, init=False)
    _next_window_sweep: float = field(default=0.0, init=False)

    def wake(self) -> None:
        """Report events were just committed: deliver them within `gather_s` rather than at the next poll.

        The write path of an API process wakes its relay instead of delivering its own events: under load, the
        events of many requests go out in one pass (one claim, one enqueue per kabupaten, one update)."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set: straight on while there is a full batch, else every `poll_s` or when woken."""
        log.info("outbox relay started")
        woken = False
        both_due = 0.0
        passes = Passes("outbox_relay", log)
        while not stop.is_set():
            handled = 0
            with passes.one():  # a failed pass is retried (`background.loops`)
                # A wake-up delivers the report events just committed; both topics are gone over at least every
                # `poll_s` all the same, so that a steady stream of writes never leaves classifications waiting.
                both = not woken or time.monotonic() >= both_due
                handled = await (self.run_once() if both else self.deliver_reports())
                if both:
                    both_due = time.monotonic() + self.poll_s
                await self._housekeeping()
            if await passes.back_off(stop):
                woken = False
                continue
            if handled < self.batch:
                woken = await self._wait(stop)
        log.info("outbox relay stopped")

    async def _wait(self, stop: asyncio.Event) -> bool:
        """Until the next poll, `stop`, or a wake-up (then `gather_s` more); True when woken."""
        await any_set(stop, self._wake, timeout_s=self.poll_s)
        if not self._wake.is_set() or stop.is_set():
            return False
        await asyncio.sleep(self.gather_s)
        self._wake.clear()
        return True

    async def run_once(self) -> int:
        """One pass over both topics (classify first: it writes report events); returns how many it handled."""
        return await self.deliver_classify() + await self.deliver_reports()

    async def deliver_classify(self) -> int:
        async with self.sessionmaker() as session, session.begin():
            claimed = await _claim(session, events.CLASSIFY, limit=self.batch)
            if not claimed:
                return 0
            # A Kampung KB being written right now is skipped: its writer classifies it, or leaves a new event.
            ids = sorted({int(event.payload["kampung_id"]) for event in claimed})
            locked = await pipeline.lock(session, ids, skip_locked=True)
            mine = [e for e in claimed if int(e.payload["kampung_id"]) in locked]
            if not mine:
                return 0
            change = pipeline.Change(kabupaten={k: row.kabupaten_code for k, row in locked.items()})
            for event in mine:
                # A hand-over's data were written by an import that left the reports to whoever classifies; an
                # outage's reports were written with the data: only its classification is owed.
                owed = change.written_from if event.payload.get("handover") else change.owed_from
                kampung_id, period = int(event.payload["kampung_id"]), parse_period(event.payload["period"])
                owed[kampung_id] = min(period, owed.get(kampung_id, period))
            classifying = pipeline.Classifying(
                classifier=self.classifier,
                rulesets=self.rulesets,
                budget_s=self.classifier_budget_s,
                attempt_timeout_s=self.classifier_budget_s,  # in the background: a slow answer still counts
                fallback=False,  # these very events are retried
            )
            token = request_id.set(next((e.request_id for e in mine if e.request_id), None))
            try:
                outcome = await pipeline.record(session, change, classifying=classifying)
            finally:
                request_id.reset(token)
            handled = [e.id for e in mine]
            if outcome.failed:
                await _mark_failed(
                    session, events.CLASSIFY, handled, "; ".join(f"{r}: {e}" for r, e in outcome.failed.items())
                )
            else:
                await _mark_delivered(session, events.CLASSIFY, handled)
            return len(mine)

    async def deliver_reports(self) -> int:
        return await deliver_reports(self.sessionmaker, self.queue, limit=self.batch)

    async def _housekeeping(self) -> None:
        now = time.monotonic()
        if now >= self._next_gauge:
            self._next_gauge = now + BACKLOG_GAUGE_S
            await self.update_backlog()
        if now >= self._next_prune:
            self._next_prune = now + 60.0
            async with self.sessionmaker() as session, session.begin():
                await session.execute(_PRUNE, {"retention": self.retention_s})
            async with self.sessionmaker() as session, session.begin():
                await feed.prune(session, retention_s=self.changes_retention_s)
        if now >= self._next_snapshot_prune:
            self._next_snapshot_prune = now + SNAPSHOT_PRUNE_S
            if pruned := await snapshots.prune_unreferenced(self.sessionmaker):
                log.info("pruned %d classification snapshots no classification refers to", pruned)
        if now >= self._next_window_sweep:
            # Tried again within a minute when the classifier did not give its rule sets' windows (None), not at
            # every pass: each try would wait for it, holding up the report events.
            owed = await self.sweep_partner_windows()
            self._next_window_sweep = now + (self.partner_window_sweep_s if owed is not None else WINDOWS_UNKNOWN_S)
            if owed:
                log.info("%d Kampung KB to classify again: a partner left a rule set's window", owed)

    async def sweep_partner_windows(self, *, today: dt.date | None = None) -> int | None:
        """`partner_windows.owe_classifications` for this month and the `PARTNER_WINDOW_MONTHS_BACK` before it."""
        until = parse_period(current_period(today))
        return await partner_windows.owe_classifications(
            self.sessionmaker,
            self.classifier,
            self.rulesets,
            since=add_months(until, -PARTNER_WINDOW_MONTHS_BACK),
            until=until,
            budget_s=self.classifier_budget_s,
        )

    async def update_backlog(self) -> dict[str, int]:
        """Set the backlog gauges from the table; returns the counts by topic."""
        async with self.sessionmaker() as session:
            rows = list(await session.execute(_BACKLOG))
        counts = {topic: 0 for topic in events.TOPICS}
        ages = {topic: 0.0 for topic in events.TOPICS}
        for row in rows:
            counts[row.topic], ages[row.topic] = int(row.n), float(row.age)
        for topic in counts:
            BACKLOG.labels(topic=topic).set(counts[topic])
            OLDEST_AGE.labels(topic=topic).set(ages[topic])
        return counts


async def deliver_reports(
    sessionmaker: async_sessionmaker[AsyncSession], queue: ReportQueue, *, limit: int, ids: list[int] | None = None
) -> int:
    """Enqueue the due report events (or exactly `ids`, right after the commit that wrote them). Each stays owed,
    leased for `queue.lease_s`: report-worker marks it delivered once a job that read its data is done; if none has
    when the lease runs out, the next pass queues it again (a no-op while its job is still queued)."""
    async with sessionmaker() as session, session.begin():
        await plan_once(session)
        claimed = await _claim(session, events.REPORT, limit=limit, ids=ids)
        by_key: dict[str, list[_Event]] = defaultdict(list)
        for event in claimed:
            by_key[event.key].append(event)
        done: list[int] = []
        running: list[int] = []
        failed: list[int] = []
        error: str | None = None
        for group in by_key.values():
            group_ids = [e.id for e in group]
            if error is not None:  # Redis failed for this batch: do not wait for it once per key
                failed.extend(group_ids)
                continue
            job = report_job(group[-1].payload)
            try:
                enqueued = await queue.enqueue(job)
            except (RedisError, OSError, TimeoutError) as exc:
                error = f"{type(exc).__name__}: {exc}"
                failed.extend(group_ids)
                continue
            (done if enqueued is Enqueued.QUEUED else running).extend(group_ids)
        if done:
            await session.execute(_LEASED, {"ids": done, "lease": queue.lease_s})
            DELIVERED.labels(topic=events.REPORT).inc(len(done))
        if running:
            await session.execute(_LATER, {"ids": running, "error": "job running", "delay": RUNNING_RETRY_S})
        if failed:
            log.warning("report queue unavailable, %d events retried later: %s", len(failed), error)
            await _mark_failed(session, events.REPORT, failed, error or "")
        return len(claimed)


async def deliver_after_commit(
    sessionmaker: async_sessionmaker[AsyncSession], queue: ReportQueue, *, ids: list[int]
) -> None:
    """Best effort, right after the commit, where no relay runs in the process to wake (`Relay.wake`): freshness
    need not wait for the next poll; the relay retries failures."""
    try:
        await deliver_reports(sessionmaker, queue, limit=len(ids), ids=ids)
    except Exception as exc:  # the events stay pending; the relay delivers them
        log.warning("report delivery after commit failed: %s", exc)


def create_relay(
    settings: Settings,
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    classifier: ClassifierClient,
    queue: ReportQueue,
) -> Relay:
    return Relay(
        sessionmaker=sessionmaker,
        classifier=classifier,
        queue=queue,
        rulesets=list(settings.rulesets),
        batch=settings.outbox_batch,
        poll_s=settings.outbox_poll_s,
        classifier_budget_s=settings.relay_classifier_budget_s,
        retention_s=settings.outbox_retention_s,
        changes_retention_s=settings.changes_retention_days * 86_400.0,
        gather_s=settings.outbox_gather_s,
        partner_window_sweep_s=settings.partner_window_sweep_s,
    )
