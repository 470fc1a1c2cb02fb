"""Claiming and running import jobs: in `registry-api worker` and (by default) in each API process.

A claim is a short transaction: the oldest job that is queued, or running with its lease run out, is taken with
`FOR UPDATE SKIP LOCKED` (a kkbpk import only once every import it reads is claimed: `submissions.rules.MERGED_AFTER`;
it reads its file and checks its addresses while they merge and waits for them before its rules, or goes back to the
queue when one posted since waits to be claimed: `imports.job.wait_for_merges_before`; any other file only once the
kampung files filed before it are claimed, read while they merge: `imports.job.wait_for_kampung_files`),
marked running with `attempts + 1`, `claimed_by` and `claimed_until`, and committed. The
job then runs in a transaction of its own while a side task renews the lease. Its final status is written only
while `claimed_by` still names this claimer (a fence), in that same transaction. A claimer that dies leaves the job
running with a lease that runs out; another claim runs it again from the start, until `max_attempts` claims have
been made, when the job fails with its reason. An unexpected error releases the job for a retry after a backoff.
"""

import asyncio
import contextlib
import logging
import os
import socket
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kampungkb_shared.unreachable import database_unreachable
from registry_api.auth.service import key_still_valid
from registry_api.background.loops import Passes
from registry_api.background.polling import any_set
from registry_api.background.relay import deliver_after_commit
from registry_api.background.report_queue import ReportQueue
from registry_api.classifications.client import ClassifierClient
from registry_api.imports.apart import classify_apart
from registry_api.imports.formats import ImportModule
from registry_api.imports.job import (
    KEY_REVOKED,
    MERGE_ORDER,
    UNCLAIMED,
    ClaimedJob,
    Deferred,
    ImportRejected,
    JobContext,
    LeaseLost,
    Summary,
    finish,
    merges_before,
    release_handed_over,
    run_job,
)
from registry_api.imports.metrics import FAILED_GAVE_UP, FAILED_KEY_REVOKED, count_on_commit
from registry_api.imports.schemas import ImportStatus
from registry_api.settings import Settings

log = logging.getLogger(__name__)

_CLAIM = text(f"""
    UPDATE import_job j
       SET status = 'running', attempts = j.attempts + 1, claimed_by = :claimer,
           claimed_until = clock_timestamp() + :lease * interval '1 second',
           started_at = coalesce(j.started_at, clock_timestamp())
     WHERE j.id = (SELECT q.id FROM import_job q,
                          LATERAL (SELECT count(*) AS jobs FROM import_job r
                                    WHERE r.actor = q.actor AND r.status = 'running'
                                      AND r.claimed_until >= clock_timestamp()) running
                    WHERE q.status IN ('queued', 'running')
                      AND (q.claimed_until IS NULL OR q.claimed_until < clock_timestamp())
                      AND running.jobs < :per_principal
                      AND NOT EXISTS (
                          SELECT 1 FROM unnest(CAST(:waiting AS text[]), CAST(:waited_for AS text[])) AS o(m, after)
                            JOIN import_job d ON d.module = o.after
                           WHERE o.m = q.module AND NOT d.dry_run AND {merges_before("q.id", "q.period")}
                             AND {UNCLAIMED})
                    ORDER BY running.jobs, q.id LIMIT 1 FOR UPDATE OF q SKIP LOCKED)
    RETURNING j.id, j.key_id, j.actor, j.role, j.scope, j.module, j.period, j.dry_run, j.format, j.attempts,
              j.created_at, j.received_at, j.merged_at, j.last_error
""")
_RENEW = text("""
    UPDATE import_job SET claimed_until = clock_timestamp() + :lease * interval '1 second'
     WHERE id = :id AND claimed_by = :claimer AND status = 'running'
""")
_GIVE_UP = text("""
    UPDATE import_job SET status = 'failed', reason = :reason, finished_at = clock_timestamp(), claimed_until = NULL
     WHERE id = :id AND claimed_by = :claimer AND status = 'running'
    RETURNING extract(epoch FROM finished_at - coalesce(started_at, created_at)) AS seconds
""")
_DEFER = text("""
    UPDATE import_job SET status = 'queued', attempts = attempts - 1, claimed_by = NULL, claimed_until = NULL
     WHERE id = :id AND claimed_by = :claimer AND status = 'running'
""")
# An attempt cut short by no fault of its file (the process stopping, the database away) is handed back uncounted:
# `attempts` counts the tries that could have been the file's (an error of its own, a process that died running it).
_HAND_BACK = text("""
    UPDATE import_job SET status = 'queued', attempts = attempts - 1, last_error = :error, claimed_by = NULL,
           claimed_until = clock_timestamp() + :delay * interval '1 second'
     WHERE id = :id AND claimed_by = :claimer AND status = 'running'
""")
HAND_BACK_TRIES_S = (0.5, 1.0, 2.0, 4.0)
"""The waits between tries of a hand-back while the database is away (a restart takes a second or two); if none
lands, the lease runs out and the next claim counts the attempt."""
_RETRY_LATER = text("""
    UPDATE import_job SET status = 'queued', last_error = :error, claimed_by = NULL,
           claimed_until = clock_timestamp() + :delay * interval '1 second'
     WHERE id = :id AND claimed_by = :claimer AND status = 'running'
""")


