"""Nothing lost: the outbox written with the submission, the classifier or Redis down, and the relay delivering."""

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import asyncpg
import httpx
import pytest
from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.jobs import Job
from prometheus_client import REGISTRY
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kampungkb_local.demo import demo_regions
from kampungkb_shared.jobs import (
    REBUILD_PERIOD,
    REFRESH_REGION_CHAIN,
    REPORT_QUEUE,
    RebuildPeriod,
    RefreshRegionChain,
    ReportJob,
    deserialize_job,
    report_job,
    serialize_job,
)
from registry_api.background.relay import _CLAIM_DUE, Relay, deliver_reports
from registry_api.background.report_queue import Enqueued, ReportQueue
from registry_api.changes import outbox as events
from registry_api.changes.models import OutboxEvent
from registry_api.classifications.client import ClassifierClient, classifier_session
from registry_api.classifications.models import Classification
from registry_api.db import create_engine, create_sessionmaker, session_driver
from registry_api.kampung.models import Kampung
from registry_api.main import create_app
from registry_api.settings import Settings
from tests.factories import kependudukan_payload, load_demo_regions, make_kampung, make_key, put_module
from tests.registry_api.conftest import app_client, registry_settings

LEASE_S = 120.0
"""The lease of the queues these tests make, as `REGISTRY_REPORT_LEASE_S` sets it by default: long past each test."""


@pytest.fixture
async def arq_redis(redis_url: str) -> AsyncIterator[ArqRedis]:
    pool = await create_pool(
        RedisSettings.from_dsn(redis_url),
        default_queue_name=REPORT_QUEUE,
        job_serializer=serialize_job,
        job_deserializer=deserialize_job,
    )
    yield pool
    await pool.aclose()


async def forget_job(redis: ArqRedis, job_id: str) -> None:
    await redis.delete(f"arq:job:{job_id}", f"arq:result:{job_id}", f"arq:in-progress:{job_id}")
    await redis.zrem(REPORT_QUEUE, job_id)


async def owed_fresh(session: AsyncSession, redis: ArqRedis, job: RefreshRegionChain) -> RefreshRegionChain:
    """The job's `report` event written, and nothing of the job in Redis."""
    await forget_job(redis, job.job_id())
    session.add(OutboxEvent(topic="report", key=job.key(), payload=job.model_dump()))
    await session.flush()
    return job


async def pending(session: AsyncSession, topic: str) -> list[OutboxEvent]:
    """The events still owed (a `report` event: until report-worker confirms its job done)."""
    query = select(OutboxEvent).where(OutboxEvent.topic == topic, OutboxEvent.delivered_at.is_(None))
    return list(await session.scalars(query.order_by(OutboxEvent.id).execution_options(populate_existing=True)))


async def due(session: AsyncSession, topic: str) -> list[OutboxEvent]:
    """The events owed that a relay's next pass takes: neither backing off nor leased to a queued job."""
    return [e for e in await pending(session, topic) if e.available_at <= await session.scalar(func.clock_timestamp())]


async def leased(session: AsyncSession, topic: str) -> list[float]:
    """Seconds until each owed event's lease (or back-off) runs out, in id order."""
    waits = await session.scalars(
        select(func.extract("epoch", OutboxEvent.available_at - func.clock_timestamp()))
        .where(OutboxEvent.topic == topic, OutboxEvent.delivered_at.is_(None))
        .order_by(OutboxEvent.id)
    )
    return [float(wait) for wait in waits]


def relay_for(sessionmaker: async_sessionmaker[AsyncSession], http: aiohttp.ClientSession, queue: ReportQueue) -> Relay:
    classifier = ClassifierClient(http, attempts=2, timeout_s=2.0, breaker_s=0.0)
    return Relay(sessionmaker=sessionmaker, classifier=classifier, queue=queue, rulesets=["bkkbn-web-2021", "kkb-2025"])


