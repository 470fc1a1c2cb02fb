"""The report worker process: `python -m report_worker` (`main`), arq's Worker on Redis, started again whenever Redis
goes away, with its metrics and `/healthz` (the event loop's heartbeat, `kampungkb_shared.liveness`) on
`WORKER_METRICS_PORT`.

`worker_options` are arq's settings; `arq report_worker.worker.WorkerSettings` runs them as well (built from the
environment when arq asks this module for it, never at import), but arq alone exits when Redis goes away, and serves
neither the metrics nor `/healthz`: the images and manifests run `python -m report_worker`.
Every function is registered with `keep_result=0`: arq refuses to enqueue an id that still has a stored result,
so a kept result would block the next refresh of the same kabupaten and period for as long as it is kept.
"""

import asyncio
import contextlib
import dataclasses
import logging
import signal
import time
from typing import Any

import asyncpg
from arq import Worker, cron, func
from arq.connections import ArqRedis, RedisSettings, create_pool
from prometheus_client import make_wsgi_app
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from kampungkb_shared.collector import freeze_startup_objects
from kampungkb_shared.jobs import (
    REBUILD_PERIOD,
    REFRESH_REGION_CHAIN,
    REPORT_QUEUE,
    RebuildPeriod,
    deserialize_job,
    serialize_job,
)
from kampungkb_shared.liveness import liveness_served
from kampungkb_shared.observability import configure_logging
from kampungkb_shared.periods import current_period, parse_period
from report_worker.jobs import nightly_rebuild, rebuild_whole_period, refresh_region_chain
from report_worker.metrics import LOOP_TICK, QUEUE_DEPTH
from report_worker.settings import Settings

log = logging.getLogger(__name__)

Context = dict[str, Any]


async def _watch_queue_depth(redis: ArqRedis, interval_s: float) -> None:
    while True:
        with contextlib.suppress(Exception):
            QUEUE_DEPTH.set(await redis.zcard(REPORT_QUEUE))
        await asyncio.sleep(interval_s)


async def _queue_current_period(ctx: Context, settings: Settings) -> None:
    """A fresh deployment (or a new month) has nothing to read until a rebuild: queue one if it is missing."""
    period = current_period()
    done = await ctx["pool"].fetchval(
        "SELECT count(*) FROM report_period WHERE period = $1 AND ruleset = ANY($2::text[])",
        parse_period(period),
        settings.rulesets,
    )
    if done < len(settings.rulesets):
        job = RebuildPeriod(period=period, through=period, request_id=f"startup:{period}")
        redis: ArqRedis = ctx["redis"]
        await redis.enqueue_job(REBUILD_PERIOD, job.model_dump(), _job_id=job.job_id(), _queue_name=REPORT_QUEUE)


async def startup(ctx: Context) -> None:
    settings: Settings = ctx["settings"]
    configure_logging(level=settings.log_level, json_logs=settings.log_json)
    ctx["pool"] = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=settings.db_pool_size)
    ctx["queue_depth"] = asyncio.create_task(_watch_queue_depth(ctx["redis"], settings.queue_depth_interval_s))
    if settings.rebuild_on_startup:
        await _queue_current_period(ctx, settings)
    freeze_startup_objects()
    log.info("report worker ready, rule sets %s", ",".join(settings.rulesets))


async def shutdown(ctx: Context) -> None:
    if task := ctx.get("queue_depth"):
        task.cancel()
    if pool := ctx.get("pool"):
        await pool.close()


def worker_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments of `arq.Worker` (arq accepts this dict as its settings)."""
    return {
        "functions": [
            func(refresh_region_chain, name=REFRESH_REGION_CHAIN, keep_result=0),
            func(rebuild_whole_period, name=REBUILD_PERIOD, keep_result=0, timeout=settings.rebuild_timeout_s),
        ],
        "cron_jobs": [
            cron(
                nightly_rebuild,
                hour=settings.nightly_hour,
                minute=settings.nightly_minute,
                keep_result=0,
                timeout=settings.rebuild_timeout_s,
            ),
        ],
        "queue_name": REPORT_QUEUE,
        "redis_settings": RedisSettings.from_dsn(settings.redis_url),
        # JSON both ways, like every producer: a pickled job is refused unrun (see `kampungkb_shared.jobs`).
        "job_serializer": serialize_job,
        "job_deserializer": deserialize_job,
        # Failed jobs store their result under the worker-wide setting (arq's finish_failed_job): 0 here too.
        "keep_result": 0,
        "job_timeout": settings.job_timeout_s,
        "max_jobs": settings.max_jobs,
        "poll_delay": settings.poll_delay_s,
        # On SIGTERM, no job is started and those running may finish for this long before they are cancelled.
        "job_completion_wait": settings.shutdown_wait_s,
        "health_check_interval": 10,
        "on_startup": startup,
        "on_shutdown": shutdown,
        "ctx": {"settings": settings},
    }


def __getattr__(name: str) -> dict[str, Any]:
    if name == "WorkerSettings":
        return worker_options(Settings())
    raise AttributeError(name)


REDIS_AWAY = (RedisConnectionError, RedisTimeoutError)
"""What redis-py raises when Redis cannot be reached (refused, reset, timed out, still loading its data)."""
RETRY_FIRST_S = 0.5


@dataclasses.dataclass
class RedisRetry:
    """How long to wait before trying Redis again: `RETRY_FIRST_S`, then twice as long each time up to `max_s`.

    A connection that opens does not start the count again: a Redis that accepts connections but fails their commands
    (still loading its data, say) would be tried every `RETRY_FIRST_S` for as long as it lasts. Only a Worker that
    served for `max_s` before Redis failed it does (`served`)."""

    max_s: float
    delay_s: float = RETRY_FIRST_S

    async def wait(self, stopping: asyncio.Event) -> None:
        """Wait `delay_s`, or until `stopping`; the next wait is twice as long."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), self.delay_s)
        self.delay_s = min(self.delay_s * 2, self.max_s)

    def served(self, for_s: float) -> None:
        """A Worker ran `for_s` before Redis failed it: after a long enough run, the next wait is the first again."""
        if for_s >= self.max_s:
            self.delay_s = RETRY_FIRST_S


