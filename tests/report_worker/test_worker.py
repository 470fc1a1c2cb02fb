"""The arq side: coalescing ids with keep_result=0, request ids, the nightly cron, a worker killed mid-job, a job
cut short (counted by reason), and the worker process through a Redis outage and a SIGTERM mid-job."""

import asyncio
import json
import logging
import os
import pickle
import random
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.request import urlopen

import asyncpg
import pytest
from arq import Retry, Worker
from arq.connections import ArqRedis, RedisSettings, create_pool
from prometheus_client import REGISTRY

from kampungkb_local import processes
from kampungkb_local.servers import RedisServer, free_port
from kampungkb_shared.jobs import (
    REBUILD_PERIOD,
    REFRESH_REGION_CHAIN,
    REPORT_QUEUE,
    RebuildPeriod,
    RefreshRegionChain,
    deserialize_job,
    serialize_job,
)
from kampungkb_shared.observability import RequestIdFilter, json_formatter, request_id
from kampungkb_shared.periods import current_period, parse_period
from registry_api.background.report_queue import Enqueued, ReportQueue
from report_worker import jobs, worker
from report_worker.aggregates import Outcome, rebuild_period, refresh_chain
from report_worker.settings import Settings
from tests.report_worker import oracle
from tests.report_worker.data import PERIODS, RULESETS, generate
from tests.report_worker.test_aggregates import assert_same, mutate, stored

KAB = "97.01"


@pytest.fixture
async def queue_url(redis_url: str) -> AsyncIterator[str]:
    """A Redis database of this test's own, so that no other test's worker or jobs meet these."""
    url = redis_url.rsplit("/", 1)[0] + f"/{random.randint(1, 15)}"
    redis = await create_pool(
        RedisSettings.from_dsn(url), job_serializer=serialize_job, job_deserializer=deserialize_job
    )
    await redis.flushdb()
    yield url
    await redis.flushdb()
    await redis.aclose()


@pytest.fixture
async def redis(queue_url: str) -> AsyncIterator[ArqRedis]:
    pool = await create_pool(
        RedisSettings.from_dsn(queue_url), job_serializer=serialize_job, job_deserializer=deserialize_job
    )
    yield pool
    await pool.aclose()