async def test_classifier_unreachable_put_succeeds_pending_and_the_relay_catches_up(
    session: AsyncSession,
    session_factory: async_sessionmaker[AsyncSession],
    database_url: str,
    redis_url: str,
    classifier_url: str,
    dead_url: str,
) -> None:
    await load_demo_regions(session)
    key = await make_key(session)
    async with app_client(registry_settings(database_url, redis_url, dead_url), session_factory) as (app, client):
        kampung_id = (await make_kampung(client, key))["id"]
        response = await put_module(
            client, key, kampung_id, "kependudukan", "2024-02", kependudukan_payload(), **{"X-Request-ID": "rid-outage"}
        )
        assert response.status_code == 201
        assert response.json()["classification"] == {"status": "pending"}
        assert app.state.classifier.breaker_open
        assert "\nregistry_classifier_breaker_open 1.0\n" in (await client.get("/metrics")).text
        # While the breaker is open, writes do not wait for the classifier at all.
        again = await put_module(client, key, kampung_id, "kependudukan", "2024-01", kependudukan_payload())
        assert again.json()["classification"] == {"status": "pending"}
    assert (await session.scalar(select(func.count()).select_from(Classification))) == 0
    classify = await pending(session, "classify")
    assert [(e.key, e.payload, e.request_id) for e in classify[:1]] == [
        (str(kampung_id), {"kampung_id": kampung_id, "period": "2024-02"}, "rid-outage")
    ]
    assert classify[1].payload["period"] == "2024-01"

    async with classifier_session(classifier_url) as http:
        queue = ReportQueue(redis_url, defer_s=0.3, lease_s=LEASE_S)
        relay = relay_for(session_factory, http, queue)
        assert await relay.deliver_classify() == 2
        assert REGISTRY.get_sample_value("registry_classifier_breaker_open") == 0.0  # the classifier answered
        await queue.close()
    assert await pending(session, "classify") == []
    rows = (await session.scalars(select(Classification).where(Classification.kampung_id == kampung_id))).all()
    assert {(f"{r.period:%Y-%m}", r.ruleset) for r in rows} == {
        (p, r) for p in ("2024-01", "2024-02") for r in ("bkkbn-web-2021", "kkb-2025")
    }
    kampung = await session.get(Kampung, kampung_id, populate_existing=True)
    assert kampung is not None and kampung.tier is not None
    # The relay also queued a report refresh from the earliest period whose classification it changed (the chain
    # refresh covers the later ones).
    relayed = [e for e in await pending(session, "report") if e.key.startswith("2024-")]
    assert relayed[-1].key == "2024-01:99.01"


async def test_hung_classifier_does_not_hold_a_put_beyond_the_budget(
    session: AsyncSession,
    session_factory: async_sessionmaker[AsyncSession],
    database_url: str,
    redis_url: str,
) -> None:
    done = asyncio.Event()

    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await done.wait()
        writer.close()

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    await load_demo_regions(session)
    key = await make_key(session)
    try:
        settings = registry_settings(database_url, redis_url, f"http://127.0.0.1:{port}")
        async with app_client(settings, session_factory) as (_, client):
            kampung_id = (await make_kampung(client, key))["id"]
            started = time.monotonic()
            response = await put_module(client, key, kampung_id, "kependudukan", "2024-02", kependudukan_payload())
            elapsed = time.monotonic() - started
            # The classifier never answers: the write came back on its own budget, with the classifier's connection
            # still open and unanswered.
            answered_without_the_classifier = not done.is_set()
    finally:
        done.set()
        server.close()
        await server.wait_closed()
    assert response.status_code == 201
    assert response.json()["classification"] == {"status": "pending"}
    assert answered_without_the_classifier
    assert elapsed >= settings.classifier_budget_s  # it did wait for the classifier, as long as the budget allows
    assert len(await pending(session, "classify")) == 1


