"""Faults with real processes: the classifier killed in a burst of writes, Redis stopped and restarted, Redis losing
the report jobs it held.

Nothing is lost, nothing is duplicated, and everything converges without a manual step.
"""

import asyncio
import time
import uuid
from typing import Any

import asyncpg
import httpx
import pytest
from arq.connections import RedisSettings, create_pool
from arq.jobs import Job

from kampungkb_local import processes
from kampungkb_shared.jobs import REPORT_QUEUE, RefreshRegionChain, deserialize_job, serialize_job
from tests.e2e.conftest import REPORT_LEASE_S, Stack
from tests.factories import auth, kependudukan_payload, kkbpk_payload

pytestmark = pytest.mark.e2e

KAMPUNG = 100
CONVERGE_S = 30.0


async def make_kampung_all(http: httpx.AsyncClient, desa_codes: list[str]) -> list[int]:
    ids = []
    for n, code in enumerate(desa_codes):
        body = {"name": f"Kampung KB {n}", "desa_code": code, "formed_on": "2020-01-01"}
        response = await http.post("/v1/kampung", json=body)
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return ids


async def desa_codes(database_url: str, limit: int) -> list[str]:
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch("SELECT code FROM wilayah WHERE level = 'desa' ORDER BY code LIMIT $1", limit)
    finally:
        await connection.close()
    return [row["code"] for row in rows]


async def poll(check: Any, *, within: float) -> float:
    """Seconds until `check()` is true; fails after `within` seconds."""
    started = time.monotonic()
    while not await check():
        assert time.monotonic() - started < within, "did not converge in time"
        await asyncio.sleep(0.25)
    return time.monotonic() - started


async def test_classifier_killed_during_a_burst_of_writes(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.registry_url, headers=auth(stack.key), timeout=30) as http:
        ids = await make_kampung_all(http, await desa_codes(stack.database_url, KAMPUNG))
        done = 0
        pending = 0
        gate = asyncio.Semaphore(16)
        kill_now, restart_now = asyncio.Event(), asyncio.Event()

        async def write(kampung_id: int) -> None:
            nonlocal done, pending
            for module, period, body in (
                ("kependudukan", "2024-01", kependudukan_payload(pus=100 + kampung_id % 7)),
                ("kkbpk", "2024-02", kkbpk_payload(users=70 + kampung_id % 7, non_users=30)),
            ):
                async with gate:
                    response = await http.put(f"/v1/kampung/{kampung_id}/{module}/{period}", json=body)
                assert response.status_code == 201, response.text
                done += 1
                if done == 40:
                    kill_now.set()
                if done == 150:
                    restart_now.set()
                pending += response.json()["classification"] == {"status": "pending"}

        async def chaos() -> None:
            await kill_now.wait()
            stack.classifier.kill()
            await restart_now.wait()
            await stack.restart_classifier()

        await asyncio.gather(chaos(), *(write(k) for k in ids))
        restarted = time.monotonic()
        assert done == 2 * KAMPUNG
        assert pending > 0, "no write saw the outage"

    connection = await asyncpg.connect(stack.database_url)
    try:

        async def all_classified() -> bool:
            current = await connection.fetchval(
                """SELECT count(*) FROM classification c JOIN classification_snapshot s ON s.hash = c.snapshot_hash
                     WHERE (c.period = '2024-01-01' AND s.snapshot->'kependudukan' IS NOT NULL
                            AND s.snapshot->'kependudukan' <> 'null'::jsonb)
                        OR (c.period = '2024-02-01' AND s.snapshot->'kkbpk' <> 'null'::jsonb)"""
            )
            return bool(current == KAMPUNG * 2 * 2)

        took = await poll(all_classified, within=CONVERGE_S)
        print(
            f"\nclassifier outage: {pending} of {2 * KAMPUNG} writes pending; all classified {took:.1f} s after restart"
            f" ({time.monotonic() - restarted:.1f} s)"
        )
        assert await connection.fetchval("SELECT count(*) FROM submission") == 2 * KAMPUNG
        assert await connection.fetchval("SELECT sum(revision) FROM submission") == 2 * KAMPUNG
        assert await connection.fetchval("SELECT max(revision) FROM submission") == 1
        per_key = await connection.fetch(
            "SELECT kampung_id, period, ruleset, count(*) AS n FROM classification GROUP BY 1, 2, 3"
        )
        assert len(per_key) == KAMPUNG * 2 * 2 and {row["n"] for row in per_key} == {1}
        stale = await connection.fetchval(
            """SELECT count(*) FROM kampung k WHERE k.tier IS DISTINCT FROM (
                 SELECT tier FROM classification c WHERE c.kampung_id = k.id AND c.ruleset = 'bkkbn-web-2021'
                  ORDER BY period DESC LIMIT 1)"""
        )
        assert stale == 0
        await poll(lambda: _none_pending(connection, "classify"), within=5)
    finally:
        await connection.close()
    async with httpx.AsyncClient() as http:
        metrics = (await http.get(stack.worker_metrics_url)).text
    assert 'registry_outbox_backlog{topic="classify"}' in metrics


async def _none_pending(connection: asyncpg.Connection, topic: str) -> bool:
    count = await connection.fetchval("SELECT count(*) FROM outbox WHERE topic = $1 AND delivered_at IS NULL", topic)
    return bool(count == 0)