async def serve(settings: Settings) -> None:
    """The worker process until SIGTERM or SIGINT: arq's Worker, its metrics and `/healthz` (unless `metrics_port` is
    0)."""
    configure_logging(level=settings.log_level, json_logs=settings.log_json)
    if not settings.metrics_port:
        await _supervise(settings)
        return
    with liveness_served(make_wsgi_app(), settings.metrics_port, on_tick=LOOP_TICK.set_to_current_time) as heartbeat:
        await heartbeat.beating(_supervise(settings))


async def _supervise(settings: Settings) -> None:
    """Run arq's Worker; when Redis goes away (arq's poll loop raises), let the jobs running end, close the Worker and
    try Redis again after 0.5 s, then twice as long each time up to `redis_retry_max_s` (`RedisRetry`), and start a
    new Worker once it answers. One line is logged when Redis goes and one when it is back, none per attempt. SIGTERM
    and SIGINT go to the Worker running (arq's `handle_sig_wait_for_completion`: jobs running get `shutdown_wait_s` to
    finish) and end the loop."""
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    running: list[Worker] = []

    def on_signal(signum: signal.Signals) -> None:
        stopping.set()
        for arq_worker in running:
            arq_worker.handle_sig_wait_for_completion(signum)

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)
    away_since: float | None = None
    retry = RedisRetry(max_s=settings.redis_retry_max_s)
    try:
        while not stopping.is_set():
            try:
                redis = await _connect(settings)
            except REDIS_AWAY as exc:
                if away_since is None:
                    away_since = time.monotonic()
                    log.warning("Redis unavailable (%s): no job is taken until it answers again", _named(exc))
                await retry.wait(stopping)
                continue
            if away_since is not None:
                log.info("Redis answers again after %.0f s: taking jobs", time.monotonic() - away_since)
                away_since = None
            if stopping.is_set():
                await redis.aclose()
                break
            arq_worker = Worker(**worker_options(settings), redis_pool=redis, handle_signals=False)
            running.append(arq_worker)
            started = time.monotonic()
            try:
                await arq_worker.async_run()
                return  # a burst ends
            except REDIS_AWAY as exc:
                away_since = time.monotonic()
                log.warning(
                    "Redis unavailable (%s): the jobs running finish, no other is taken until it answers again",
                    _named(exc),
                )
                retry.served(away_since - started)
                await retry.wait(stopping)
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if not stopping.is_set() or (current is not None and current.cancelling()):
                    raise
                # the signal's handler cancelled arq's main task once the jobs running had ended
            finally:
                await _close(arq_worker)  # a signal meanwhile still reaches it: its jobs get `shutdown_wait_s`
                running.remove(arq_worker)
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)


async def _connect(settings: Settings) -> ArqRedis:
    """One attempt (arq's own retries would log a line each)."""
    redis_settings = dataclasses.replace(RedisSettings.from_dsn(settings.redis_url), conn_retries=0)
    return await create_pool(
        redis_settings,
        job_serializer=serialize_job,
        job_deserializer=deserialize_job,
        default_queue_name=REPORT_QUEUE,
    )


async def _close(arq_worker: Worker) -> None:
    """What arq's `Worker.close` does, whether Redis answers or not: the jobs running end (a job needs PostgreSQL
    alone; arq's own bookkeeping after it may fail without Redis, and the job runs again), then the resources of
    `startup` and the Redis pool close."""
    await asyncio.gather(*arq_worker.tasks.values(), return_exceptions=True)
    with contextlib.suppress(*REDIS_AWAY, TimeoutError):
        await asyncio.wait_for(arq_worker.pool.delete(arq_worker.health_check_key), 5)
    await shutdown(arq_worker.ctx)
    await arq_worker.pool.aclose()


def _named(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def main() -> None:
    asyncio.run(serve(Settings()))