async def test_report_job_enqueued_right_after_commit(
    client: httpx.AsyncClient, settings: Settings, session: AsyncSession, arq_redis: ArqRedis
) -> None:
    await load_demo_regions(session)
    key = await make_key(session)
    kampung_id = (await make_kampung(client, key))["id"]
    job_id = RefreshRegionChain(period="2024-07", kabupaten_code="99.01").job_id()
    await forget_job(arq_redis, job_id)
    before_ms = time.time() * 1000
    response = await put_module(
        client, key, kampung_id, "kependudukan", "2024-07", kependudukan_payload(), **{"X-Request-ID": "rid-report"}
    )
    assert response.status_code == 201
    leases = await leased(session, "report")  # the registration's and the write's: owed until a job confirms them
    assert len(leases) == 2 and all(110 < lease <= 120 for lease in leases), leases
    job = Job(job_id, arq_redis, _queue_name=REPORT_QUEUE, _deserializer=deserialize_job)
    info = await job.info()
    assert info is not None
    assert info.function == REFRESH_REGION_CHAIN
    assert info.args == ({"period": "2024-07", "kabupaten_code": "99.01", "through": None, "request_id": "rid-report"},)
    score = await arq_redis.zscore(REPORT_QUEUE, job_id)
    defer_ms = settings.report_defer_s * 1000
    assert score is not None and score >= before_ms + defer_ms  # deferred a little, so that a burst coalesces
    await forget_job(arq_redis, job_id)


async def test_redis_down_write_succeeds_and_report_events_back_off(
    session: AsyncSession,
    session_factory: async_sessionmaker[AsyncSession],
    database_url: str,
    redis_url: str,
    classifier_url: str,
    dead_url: str,
    arq_redis: ArqRedis,
) -> None:
    await load_demo_regions(session)
    key = await make_key(session)
    dead_redis = dead_url.replace("http", "redis") + "/0"
    settings = Settings(  # type: ignore[call-arg]
        DATABASE_URL=database_url,
        REDIS_URL=dead_redis,
        LOG_JSON=False,
        classifier_url=classifier_url,
        outbox_relay_in_api=False,
    )
    async with app_client(settings, session_factory) as (_, client):
        kampung_id = (await make_kampung(client, key))["id"]
        await session.execute(delete(OutboxEvent))  # the registration's own report event aside
        before = await session.scalar(func.clock_timestamp())
        response = await put_module(client, key, kampung_id, "kependudukan", "2024-08", kependudukan_payload())
        after = await session.scalar(func.clock_timestamp())
    assert response.status_code == 201
    assert response.json()["classification"]["status"] == "classified"
    [event] = await pending(session, "report")
    assert event.key == "2024-08:99.01"
    assert event.attempts == 1
    assert event.last_error
    assert before is not None and after is not None
    backoff = dt.timedelta(seconds=0.5)  # after the first failure
    assert before + backoff <= event.available_at <= after + backoff
    # Redis is back: once due, the relay delivers it.
    job_id = RefreshRegionChain(period="2024-08", kabupaten_code="99.01").job_id()
    await forget_job(arq_redis, job_id)
    queue = ReportQueue(redis_url, defer_s=0.3, lease_s=LEASE_S)
    await session.execute(update(OutboxEvent).values(available_at=func.now() + text("interval '1 hour'")))
    assert await deliver_reports(session_factory, queue, limit=10) == 0  # not due yet
    await session.execute(update(OutboxEvent).values(available_at=func.now() - text("interval '1 second'")))
    assert await deliver_reports(session_factory, queue, limit=10) == 1
    await queue.close()
    assert await due(session, "report") == []
    assert await arq_redis.zscore(REPORT_QUEUE, job_id) is not None
    await forget_job(arq_redis, job_id)


async def test_enqueue_respects_a_running_job_and_replaces_a_finished_one(redis_url: str, arq_redis: ArqRedis) -> None:
    job = RefreshRegionChain(period="2024-09", kabupaten_code="99.71")
    await forget_job(arq_redis, job.job_id())
    queue = ReportQueue(redis_url, defer_s=0.3, lease_s=LEASE_S)
    try:
        assert await queue.enqueue(job) is Enqueued.QUEUED
        assert await queue.enqueue(job) is Enqueued.QUEUED  # still waiting: it will see the new data
        assert await arq_redis.zcard(REPORT_QUEUE) >= 1
        await arq_redis.set(f"arq:in-progress:{job.job_id()}", b"1")
        assert await queue.enqueue(job) is Enqueued.RUNNING  # may have read before our commit: retry later
        await forget_job(arq_redis, job.job_id())
        await arq_redis.set(f"arq:result:{job.job_id()}", b"kept result")
        assert await queue.enqueue(job) is Enqueued.QUEUED  # a kept result must not block the next refresh
        assert await arq_redis.exists(f"arq:result:{job.job_id()}") == 0
        assert await arq_redis.zscore(REPORT_QUEUE, job.job_id()) is not None
    finally:
        await forget_job(arq_redis, job.job_id())
        await queue.close()