def claimer_name(kind: str, runner: int = 0) -> str:
    """Who claims: the kind of process, its host and pid, and which of its runners (shown in `claimed_by`)."""
    name = f"{kind}:{socket.gethostname()[:32]}:{os.getpid()}"
    return f"{name}/{runner}" if runner else name


@dataclass
class ImportRunner:
    sessionmaker: async_sessionmaker[AsyncSession]
    queue: ReportQueue
    context: JobContext
    """What each job is run with: the claimer's name, the classifier and how to call it."""
    poll_s: float
    lease_s: float
    max_attempts: int
    running_per_principal: int = 2
    """Jobs of one principal (`actor`) running at once; the principal with the fewest running is served first."""
    renew: bool = True
    """Renew the lease from a second connection while a job runs (off only where sessions share one connection)."""
    _wake: asyncio.Event = field(default_factory=asyncio.Event, init=False)

    def wake(self) -> None:
        """A job was just committed: look now rather than at the next poll."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        log.info("import runner %s started", self.context.claimer)
        passes = Passes("import_runner", log)
        while not stop.is_set():
            ran = False
            with passes.one():  # a failed pass is retried (`background.loops`)
                ran = await self.run_once()
            if await passes.back_off(stop):
                continue
            if not ran:
                await any_set(stop, self._wake, timeout_s=self.poll_s)
                self._wake.clear()
        log.info("import runner %s stopped", self.context.claimer)

    async def run_once(self) -> bool:
        """Claim one job and run it; False when there was none to claim."""
        claimed = await self._claim()
        if claimed is None:
            return False
        job, last_error = claimed
        if job.attempts > self.max_attempts:
            await self._give_up(job, last_error)
            return True
        if job.merged_at is None and not await self._key_still_valid(job):  # merged: its rows are in already
            return True
        await self._execute(job)
        return True

    async def _claim(self) -> tuple[ClaimedJob, str | None] | None:
        async with self.sessionmaker() as session, session.begin():
            params = {
                "claimer": self.context.claimer,
                "lease": self.lease_s,
                "per_principal": self.running_per_principal,
                **MERGE_ORDER,
            }
            row = (await session.execute(_CLAIM, params)).first()
        if row is None:
            return None
        data: dict[str, Any] = dict(row._mapping)
        last_error = data.pop("last_error")
        return ClaimedJob(**{**data, "module": ImportModule(data["module"])}), last_error

    async def _give_up(self, job: ClaimedJob, last_error: str | None) -> None:
        last = last_error or "the process running it stopped before it finished (its lease ran out)"
        reason = f"gave up after {job.attempts - 1} attempts; the last one failed: {last}"
        log.error("import job %d failed: %s", job.id, reason)
        async with self.sessionmaker() as session, session.begin():
            await self._fail(session, job, reason=reason, failure=FAILED_GAVE_UP)

    async def _key_still_valid(self, job: ClaimedJob) -> bool:
        """A job whose key was revoked (or expired) since it was sent fails at its claim, having written nothing."""
        async with self.sessionmaker() as session, session.begin():
            if await key_still_valid(session, job.key_id):
                return True
            log.warning("import job %d failed: %s", job.id, KEY_REVOKED)
            await self._fail(session, job, reason=KEY_REVOKED, failure=FAILED_KEY_REVOKED)
        return False

    async def _fail(self, session: AsyncSession, job: ClaimedJob, *, reason: str, failure: str) -> None:
        """Fail a claimed job before it runs (while this claimer holds it), counted as a `failure` once committed."""
        params = {"id": job.id, "claimer": self.context.claimer, "reason": reason}
        failed = (await session.execute(_GIVE_UP, params)).first()
        await release_handed_over(session, job=job)
        if failed is not None:
            count_on_commit(
                session,
                module=job.module.value,
                status=ImportStatus.FAILED.value,
                rows={},
                seconds=float(failed.seconds),
                failure=failure,
            )

    async def _execute(self, job: ClaimedJob) -> None:
        renewal = asyncio.create_task(self._renew(job.id)) if self.renew else None
        try:
            async with self.sessionmaker() as session, session.begin():
                ran = await run_job(session, job=job, context=self.context)
            report_ids = ran.report_ids
            if ran.classify_apart:
                report_ids = await classify_apart(self.sessionmaker, job=job, context=self.context)
            log.info("import job %d finished", job.id)
            if report_ids:
                await deliver_after_commit(self.sessionmaker, self.queue, ids=report_ids)
        except ImportRejected as exc:
            log.warning("import job %d failed: %s", job.id, exc.reason)
            await self._record_rejection(job, exc)
        except LeaseLost as exc:
            log.warning("%s", exc)
        except Deferred as exc:
            log.info("%s", exc)
            async with self.sessionmaker() as session, session.begin():
                await session.execute(_DEFER, {"id": job.id, "claimer": self.context.claimer})
        except asyncio.CancelledError:
            log.warning("import job %d: its process is stopping; handed back, the attempt not counted", job.id)
            await self._hand_back(job, "the process running it stopped", delay=0.0)
            raise
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"[:2000]
            if database_unreachable(exc):
                log.warning("import job %d: the database is away (%s); handed back, not counted", job.id, error)
                await self._hand_back(job, error, delay=min(2.0**job.attempts, 60.0))
            else:
                log.exception("import job %d attempt %d failed; retried later", job.id, job.attempts)
                await self._release(job, error)
        finally:
            if renewal is not None:
                renewal.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await renewal

    async def _record_rejection(self, job: ClaimedJob, exc: ImportRejected) -> None:
        with contextlib.suppress(LeaseLost):
            async with self.sessionmaker() as session, session.begin():
                await finish(
                    session,
                    job=job,
                    claimer=self.context.claimer,
                    summary=_without_loads(exc.summary),
                    status=ImportStatus.FAILED,
                    reason=exc.reason,
                )

    async def _release(self, job: ClaimedJob, error: str) -> None:
        delay = min(2.0**job.attempts, 60.0)
        with contextlib.suppress(Exception):
            async with self.sessionmaker() as session, session.begin():
                params = {"id": job.id, "claimer": self.context.claimer, "error": error, "delay": delay}
                await session.execute(_RETRY_LATER, params)

    async def _hand_back(self, job: ClaimedJob, error: str, *, delay: float) -> None:
        params = {"id": job.id, "claimer": self.context.claimer, "error": error, "delay": delay}
        for wait in (*HAND_BACK_TRIES_S, None):
            try:
                async with self.sessionmaker() as session, session.begin():
                    await session.execute(_HAND_BACK, params)
                return
            except Exception as exc:
                if wait is None or not database_unreachable(exc):
                    log.warning("import job %d: not handed back (%s); its lease will run out", job.id, exc)
                    return
                await asyncio.sleep(wait)

    async def _renew(self, job_id: int) -> None:
        interval = max(self.lease_s / 3, 0.05)
        while True:
            await asyncio.sleep(interval)
            try:
                async with self.sessionmaker() as session, session.begin():
                    params = {"id": job_id, "claimer": self.context.claimer, "lease": self.lease_s}
                    renewed = (await session.execute(_RENEW, params)).rowcount  # type: ignore[attr-defined]
                if not renewed:
                    log.warning("import job %d: lease lost", job_id)
                    return
            except Exception as exc:  # the next renewal may succeed; if none does, the lease runs out
                log.warning("import job %d: lease renewal failed: %s", job_id, exc)


def _without_loads(summary: Summary) -> Summary:
    summary.rows_unchanged = summary.rows_inserted = summary.rows_updated = 0
    return summary


def create_runner(
    settings: Settings,
    *,
    kind: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    classifier: ClassifierClient,
    queue: ReportQueue,
    runner: int = 0,
) -> ImportRunner:
    """The process's import runner (`runner`: which of several in one process)."""
    context = JobContext(
        claimer=claimer_name(kind, runner),
        classifier=classifier,
        rulesets=list(settings.rulesets),
        classifier_chunk=settings.import_classifier_chunk,
        classifier_concurrency=settings.import_classifier_concurrency,
        classifier_budget_s=settings.import_classifier_budget_s,
        classifier_timeout_s=settings.import_classifier_timeout_s,
        handover_s=settings.import_handover_s,
        classify_apart_from=settings.import_classify_apart_from,
        classify_connections=settings.import_classify_connections,
        max_record_bytes=settings.import_max_record_bytes,
        closing=settings.closing(),
    )
    return ImportRunner(
        sessionmaker=sessionmaker,
        queue=queue,
        context=context,
        poll_s=settings.import_poll_s,
        lease_s=settings.import_lease_s,
        max_attempts=settings.import_max_attempts,
        running_per_principal=settings.import_running_per_principal,
    )
