"""The arq worker: `arq report_worker.worker.WorkerSettings`.

`WorkerSettings` is built from the environment when arq asks this module for it, never at import.
Every function is registered with `keep_result=0`: arq refuses to enqueue an id that still has a stored result,
so a kept result would block the next refresh of the same kabupaten and period for as long as it is kept.
"""

import asyncio
import contextlib
import logging
from typing import Any

import asyncpg
from arq import cron, func
from arq.connections import ArqRedis, RedisSettings
from prometheus_client import start_http_server

from kampungkb_shared.collector import freeze_startup_objects
from kampungkb_shared.jobs import (
    REBUILD_PERIOD,
    REFRESH_REGION_CHAIN,
    REPORT_QUEUE,
    RebuildPeriod,
    deserialize_job,
    serialize_job,
)
from kampungkb_shared.observability import configure_logging
from kampungkb_shared.periods import current_period, parse_period
from report_worker.jobs import nightly_rebuild, rebuild_whole_period, refresh_region_chain
from report_worker.metrics import QUEUE_DEPTH
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
    if settings.metrics_port:
        ctx["metrics_server"], _ = start_http_server(settings.metrics_port)
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
    if server := ctx.get("metrics_server"):
        server.shutdown()


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
        "health_check_interval": 10,
        "on_startup": startup,
        "on_shutdown": shutdown,
        "ctx": {"settings": settings},
    }


def __getattr__(name: str) -> dict[str, Any]:
    if name == "WorkerSettings":
        return worker_options(Settings())
    raise AttributeError(name)