async def test_running_job_keeps_the_event_pending(
    session: AsyncSession, session_factory: async_sessionmaker[AsyncSession], redis_url: str, arq_redis: ArqRedis
) -> None:
    job = await owed_fresh(session, arq_redis, RefreshRegionChain(period="2024-10", kabupaten_code="99.71"))
    await arq_redis.set(f"arq:job:{job.job_id()}", b"x")
    await arq_redis.set(f"arq:in-progress:{job.job_id()}", b"1")
    queue = ReportQueue(redis_url, defer_s=0.3, lease_s=LEASE_S)
    try:
        assert await deliver_reports(session_factory, queue, limit=10) == 1
        [event] = await pending(session, "report")
        assert (event.attempts, event.last_error) == (0, "job running")
        await forget_job(arq_redis, job.job_id())
        await session.execute(update(OutboxEvent).values(available_at=func.now()))
        assert await deliver_reports(session_factory, queue, limit=10) == 1
        assert await due(session, "report") == []
    finally:
        await forget_job(arq_redis, job.job_id())
        await queue.close()


async def test_a_job_redis_lost_is_queued_again_once_its_lease_runs_out(
    session: AsyncSession, session_factory: async_sessionmaker[AsyncSession], redis_url: str, arq_redis: ArqRedis
) -> None:
    job = await owed_fresh(session, arq_redis, RefreshRegionChain(period="2024-11", kabupaten_code="99.71"))
    queue = ReportQueue(redis_url, defer_s=60, lease_s=LEASE_S)
    lease_over = update(OutboxEvent).values(available_at=func.now() - text("interval '1 second'"))
    try:
        assert await deliver_reports(session_factory, queue, limit=10) == 1
        first_score = await arq_redis.zscore(REPORT_QUEUE, job.job_id())
        assert first_score is not None
        assert await deliver_reports(session_factory, queue, limit=10) == 0  # leased to its queued job
        [lease] = await leased(session, "report")
        assert LEASE_S - 10 < lease <= LEASE_S
        await session.execute(lease_over)
        # Unconfirmed, but its job still waits in the queue: leased again, and still one job.
        assert await deliver_reports(session_factory, queue, limit=10) == 1
        assert await arq_redis.zscore(REPORT_QUEUE, job.job_id()) == first_score  # the same job, not a second
        await forget_job(arq_redis, job.job_id())  # Redis lost it (a restart without its file, a failover)
        await session.execute(lease_over)
        assert await deliver_reports(session_factory, queue, limit=10) == 1
        info = await Job(job.job_id(), arq_redis, _queue_name=REPORT_QUEUE, _deserializer=deserialize_job).info()
        assert info is not None and info.args == (job.model_dump(),)
        [event] = await pending(session, "report")  # owed until report-worker confirms a job of its key done
        assert event.attempts == 0
    finally:
        await forget_job(arq_redis, job.job_id())
        await queue.close()


class RecordingQueue(ReportQueue):
    """A real queue that also records what it was asked to enqueue, and takes its time, to widen any race."""

    def __init__(self, redis_url: str) -> None:
        super().__init__(redis_url, defer_s=60, lease_s=LEASE_S)
        self.job_ids: list[str] = []

    async def enqueue(self, job: ReportJob) -> Enqueued:
        self.job_ids.append(job.job_id())
        await asyncio.sleep(0.005)
        return await super().enqueue(job)


