"""The report queue on Redis: an arq pool, created in the lifespan when Redis answers, otherwise on first use."""

import asyncio
import datetime as dt
import enum
import logging

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from arq.constants import result_key_prefix
from arq.jobs import Job, JobStatus
from redis.exceptions import RedisError

from kampungkb_shared.jobs import REPORT_QUEUE, ReportJob, deserialize_job, serialize_job
from registry_api.settings import Settings

log = logging.getLogger(__name__)


class Enqueued(enum.Enum):
    """What became of an enqueue: the job is (or already was) waiting; or one with its id is running."""

    QUEUED = "queued"
    RUNNING = "running"


class ReportQueue:
    """Enqueues report jobs (chain refreshes, period rebuilds) with deterministic ids and a small defer, so bursts
    coalesce."""

    def __init__(self, redis_url: str, *, defer_s: float, lease_s: float, timeout_s: float = 2.0) -> None:
        self.settings = RedisSettings.from_dsn(redis_url)
        self.settings.conn_retries = 0
        self.defer = dt.timedelta(seconds=defer_s)
        self.lease_s = lease_s
        """How long a queued job's events wait for report-worker to confirm it done before they are queued again."""
        self.timeout_s = timeout_s
        self._pool: ArqRedis | None = None

    async def pool(self) -> ArqRedis:
        if self._pool is None:
            self._pool = await create_pool(
                self.settings,
                default_queue_name=REPORT_QUEUE,
                job_serializer=serialize_job,
                job_deserializer=deserialize_job,
            )
        return self._pool

    async def open(self) -> None:
        """Best effort at start-up: a Redis that is down now is connected to later."""
        try:
            async with asyncio.timeout(self.timeout_s):
                await self.pool()
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("report queue not reachable at start-up (%s); will connect on first use", exc)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()
            self._pool = None

    async def enqueue(self, job: ReportJob) -> Enqueued:
        """Queue the job; raises on a Redis failure (the caller retries later)."""
        async with asyncio.timeout(self.timeout_s):
            pool = await self.pool()
            for _ in range(3):
                queued = await pool.enqueue_job(
                    job.function,
                    job.model_dump(),
                    _job_id=job.job_id(),
                    _queue_name=REPORT_QUEUE,
                    _defer_by=self.defer,
                )
                if queued is not None:
                    return Enqueued.QUEUED
                status = await Job(job.job_id(), pool, _queue_name=REPORT_QUEUE).status()
                if status in (JobStatus.queued, JobStatus.deferred):
                    return Enqueued.QUEUED  # not started yet: it will read our committed data
                if status == JobStatus.in_progress:
                    return Enqueued.RUNNING  # it may have read before our commit: try again once it is done
                if status == JobStatus.complete:
                    # A kept result blocks the id; the refresh must run again for the new data.
                    await pool.delete(result_key_prefix + job.job_id())
                # not_found: it finished between the two calls; enqueue again.
        return Enqueued.RUNNING


def create_report_queue(settings: Settings) -> ReportQueue:
    return ReportQueue(settings.redis_url, defer_s=settings.report_defer_s, lease_s=settings.report_lease_s)
