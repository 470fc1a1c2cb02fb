"""The arq job handlers: each binds the request id, times itself and runs one transaction."""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from arq import Retry

from kampungkb_shared.jobs import RebuildPeriod, RefreshRegionChain
from kampungkb_shared.observability import request_id
from kampungkb_shared.periods import current_period, parse_period
from kampungkb_shared.unreachable import database_unreachable
from report_worker import confirmations
from report_worker.aggregates import Outcome, rebuild_period, refresh_chain
from report_worker.apart import Apart
from report_worker.metrics import JOB_FAILURES, JOB_SECONDS, ROWS_WRITTEN
from report_worker.settings import Settings

log = logging.getLogger(__name__)

Context = dict[str, Any]

_TIMEOUT_MARGIN_S = 1.0
"""A job cancelled this close to its timeout or later was cancelled by it (arq's clock and ours start apart)."""


async def _run(
    ctx: Context,
    name: str,
    job: RefreshRegionChain | RebuildPeriod,
    work: Callable[[asyncpg.Connection], Awaitable[Outcome]],
    *,
    timeout_s: float,
) -> dict[str, Any]:
    token = request_id.set(job.request_id or str(ctx.get("job_id")))
    started = time.perf_counter()
    try:
        pool: asyncpg.Pool = ctx["pool"]
        async with pool.acquire() as connection:
            owed = await confirmations.owed(connection, job.key())
            outcome = await work(connection)
            await confirmations.confirm(connection, owed)
        log.info(
            "%s wrote %d rows and %d quality flags: rebuilt %s, refreshed %s",
            name,
            outcome.rows,
            outcome.flags,
            [f"{p:%Y-%m}" for p in outcome.rebuilt],
            [f"{p:%Y-%m}" for p in outcome.refreshed],
        )
    except asyncio.CancelledError:
        # arq cancels a job at its function's timeout (then drops it: its events are queued again when their lease
        # runs out), or at shutdown once `job_completion_wait` is over (then runs it again). Which one, by the time
        # it ran: the two raise the same error.
        ran_s = time.perf_counter() - started
        reason = "timeout" if ran_s >= timeout_s - _TIMEOUT_MARGIN_S else "cancelled"
        JOB_FAILURES.labels(name, reason).inc()
        log.warning("%s cancelled after %.1f s (%s)", name, ran_s, reason)
        raise
    except Exception as exc:
        unreachable = database_unreachable(exc)
        JOB_FAILURES.labels(name, "database" if unreachable else "error").inc()
        if not unreachable:
            raise
        # The database being away (restarting, failing over) is not the job's fault: run it again later instead of
        # dropping it, whatever step it was at.
        delay = min(60, 2 ** int(ctx.get("job_try", 1)))
        log.warning("%s: database unavailable (%s), retrying in %s s", name, exc, delay)
        raise Retry(defer=delay) from exc
    finally:
        JOB_SECONDS.labels(name).observe(time.perf_counter() - started)
        request_id.reset(token)
    ROWS_WRITTEN.labels(name).inc(outcome.rows)
    return {
        "rebuilt": [p.isoformat() for p in outcome.rebuilt],
        "refreshed": [p.isoformat() for p in outcome.refreshed],
        "rows": outcome.rows,
    }


def _payload(model: type[Any], payload: dict[str, Any] | None, fields: dict[str, Any]) -> Any:
    # The relay passes `job.model_dump()` as one argument; keyword fields are accepted too.
    return model.model_validate(payload if payload is not None else fields)


async def refresh_region_chain(ctx: Context, payload: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    """Refresh one kabupaten's chain (kecamatan, kabupaten, provinsi, nation) for a period and the later ones (up to
    the job's `through`)."""
    job: RefreshRegionChain = _payload(RefreshRegionChain, payload, fields)
    settings: Settings = ctx["settings"]

    async def work(connection: asyncpg.Connection) -> Outcome:
        return await refresh_chain(
            connection,
            period=parse_period(job.period),
            kabupaten_code=job.kabupaten_code,
            rulesets=settings.rulesets,
            through=None if job.through is None else parse_period(job.through),
            deadline=settings.deadline,
            quality=settings.quality_rules(),
        )

    return await _run(ctx, "refresh_region_chain", job, work, timeout_s=settings.job_timeout_s)


async def _rebuild(ctx: Context, name: str, job: RebuildPeriod) -> dict[str, Any]:
    settings: Settings = ctx["settings"]

    async def work(connection: asyncpg.Connection) -> Outcome:
        return await rebuild_period(
            connection,
            period=parse_period(job.period),
            rulesets=settings.rulesets,
            through=None if job.through is None else parse_period(job.through),
            onward=job.through is None,
            deadline=settings.deadline,
            quality=settings.quality_rules(),
            apart=Apart(lambda: asyncpg.connect(settings.database_url), settings.rebuild_connections),
            reconcile_flags=False,  # the flags of what changed since each period's pass under the same rules
        )

    return await _run(ctx, name, job, work, timeout_s=settings.rebuild_timeout_s)


async def rebuild_whole_period(ctx: Context, payload: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    """Rebuild every region's aggregates of one period (and of the computed ones after it up to the job's `through`),
    queued by a change that many kabupaten share: the flags of the Kampung KB it changed."""
    job = _payload(RebuildPeriod, payload, fields)
    return await _rebuild(ctx, "rebuild_period", job)


async def nightly_rebuild(ctx: Context) -> dict[str, Any]:
    """Cron: rebuild the current period from its base data, reconciling whatever the incremental refreshes missed; its
    flags those of the Kampung KB changed since the period's last pass over the nation, every one under new rules
    (`report_worker.quality.flag_changed_everywhere`)."""
    period = current_period()
    job = RebuildPeriod(period=period, through=period, request_id=f"nightly:{period}")
    return await _rebuild(ctx, "nightly_rebuild", job)