async def test_concurrent_relays_deliver_each_event_once(
    fresh_database_url: str, committed_session: AsyncSession, redis_url: str, arq_redis: ArqRedis
) -> None:
    jobs = [
        RefreshRegionChain(period=f"20{20 + n // 12:02d}-{n % 12 + 1:02d}", kabupaten_code="98.01") for n in range(60)
    ]
    for job in jobs:
        await forget_job(arq_redis, job.job_id())
    committed_session.add_all(
        [OutboxEvent(topic="report", key=f"{j.period}:{j.kabupaten_code}", payload=j.model_dump()) for j in jobs]
    )
    await committed_session.commit()
    engines = [create_engine(fresh_database_url, pool_size=2) for _ in range(3)]
    queues = [RecordingQueue(redis_url) for _ in engines]
    try:

        async def drain(index: int) -> None:
            while await deliver_reports(create_sessionmaker(engines[index]), queues[index], limit=7):
                pass

        await asyncio.gather(*(drain(i) for i in range(len(engines))))
    finally:
        for queue in queues:
            await queue.close()
        for engine in engines:
            await engine.dispose()
    enqueued = [job_id for queue in queues for job_id in queue.job_ids]
    assert sorted(enqueued) == sorted(j.job_id() for j in jobs)
    assert sum(1 for queue in queues if queue.job_ids) > 1  # they really ran side by side
    assert await due(committed_session, "report") == []
    for job in jobs:
        await forget_job(arq_redis, job.job_id())


async def test_backlog_gauge_and_metrics_endpoint(
    client: httpx.AsyncClient, session: AsyncSession, session_factory: async_sessionmaker[AsyncSession], redis_url: str
) -> None:
    payload: dict[str, Any] = {"kampung_id": 1, "period": "2024-01"}
    session.add_all([OutboxEvent(topic="classify", key="1", payload=payload) for _ in range(3)])
    await session.flush()
    async with aiohttp.ClientSession() as http:
        counts = await relay_for(
            session_factory, http, ReportQueue(redis_url, defer_s=0, lease_s=LEASE_S)
        ).update_backlog()
    assert counts == {"classify": 3, "report": 0}
    assert REGISTRY.get_sample_value("registry_outbox_backlog", {"topic": "classify"}) == 3
    metrics = (await client.get("/metrics")).text
    assert 'registry_outbox_backlog{topic="classify"} 3.0' in metrics
    assert "registry_outbox_delivered_total" in metrics


async def test_a_change_across_many_kabupaten_rebuilds_the_period_once(
    session: AsyncSession, session_factory: async_sessionmaker[AsyncSession], redis_url: str, arq_redis: ArqRedis
) -> None:
    june, july = dt.date(2024, 6, 1), dt.date(2024, 7, 1)
    many = [(june, f"{10 + n // 10}.{n % 10 + 1:02d}") for n in range(events.REBUILD_FROM_KABUPATEN)]
    few = [(july, "99.01"), (july, "99.71")]
    await events.add_reports(await session_driver(session), changes=[*many, *few], onward={"99.71"})
    keys = sorted(e.key for e in await pending(session, "report"))
    # 99.01 through the one period it changed in; 99.71 on through every later computed one
    assert keys == ["2024-06", "2024-07..2024-07:99.01", "2024-07:99.71"]
    ids = ["rebuild:2024-06", "refresh:2024-07..2024-07:99.01", "refresh:2024-07:99.71"]
    for job_id in ids:
        await forget_job(arq_redis, job_id)
    queue = ReportQueue(redis_url, defer_s=0.3, lease_s=LEASE_S)
    try:
        assert await deliver_reports(session_factory, queue, limit=10) == 3
        info = await Job("rebuild:2024-06", arq_redis, _queue_name=REPORT_QUEUE, _deserializer=deserialize_job).info()
        assert info is not None and info.function == REBUILD_PERIOD
        assert info.args == ({"period": "2024-06", "through": "2024-06", "request_id": None},)
        chain = await Job(
            "refresh:2024-07:99.71", arq_redis, _queue_name=REPORT_QUEUE, _deserializer=deserialize_job
        ).info()
        assert chain is not None and chain.function == REFRESH_REGION_CHAIN
        bounded = await Job(
            "refresh:2024-07..2024-07:99.01", arq_redis, _queue_name=REPORT_QUEUE, _deserializer=deserialize_job
        ).info()
        assert bounded is not None and bounded.args[0]["through"] == "2024-07"
    finally:
        for job_id in ids:
            await forget_job(arq_redis, job_id)
        await queue.close()


def _kabupaten(count: int) -> list[str]:
    return [f"{10 + n // 10}.{n % 10 + 1:02d}" for n in range(count)]