async def _none_due(connection: asyncpg.Connection, topic: str) -> bool:
    """Every event still owed waits: a `report` event leased to its queued job until report-worker confirms it."""
    count = await connection.fetchval(
        "SELECT count(*) FROM outbox WHERE topic = $1 AND delivered_at IS NULL AND available_at <= clock_timestamp()",
        topic,
    )
    return bool(count == 0)


async def test_redis_stopped_and_restarted_every_refresh_arrives(stack: Stack) -> None:
    sent: set[str] = set()
    async with httpx.AsyncClient(base_url=stack.registry_url, headers=auth(stack.key), timeout=30) as http:
        codes = await desa_codes(stack.database_url, KAMPUNG)
        ids = await make_kampung_all(http, [*codes[:3], *codes[-3:]])  # both kabupaten: 99.01 and 99.71

        async def write(kampung_id: int, period: str) -> None:
            rid = uuid.uuid4().hex
            sent.add(rid)
            response = await http.put(
                f"/v1/kampung/{kampung_id}/kependudukan/{period}",
                json=kependudukan_payload(),
                headers={"X-Request-ID": rid},
            )
            assert response.status_code == 201, response.text

        await asyncio.gather(*(write(k, "2024-01") for k in ids))
        stack.redis.stop()
        await asyncio.gather(*(write(k, period) for k in ids for period in ("2024-02", "2024-03", "2024-04")))
        await asyncio.sleep(1.0)  # the relays keep failing meanwhile, and back off
        stack.redis.start()

    # Each write's refresh starts at its month; it runs on through the next month where a write of that month has
    # committed before it (`refresh:{month}..{next}:{kabupaten}`), else on through every later one.
    expected = {(f"2024-{m:02d}", kab) for m in range(1, 5) for kab in ("99.01", "99.71")}
    pool = await create_pool(
        RedisSettings.from_dsn(stack.redis.url),
        default_queue_name=REPORT_QUEUE,
        job_serializer=serialize_job,
        job_deserializer=deserialize_job,
    )
    try:

        async def queued() -> dict[tuple[str, str], str]:
            """(first month, kabupaten) -> job id, of the refreshes queued."""
            members = [member.decode() for member in await pool.zrange(REPORT_QUEUE, 0, -1)]
            return {
                (span.split("..")[0], kabupaten): job_id
                for job_id in members
                if job_id.startswith("refresh:")
                for _, span, kabupaten in [job_id.split(":")]
            }

        async def arrived() -> bool:
            return expected <= set(await queued())

        took = await poll(arrived, within=CONVERGE_S)
        print(f"\nRedis outage: every refresh job queued {took:.1f} s after Redis came back")
        jobs = await queued()
        for month, kabupaten in expected:
            job_id = jobs[month, kabupaten]
            info = await Job(job_id, pool, _queue_name=REPORT_QUEUE, _deserializer=deserialize_job).info()
            assert info is not None and info.function == "refresh_region_chain"
            payload = info.args[0]
            assert (payload["period"], payload["kabupaten_code"]) == (month, kabupaten)
            assert RefreshRegionChain.model_validate(payload).job_id() == job_id
            assert payload["request_id"] in sent
    finally:
        await pool.aclose()
    connection = await asyncpg.connect(stack.database_url)
    try:
        await poll(lambda: _none_due(connection, "report"), within=10)  # no report-worker here to confirm them
    finally:
        await connection.close()


async def test_report_jobs_redis_lost_are_queued_again_and_the_reports_catch_up(stack: Stack) -> None:
    """Redis loses the report jobs it held (a restart without its file, a failover): their events, owed until
    report-worker confirms a job done, are queued again once their lease runs out, and the reports catch up."""
    codes = await desa_codes(stack.database_url, 3)
    kabupaten = codes[0].rsplit(".", 2)[0]
    async with httpx.AsyncClient(base_url=stack.registry_url, headers=auth(stack.key), timeout=30) as http:
        for kampung_id in await make_kampung_all(http, codes):
            response = await http.put(f"/v1/kampung/{kampung_id}/kependudukan/2024-01", json=kependudukan_payload())
            assert response.status_code == 201, response.text
    connection = await asyncpg.connect(stack.database_url)
    try:
        await poll(lambda: _none_due(connection, "report"), within=10)  # every refresh queued, none run
        redis = await create_pool(RedisSettings.from_dsn(stack.redis.url))
        try:
            assert await redis.zcard(REPORT_QUEUE) > 0
            await redis.flushall()
        finally:
            await redis.aclose()
        lost = time.monotonic()
        report_worker = processes.report_worker().start(
            base_env={**stack.env, "WORKER_METRICS_PORT": "0", "WORKER_REBUILD_ON_STARTUP": "false"}
        )
        try:
            async with httpx.AsyncClient(base_url=stack.registry_url, timeout=30) as http:

                async def counted() -> bool:
                    response = await http.get(f"/v1/reports/{kabupaten}", params={"period": "2024-01"})
                    return response.status_code == 200 and response.json()["reported"] == len(codes)

                took = await poll(counted, within=CONVERGE_S)
            await poll(lambda: _none_pending(connection, "report"), within=CONVERGE_S)  # each one confirmed
        finally:
            report_worker.stop()
    finally:
        await connection.close()
    print(f"\nRedis lost the report jobs: the kabupaten's report counted every write {took:.1f} s later")
    assert time.monotonic() - lost >= REPORT_LEASE_S - 0.5  # queued again only once the lease ran out