@pytest.fixture
async def db(fresh_database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """Committed data in a database of its own, visible to worker processes."""
    connection = await asyncpg.connect(fresh_database_url)
    await generate(connection)
    for period in PERIODS:
        await rebuild_period(connection, period=period, rulesets=RULESETS)
    yield connection
    await connection.close()


def settings(database_url: str, queue_url: str, **extra: Any) -> Settings:
    return Settings(
        DATABASE_URL=database_url,
        REDIS_URL=queue_url,
        LOG_JSON=False,
        metrics_port=0,
        rebuild_on_startup=False,
        **extra,
    )


async def enqueue(redis: ArqRedis, job: RefreshRegionChain, **options: Any) -> bool:
    queued = await redis.enqueue_job(
        REFRESH_REGION_CHAIN, job.model_dump(), _job_id=job.job_id(), _queue_name=REPORT_QUEUE, **options
    )
    return queued is not None


async def run_burst(config: Settings, monkeypatch: pytest.MonkeyPatch) -> Worker:
    monkeypatch.setattr(worker, "configure_logging", lambda **_: None)  # leave pytest's log capture alone
    arq_worker = Worker(**worker.worker_options(config), burst=True, handle_signals=False)
    try:
        await arq_worker.async_run()
    finally:
        await arq_worker.close()
    return arq_worker


# arq's Worker.close() still calls redis' deprecated close()
@pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning")
async def test_same_id_coalesces_and_runs_again_after_finishing(
    db: asyncpg.Connection,
    fresh_database_url: str,
    queue_url: str,
    redis: ArqRedis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    job = RefreshRegionChain(period=PERIODS[0].strftime("%Y-%m"), kabupaten_code=KAB, request_id="r-1")
    assert await enqueue(redis, job, _defer_by=0.2)
    assert not await enqueue(redis, job), "a queued id takes no second job: the burst coalesces"
    await mutate(db, None)  # type: ignore[arg-type]
    await asyncio.sleep(0.25)
    arq_worker = await run_burst(settings(fresh_database_url, queue_url), monkeypatch)
    assert (arq_worker.jobs_complete, arq_worker.jobs_failed) == (1, 0)
    assert_same(await stored(db), oracle.expected(await oracle.read_rows(db), PERIODS, RULESETS))
    assert not await redis.exists(f"arq:result:{job.job_id()}"), "keep_result=0 stores no result"
    assert await enqueue(redis, job), "the next refresh of the same kabupaten and period is accepted at once"

    # a job that fails leaves no result either (arq stores failures under the worker-wide keep_result)
    broken = await redis.enqueue_job(
        REFRESH_REGION_CHAIN,
        {"period": "2025-13", "kabupaten_code": KAB},
        _job_id="refresh:broken",
        _queue_name=REPORT_QUEUE,
    )
    assert broken is not None
    arq_worker = await run_burst(settings(fresh_database_url, queue_url), monkeypatch)
    assert (arq_worker.jobs_complete, arq_worker.jobs_failed) == (1, 1)
    assert not await redis.exists("arq:result:refresh:broken")
    assert await redis.enqueue_job(REFRESH_REGION_CHAIN, {}, _job_id="refresh:broken", _queue_name=REPORT_QUEUE)


# arq's Worker.close() still calls redis' deprecated close()
@pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning")
async def test_job_binds_the_request_id_of_its_payload(
    db: asyncpg.Connection,
    fresh_database_url: str,
    queue_url: str,
    redis: ArqRedis,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A real worker runs a queued refresh against real data, and the lines it logs while the job runs carry the
    payload's request id, as the worker's own handler writes them (the request id filter, the JSON formatter).
    Called in a context of its own, the job leaves that context's request id as it found it."""
    caplog.handler.addFilter(RequestIdFilter())
    caplog.handler.setFormatter(json_formatter())
    caplog.set_level(logging.INFO)
    job = RefreshRegionChain(period=PERIODS[0].strftime("%Y-%m"), kabupaten_code=KAB, request_id="req-42")
    await mutate(db, None)  # type: ignore[arg-type]
    assert await enqueue(redis, job)
    arq_worker = await run_burst(settings(fresh_database_url, queue_url), monkeypatch)
    assert (arq_worker.jobs_complete, arq_worker.jobs_failed) == (1, 0)
    assert_same(await stored(db), oracle.expected(await oracle.read_rows(db), PERIODS, RULESETS))

    lines = [json.loads(line) for line in caplog.text.splitlines()]
    (done,) = [line for line in lines if line["name"] == jobs.__name__]
    assert done["message"].startswith("refresh_region_chain wrote "), done
    assert f"refreshed ['{job.period}'" in done["message"], done
    assert done["request_id"] == "req-42"

    pool = await asyncpg.create_pool(fresh_database_url, min_size=1, max_size=1)
    outer = request_id.set("outer")
    try:
        ctx = {"pool": pool, "settings": settings(fresh_database_url, queue_url), "job_id": "j"}
        result = await jobs.refresh_region_chain(ctx, job.model_dump())
        seen = request_id.get()
    finally:
        request_id.reset(outer)
        await pool.close()
    assert result["refreshed"][0] == PERIODS[0].isoformat()
    assert seen == "outer", "the job's request id stays the job's"


async def test_a_job_whose_connection_the_server_ends_is_run_again_not_dropped(
    db: asyncpg.Connection, fresh_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL restarted mid-job ends the job's connection (57P01), and the transaction's exit then finds it
    closed: the database was away, so the job is queued again (`Retry`) as when it cannot connect at all, rather
    than dropped, which left the events it owed waiting for their lease."""

    async def cut_off(connection: asyncpg.Connection, **kwargs: Any) -> Outcome:
        async with connection.transaction():
            await db.execute("SELECT pg_terminate_backend($1)", await connection.fetchval("SELECT pg_backend_pid()"))
            await connection.fetchval("SELECT 1")
        raise AssertionError("the connection was ended")

    monkeypatch.setattr(jobs, "refresh_chain", cut_off)
    pool = await asyncpg.create_pool(fresh_database_url, min_size=1, max_size=1)
    try:
        ctx = {"pool": pool, "settings": settings(fresh_database_url, "redis://unused"), "job_id": "j", "job_try": 2}
        with pytest.raises(Retry) as retried:
            await jobs.refresh_region_chain(ctx, {"period": "2025-01", "kabupaten_code": KAB})
        assert retried.value.defer_score == 4_000  # 2 ** job_try seconds, in milliseconds
    finally:
        await pool.close()


async def test_a_rebuild_job_rebuilds_the_computed_periods_after_its_own_up_to_through(
    db: asyncpg.Connection, fresh_database_url: str
) -> None:
    months = [f"{period:%Y-%m}" for period in PERIODS]
    pool = await asyncpg.create_pool(fresh_database_url, min_size=1, max_size=1)
    try:
        ctx = {"pool": pool, "settings": settings(fresh_database_url, "redis://unused"), "job_id": "j"}
        await mutate(db, None)  # type: ignore[arg-type]
        bounded = await jobs.rebuild_whole_period(ctx, {"period": months[0], "through": months[1]})
        onward = await jobs.rebuild_whole_period(ctx, {"period": months[1], "through": None})
        alone = await jobs.rebuild_whole_period(ctx, {"period": months[2]})
    finally:
        await pool.close()
    assert bounded["rebuilt"] == [p.isoformat() for p in PERIODS[:2]]
    assert onward["rebuilt"] == [p.isoformat() for p in PERIODS[1:]]
    assert alone["rebuilt"] == [PERIODS[2].isoformat()]
    assert_same(await stored(db), oracle.expected(await oracle.read_rows(db), PERIODS, RULESETS))


async def test_nightly_cron_rebuilds_the_current_period(db: asyncpg.Connection, fresh_database_url: str) -> None:
    options = worker.worker_options(settings(fresh_database_url, "redis://127.0.0.1:1/0"))
    (cron_job,) = options["cron_jobs"]
    assert cron_job.name == "cron:nightly_rebuild" and cron_job.keep_result_s == 0
    assert {f.name: f.keep_result_s for f in options["functions"]} == {REFRESH_REGION_CHAIN: 0, REBUILD_PERIOD: 0}
    assert options["keep_result"] == 0
    pool = await asyncpg.create_pool(fresh_database_url, min_size=1, max_size=1)
    try:
        ctx = {"pool": pool, "settings": settings(fresh_database_url, "redis://unused")}
        result = await jobs.nightly_rebuild(ctx)
    finally:
        await pool.close()
    assert result["rebuilt"] == [parse_period(current_period()).isoformat()]
    nation = await db.fetchval(
        "SELECT desa_total FROM report_aggregate WHERE period = $1 AND ruleset = $2 AND code = '00'",
        parse_period(current_period()),
        RULESETS[0],
    )
    assert nation == sum(1 for _ in (await oracle.read_rows(db)).wilayah if _["level"] == "desa")


async def test_parallel_chain_refreshes_leave_every_sum_right(db: asyncpg.Connection, fresh_database_url: str) -> None:
    """Chains of kabupaten in the same provinsi, refreshed at once on separate connections, then one rebuild."""
    kabs = ["97.01", "97.71", "98.01", "98.71"]
    for n, kab in enumerate(kabs):
        kampung_id = await db.fetchval("SELECT min(id) FROM kampung WHERE kabupaten_code = $1 AND active", kab)
        await db.execute(
            """UPDATE submission SET payload = jsonb_set(payload, '{kb_users,KB_PIL}', to_jsonb(1000 + $2::int))
                WHERE kampung_id = $1 AND module = 'kkbpk'""",
            kampung_id,
            n,
        )
        if n % 2:
            await db.execute("UPDATE kampung SET percontohan_provinsi = true WHERE id = $1", kampung_id)
    pool = await asyncpg.create_pool(fresh_database_url, min_size=len(kabs) + 1, max_size=len(kabs) + 1)
    try:

        async def refresh(kab: str) -> Outcome:
            async with pool.acquire() as connection:
                return await refresh_chain(connection, period=PERIODS[0], kabupaten_code=kab, rulesets=RULESETS)

        async def rebuild() -> Outcome:
            async with pool.acquire() as connection:
                return await rebuild_period(connection, period=PERIODS[3], rulesets=RULESETS)

        outcomes = await asyncio.gather(*(refresh(kab) for kab in kabs * 2), rebuild())
    finally:
        await pool.close()
    assert all(o.refreshed == PERIODS for o in outcomes[:-1])
    assert_same(await stored(db), oracle.expected(await oracle.read_rows(db), PERIODS, RULESETS))


async def _wait(predicate: Any, within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.e2e
async def test_worker_killed_mid_job_leaves_correct_aggregates_after_restart(
    db: asyncpg.Connection, fresh_database_url: str, queue_url: str, redis: ArqRedis
) -> None:
    before = await stored(db)
    await mutate(db, None)  # type: ignore[arg-type]
    wanted = oracle.expected(await oracle.read_rows(db), PERIODS, RULESETS)
    assert before != wanted
    metrics_port = free_port()
    env = {
        "DATABASE_URL": fresh_database_url,
        "REDIS_URL": queue_url,
        "WORKER_METRICS_PORT": str(metrics_port),
        "WORKER_REBUILD_ON_STARTUP": "false",
        "WORKER_JOB_TIMEOUT_S": "3",
        "WORKER_REBUILD_TIMEOUT_S": "3",
        "LOG_JSON": "false",
    }
    first = processes.report_worker()
    first.env = env
    first.start()
    # The kabupaten's lock held from outside, as a long refresh of it would: the job waits inside its transaction.
    holder = await asyncpg.connect(fresh_database_url)
    try:
        await holder.execute("SELECT pg_advisory_lock(hashtext('kampungkb:report:kabupaten:' || $1::text))", KAB)
        job = RefreshRegionChain(period=PERIODS[0].strftime("%Y-%m"), kabupaten_code=KAB, request_id="kill-1")
        assert await enqueue(redis, job)

        async def waiting_inside_the_job() -> bool:
            return bool(
                await db.fetchval(
                    """SELECT count(*) FROM pg_stat_activity
                        WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event = 'advisory'"""
                )
            )

        await _wait(waiting_inside_the_job, 30, "the job to be inside its transaction")
        first.kill()
    finally:
        first.kill()
        await holder.close()
    assert await stored(db) == before, "nothing of the killed job's transaction is visible"
    assert await redis.exists(f"arq:in-progress:{job.job_id()}"), "arq still thinks it runs: it waits for expiry"

    second = processes.report_worker()
    second.env = env
    second.start()
    try:

        async def correct() -> bool:
            return await stored(db) == wanted

        # in-progress expires the longest timeout + 10 s after the start; then the job runs again (try 2)
        await _wait(correct, 40, "the re-run job to commit")
        await _wait(lambda: _gone(redis, job.job_id()), 5, "the job's keys to be cleared")
        url = f"http://127.0.0.1:{metrics_port}/metrics"
        body = (await asyncio.to_thread(lambda: urlopen(url, timeout=5).read())).decode()
        assert 'report_job_duration_seconds_count{function="refresh_region_chain"} 1.0' in body
        assert "report_queue_depth" in body
    finally:
        second.stop()


async def _gone(redis: ArqRedis, job_id: str) -> bool:
    keys = [f"arq:job:{job_id}", f"arq:in-progress:{job_id}", f"arq:result:{job_id}", f"arq:retry:{job_id}"]
    return not await redis.exists(*keys) and await redis.zcard(REPORT_QUEUE) == 0


class _Trap:
    """Unpickling this makes a directory: a worker that unpickles jobs would run it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.mkdir, (str(self.path),))


@pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning")
async def test_registry_queue_stores_json_that_a_real_worker_runs(
    db: asyncpg.Connection, fresh_database_url: str, queue_url: str, redis: ArqRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = RefreshRegionChain(period=PERIODS[0].strftime("%Y-%m"), kabupaten_code=KAB, request_id="json-1")
    queue = ReportQueue(queue_url, defer_s=0.0, lease_s=120.0)
    try:
        assert await queue.enqueue(job) is Enqueued.QUEUED
    finally:
        await queue.close()
    raw = await redis.get(f"arq:job:{job.job_id()}")
    assert raw is not None and not raw.startswith(b"\x80"), "not a pickle"
    stored_job = json.loads(raw)
    assert (stored_job["f"], stored_job["a"], stored_job["k"]) == (REFRESH_REGION_CHAIN, [job.model_dump()], {})

    await mutate(db, None)  # type: ignore[arg-type]
    arq_worker = await run_burst(settings(fresh_database_url, queue_url), monkeypatch)
    assert (arq_worker.jobs_complete, arq_worker.jobs_failed) == (1, 0)
    assert_same(await stored(db), oracle.expected(await oracle.read_rows(db), PERIODS, RULESETS))


@pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning")
async def test_a_pickled_job_is_refused_unrun(
    db: asyncpg.Connection,
    fresh_database_url: str,
    queue_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    marker = tmp_path / "unpickled"
    with pytest.raises(ValueError):
        deserialize_job(pickle.dumps({"f": REFRESH_REGION_CHAIN, "a": [], "k": {}, "t": 1, "et": 0}))
    before = await stored(db)
    await mutate(db, None)  # type: ignore[arg-type]
    pickling = await create_pool(RedisSettings.from_dsn(queue_url))  # arq's default serializer: pickle
    try:
        queued = await pickling.enqueue_job(
            REFRESH_REGION_CHAIN, _Trap(marker), _job_id="refresh:pickled", _queue_name=REPORT_QUEUE
        )
        assert queued is not None
        arq_worker = await run_burst(settings(fresh_database_url, queue_url), monkeypatch)
        assert (arq_worker.jobs_complete, arq_worker.jobs_failed) == (0, 1)
        assert not marker.exists(), "the payload was never unpickled"
        assert await stored(db) == before, "the job did not run"
        assert await pickling.zcard(REPORT_QUEUE) == 0, "and it left the queue"
    finally:
        await pickling.aclose()


_OWED_EVENT = "INSERT INTO outbox (topic, key, payload) VALUES ('report', $1, $2::jsonb) RETURNING id"


@pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning")
async def test_a_job_confirms_the_events_it_saw_and_no_later_one(
    db: asyncpg.Connection,
    fresh_database_url: str,
    queue_url: str,
    redis: ArqRedis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    job = RefreshRegionChain(period=PERIODS[0].strftime("%Y-%m"), kabupaten_code=KAB)
    other = RefreshRegionChain(period=PERIODS[1].strftime("%Y-%m"), kabupaten_code=KAB)
    payload, other_payload = job.model_dump_json(), other.model_dump_json()
    seen = [await db.fetchval(_OWED_EVENT, job.key(), payload) for _ in range(2)]
    not_its_own = await db.fetchval(_OWED_EVENT, other.key(), other_payload)
    late: list[int] = []
    read_owed = jobs.confirmations.owed

    async def owed_then_a_write_commits(connection: asyncpg.Connection, key: str) -> list[int]:
        ids = await read_owed(connection, key)
        late.append(await db.fetchval(_OWED_EVENT, key, payload))  # committed after the job's read: maybe unseen
        return ids

    monkeypatch.setattr(jobs.confirmations, "owed", owed_then_a_write_commits)
    assert await enqueue(redis, job)
    arq_worker = await run_burst(settings(fresh_database_url, queue_url), monkeypatch)
    assert (arq_worker.jobs_complete, arq_worker.jobs_failed) == (1, 0)
    delivered = {
        row["id"]: row["delivered_at"] is not None
        for row in await db.fetch("SELECT id, delivered_at FROM outbox WHERE topic = 'report'")
    }
    assert delivered == {seen[0]: True, seen[1]: True, not_its_own: False, late[0]: False}


@pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning")
async def test_a_rebuild_may_outlast_a_chain_refreshs_timeout(
    fresh_database_url: str, queue_url: str, redis: ArqRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rebuild going on through years of computed periods takes minutes; a chain refresh that long is stuck."""

    async def slow(connection: asyncpg.Connection, **kwargs: Any) -> Outcome:
        await asyncio.sleep(1.5)
        return Outcome(rebuilt=[], refreshed=[], rows=0)

    monkeypatch.setattr(jobs, "rebuild_period", slow)
    monkeypatch.setattr(jobs, "refresh_chain", slow)
    rebuild = RebuildPeriod(period="2024-01", through=None)
    await redis.enqueue_job(REBUILD_PERIOD, rebuild.model_dump(), _job_id=rebuild.job_id(), _queue_name=REPORT_QUEUE)
    assert await enqueue(redis, RefreshRegionChain(period="2024-01", kabupaten_code=KAB))
    config = settings(fresh_database_url, queue_url, job_timeout_s=0.5, rebuild_timeout_s=5.0)
    timed_out = failures("refresh_region_chain", "timeout")
    arq_worker = await run_burst(config, monkeypatch)
    assert (arq_worker.jobs_complete, arq_worker.jobs_failed) == (1, 1)
    assert failures("refresh_region_chain", "timeout") == timed_out + 1, "arq's timeout cancels it: counted"


def failures(function: str, reason: str) -> float:
    """`report_job_failures_total` of this process so far."""
    return REGISTRY.get_sample_value("report_job_failures_total", {"function": function, "reason": reason}) or 0.0


_LOCK_KABUPATEN = "SELECT pg_advisory_lock(hashtext('kampungkb:report:kabupaten:' || $1::text))"


async def _inside_the_job(db: asyncpg.Connection) -> bool:
    """A job waits inside its transaction for the kabupaten's lock, held from outside as a long refresh would."""
    return bool(
        await db.fetchval(
            """SELECT count(*) FROM pg_stat_activity
                WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event = 'advisory'"""
        )
    )


@pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning")
async def test_a_job_cut_short_at_shutdown_is_counted_cancelled_and_stays_queued(
    db: asyncpg.Connection, fresh_database_url: str, queue_url: str, redis: ArqRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGTERM with no time left to wait (`shutdown_wait_s=0`): arq cancels the running job, which counts itself as
    cancelled, not as a failure of its own, and stays queued for the next worker."""
    monkeypatch.setattr(worker, "configure_logging", lambda **_: None)
    holder = await asyncpg.connect(fresh_database_url)
    try:
        await holder.execute(_LOCK_KABUPATEN, KAB)
        job = RefreshRegionChain(period=PERIODS[0].strftime("%Y-%m"), kabupaten_code=KAB, request_id="cut-1")
        assert await enqueue(redis, job)
        cancelled, errors = failures("refresh_region_chain", "cancelled"), failures("refresh_region_chain", "error")
        config = settings(fresh_database_url, queue_url, shutdown_wait_s=0)
        arq_worker = Worker(**worker.worker_options(config), handle_signals=False)
        running = asyncio.create_task(arq_worker.async_run())
        try:
            await _wait(lambda: _inside_the_job(db), 30, "the job to be inside its transaction")
            arq_worker.handle_sig_wait_for_completion(signal.SIGTERM)
            with pytest.raises(asyncio.CancelledError):
                await running
        finally:
            await arq_worker.close()
    finally:
        await holder.close()
    assert failures("refresh_region_chain", "cancelled") == cancelled + 1
    assert failures("refresh_region_chain", "error") == errors
    assert await redis.zscore(REPORT_QUEUE, job.job_id()) is not None, "queued still: the next worker runs it"


def _worker_env(database_url: str, redis_url: str, metrics_port: int) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "WORKER_METRICS_PORT": str(metrics_port),
        "WORKER_REBUILD_ON_STARTUP": "false",
        "WORKER_REDIS_RETRY_MAX_S": "0.5",
        "LOG_JSON": "false",
        "LOG_LEVEL": "INFO",
    }


async def _logged(log_file: Path, text: str) -> bool:
    return text in await asyncio.to_thread(log_file.read_text)


async def _get(url: str) -> int:
    def get() -> int:
        with urlopen(url, timeout=5) as response:
            return int(response.status)

    return await asyncio.to_thread(get)


async def _exited(service: processes.Service) -> bool:
    return not service.running


@pytest.mark.e2e
async def test_the_worker_process_waits_out_a_redis_outage_and_then_runs_the_jobs_queued(
    db: asyncpg.Connection, fresh_database_url: str, tmp_path: Path
) -> None:
    """Redis stopped under a running worker: the process stays up, its loop alive (`/healthz`), trying Redis again
    with backoff and logging one line as Redis goes and one as it comes back (not one per attempt); a job queued once
    Redis is back runs. SIGTERM then ends it cleanly."""
    redis_server = RedisServer(tmp_path / "redis", free_port()).start()
    metrics_port = free_port()
    log_file = tmp_path / "worker.log"
    report_worker = processes.report_worker()
    report_worker.env = _worker_env(fresh_database_url, redis_server.url, metrics_port)
    try:
        report_worker.start(log_file=log_file)
        await _wait(lambda: _logged(log_file, "report worker ready"), 60, "the worker to start")
        healthz = f"http://127.0.0.1:{metrics_port}/healthz"
        assert await _get(healthz) == 200

        redis_server.stop()
        await _wait(lambda: _logged(log_file, "Redis unavailable"), 30, "the worker to see Redis gone")
        await asyncio.sleep(2.0)  # several attempts fail meanwhile (every 0.5 s at most)
        assert report_worker.running, log_file.read_text()
        assert await _get(healthz) == 200, "the event loop goes on: no restart for want of Redis"

        redis_server.start()
        await _wait(lambda: _logged(log_file, "Redis answers again"), 30, "the worker to take Redis back")
        await mutate(db, None)  # type: ignore[arg-type]
        wanted = oracle.expected(await oracle.read_rows(db), PERIODS, RULESETS)
        pool = await create_pool(
            RedisSettings.from_dsn(redis_server.url), job_serializer=serialize_job, job_deserializer=deserialize_job
        )
        try:
            job = RefreshRegionChain(period=PERIODS[0].strftime("%Y-%m"), kabupaten_code=KAB, request_id="back-1")
            assert await enqueue(pool, job)

            async def correct() -> bool:
                return await stored(db) == wanted

            await _wait(correct, 60, "the job queued after the outage to commit")
            await _wait(lambda: _gone(pool, job.job_id()), 10, "the job's keys to be cleared")
        finally:
            await pool.aclose()
        assert report_worker.running
        logged = log_file.read_text()
        assert logged.count("Redis unavailable") == 1, logged
        assert logged.count("Redis answers again") == 1, logged
        report_worker.stop(timeout=30)
        assert report_worker.process is not None and report_worker.process.returncode == 0, log_file.read_text()
    finally:
        report_worker.kill()
        redis_server.stop()


@pytest.mark.e2e
async def test_sigterm_lets_the_running_job_finish_before_the_process_ends(
    db: asyncpg.Connection, fresh_database_url: str, queue_url: str, redis: ArqRedis, tmp_path: Path
) -> None:
    """`job_completion_wait`: on SIGTERM no job is taken and the one running commits (here once the lock it waits
    for is let go, after the signal); the process then ends by itself, within the pods' grace period."""
    await mutate(db, None)  # type: ignore[arg-type]
    wanted = oracle.expected(await oracle.read_rows(db), PERIODS, RULESETS)
    log_file = tmp_path / "worker.log"
    report_worker = processes.report_worker()
    report_worker.env = _worker_env(fresh_database_url, queue_url, free_port())
    holder = await asyncpg.connect(fresh_database_url)
    try:
        await holder.execute(_LOCK_KABUPATEN, KAB)
        report_worker.start(log_file=log_file)
        job = RefreshRegionChain(period=PERIODS[0].strftime("%Y-%m"), kabupaten_code=KAB, request_id="term-1")
        assert await enqueue(redis, job)
        await _wait(lambda: _inside_the_job(db), 60, "the job to be inside its transaction")
        assert report_worker.process is not None
        report_worker.process.send_signal(signal.SIGTERM)
        await _wait(lambda: _logged(log_file, "Setting allow_pick_jobs to `False`"), 30, "the signal to be handled")
        await holder.execute("SELECT pg_advisory_unlock_all()")
        await _wait(lambda: _exited(report_worker), 60, "the process to end")
        assert report_worker.process.returncode == 0, log_file.read_text()
    finally:
        report_worker.kill()
        await holder.close()
    assert await stored(db) == wanted, "the job ran to its commit after SIGTERM"
    assert await _gone(redis, job.job_id()), "and arq recorded it done"