def test_a_bulk_change_going_on_rebuilds_its_period_and_every_computed_one_after_it() -> None:
    june = dt.date(2024, 6, 1)
    every = _kabupaten(events.REBUILD_FROM_KABUPATEN)
    jobs = events.report_jobs([(june, code) for code in every], onward=set(every))
    assert jobs == [("2024-06..", RebuildPeriod(period="2024-06", through=None))]
    assert jobs[0][1].job_id() == "rebuild:2024-06.."


def test_a_bulk_change_rebuilds_the_months_between_those_it_names_and_refreshes_the_few_beyond() -> None:
    january, march, may = dt.date(2024, 1, 1), dt.date(2024, 3, 1), dt.date(2024, 5, 1)
    every = _kabupaten(events.REBUILD_FROM_KABUPATEN)
    # Fifty kabupaten's reports move from January through March; one's from March through May; one's from May on.
    few = [(march, "99.01"), (may, "99.01"), (may, "99.71")]
    changes = [(month, code) for code in every for month in (january, march)] + few
    jobs = events.report_jobs(changes, onward={"99.71"})
    assert [key for key, _ in jobs] == ["2024-01..2024-02", "2024-03", "2024-03..2024-05:99.01", "2024-05:99.71"]
    # A refresh starts in a month its kabupaten changed, never in April, which no report may have been computed for.
    assert jobs[2][1] == RefreshRegionChain(period="2024-03", kabupaten_code="99.01", through="2024-05")


def test_a_rebuild_job_written_before_through_existed_rebuilds_its_period_alone() -> None:
    job = report_job({"period": "2024-06", "request_id": "r"})
    assert job == RebuildPeriod(period="2024-06", through="2024-06", request_id="r")
    assert job.key() == "2024-06" and job.job_id() == "rebuild:2024-06"
    assert report_job({"period": "2024-06", "through": None}).key() == "2024-06.."
    with pytest.raises(ValueError, match="before period"):
        report_job({"period": "2024-06", "through": "2024-05"})


async def test_writes_wake_the_relay_which_delivers_their_report_events_together(
    fresh_database_url: str, redis_url: str, classifier_url: str, committed_session: AsyncSession, arq_redis: ArqRedis
) -> None:
    await load_demo_regions(committed_session)
    key = await make_key(committed_session)
    await committed_session.commit()
    desa = [r["code"] for r in demo_regions() if r["level"] == "desa" and r["code"].startswith("99.01.")]
    registering = create_app(registry_settings(fresh_database_url, redis_url, classifier_url))
    transport = httpx.ASGITransport(app=registering)
    async with (
        registering.router.lifespan_context(registering),
        httpx.AsyncClient(transport=transport, base_url="http://registry.test", timeout=30) as http,
    ):
        ids = [(await make_kampung(http, key, desa_code=code))["id"] for code in desa[:4]]
    await committed_session.execute(text("DELETE FROM outbox"))  # the registrations' events aside
    await committed_session.commit()
    settings = registry_settings(
        fresh_database_url, redis_url, classifier_url, outbox_relay_in_api=True, outbox_poll_s=60, outbox_gather_s=1.0
    )
    job_id = RefreshRegionChain(period="2024-07", kabupaten_code="99.01").job_id()
    await forget_job(arq_redis, job_id)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://registry.test", timeout=30) as http:
            for _ in range(
                600
            ):  # until its first pass is over (then housekeeping): from then on only a wake-up is quick
                if app.state.relay._next_gauge:
                    break
                await asyncio.sleep(0.05)
            written = await asyncio.gather(
                *(put_module(http, key, i, "kependudukan", "2024-07", kependudukan_payload()) for i in ids)
            )
            assert [r.status_code for r in written] == [201] * 4
            for _ in range(100):  # a poll would come after 60 s
                left = await committed_session.scalar(
                    text(
                        "SELECT count(*) FROM outbox WHERE topic = 'report' AND delivered_at IS NULL"
                        " AND available_at <= clock_timestamp()"
                    )
                )
                if left == 0:
                    break
                await asyncio.sleep(0.1)
            assert left == 0
    # Each pass leases what it queued until one moment (its statement's) plus the lease.
    delivered = await committed_session.execute(
        text("SELECT count(*), count(DISTINCT available_at) FROM outbox WHERE topic = 'report'")
    )
    events_written, passes = delivered.one()
    assert events_written == 4 and passes < 4  # gathered: fewer passes than writes
    assert await Job(job_id, arq_redis, _queue_name=REPORT_QUEUE, _deserializer=deserialize_job).info() is not None
    await forget_job(arq_redis, job_id)


async def test_a_relay_woken_without_pause_still_classifies(
    fresh_database_url: str, redis_url: str, classifier_url: str, dead_url: str, committed_session: AsyncSession
) -> None:
    """Writes wake an API process's relay for their report events; under a steady stream of them it still goes over
    the classifications left pending at least every poll, not only when the writes pause."""
    await load_demo_regions(committed_session)
    key = await make_key(committed_session)
    await committed_session.commit()
    away = create_app(registry_settings(fresh_database_url, redis_url, dead_url, outbox_relay_in_api=False))
    transport = httpx.ASGITransport(app=away)
    async with away.router.lifespan_context(away), httpx.AsyncClient(transport=transport, base_url="http://r") as http:
        kampung_id = (await make_kampung(http, key))["id"]
        written = await put_module(http, key, kampung_id, "kependudukan", "2024-02", kependudukan_payload())
        assert written.json()["classification"] == {"status": "pending"}
    # Due only once the relay below has made its first pass, which goes over both topics.
    held = "UPDATE outbox SET available_at = clock_timestamp() + interval '2 seconds' WHERE topic = 'classify'"
    await committed_session.execute(text(held))
    await committed_session.commit()
    pending_classify = text("SELECT count(*) FROM outbox WHERE topic = 'classify' AND delivered_at IS NULL")
    settings = registry_settings(
        fresh_database_url, redis_url, classifier_url, outbox_relay_in_api=True, outbox_poll_s=0.3, outbox_gather_s=0.01
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        until = time.monotonic() + 10
        while await committed_session.scalar(pending_classify) and time.monotonic() < until:
            await committed_session.rollback()
            app.state.relay.wake()  # a write every 20 ms
            await asyncio.sleep(0.02)
        assert await committed_session.scalar(pending_classify) == 0


_DELIVERED_EARLIER = """
    INSERT INTO outbox (topic, key, payload, delivered_at)
    SELECT 'report', g::text, '{}', now() FROM generate_series(1, 2000) AS g
"""
_HANDED_OVER_LATER = """
    INSERT INTO outbox (topic, key, payload, available_at)
    SELECT 'classify', g::text, jsonb_build_object('kampung_id', g, 'period', '2024-06', 'handover', true),
           clock_timestamp() + interval '2 minutes'
      FROM generate_series(1, 20000) AS g
"""


async def test_the_relays_claim_reads_only_due_events_from_the_index_whatever_the_statistics(
    fresh_database_url: str,
) -> None:
    """An import's hand-over (a national file's worth of events, due minutes later) arrives after the outbox's
    statistics were taken, when every event was delivered: the claim's generic plan, made on them, still reads the
    due events in claim order from `ix_outbox_pending` and stops, rather than read every pending event of its topic
    from another index (50 to 110 ms a poll on a national hand-over)."""
    claim = str(_CLAIM_DUE).replace(":topic", "$1").replace(":limit", "$2")
    connection = await asyncpg.connect(fresh_database_url)
    try:
        await connection.execute(_DELIVERED_EARLIER)
        await connection.execute("ANALYZE outbox")
        await connection.execute(_HANDED_OVER_LATER)
        await connection.execute("INSERT INTO outbox (topic, key, payload) VALUES ('classify', '0', '{}')")
        async with connection.transaction():
            await connection.execute(
                f"SET LOCAL plan_cache_mode = force_generic_plan; PREPARE claim(text, integer) AS {claim}"
            )
            explained = await connection.fetch("EXPLAIN (ANALYZE, COSTS OFF) EXECUTE claim('classify', 200)")
            claimed = await connection.fetch("EXECUTE claim('classify', 200)")
    finally:
        await connection.close()
    plan = "\n".join(row[0] for row in explained)
    assert [row["key"] for row in claimed] == ["0"]
    assert "Index Scan using ix_outbox_pending on outbox" in plan, plan
    assert "Sort" not in plan and "Rows Removed by Filter" not in plan, plan
