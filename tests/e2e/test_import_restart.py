"""A registry process killed in the middle of an import: the job is finished by another claim, exactly once.

Also when the import is a large one that has committed its merge and classifies on two connections of its own
(`registry_api.imports.apart`): the retry resumes at the classification.

registry-api and `registry-api worker` run as processes on a fresh database, both claiming import jobs. The import
is held mid-way from outside (below); the process holding the job
is SIGKILLed mid-way and started again. The job must end succeeded on a second attempt, with every row and revision
exactly once, and never stay running. The import is held where the test wants it from outside, as an operator's
session or a stalled service would: a Kampung KB row the test keeps locked (the import waits for it inside its
transaction), or the classifier process stopped with SIGSTOP (the classification waits for its answer).
"""

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from kampungkb_local import processes
from kampungkb_local.servers import RedisServer, free_port
from registry_api.db import create_engine, create_sessionmaker
from tests.e2e.conftest import REPORT_LEASE_S
from tests.factories import auth, load_demo_regions, make_key
from tests.imports.files import DESA, KEPENDUDUKAN_COLUMNS, PERIOD, kampung_rows, kependudukan_row, to_csv

pytestmark = pytest.mark.e2e


@dataclass
class Stack:
    env: dict[str, str]
    registry_port: int
    key: str
    services: dict[str, processes.Service]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.registry_port}"

    def start(self, name: str) -> processes.Service:
        service = processes.registry_api(self.registry_port) if name == "api" else processes.registry_worker()
        self.services[name] = service.start(base_env=self.env, quiet=True)
        return service


@pytest.fixture
async def stack(fresh_database_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Stack]:
    engine = create_engine(fresh_database_url, pool_size=1)
    async with create_sessionmaker(engine)() as session:
        await load_demo_regions(session)
        key = await make_key(session)
    await engine.dispose()
    redis = RedisServer(tmp_path / "redis", free_port()).start()
    classifier_port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": fresh_database_url,
        "REDIS_URL": redis.url,
        "REGISTRY_CLASSIFIER_URL": f"http://127.0.0.1:{classifier_port}",
        "REGISTRY_WORKER_METRICS_PORT": str(free_port()),
        "REGISTRY_IMPORT_LEASE_S": "2",
        "REGISTRY_IMPORT_POLL_S": "0.2",
        "REGISTRY_REPORT_LEASE_S": str(REPORT_LEASE_S),
        "LOG_JSON": "false",
        "LOG_LEVEL": "WARNING",
        **getattr(request, "param", {}),
    }
    classifier = processes.classifier(classifier_port).start(base_env=env, quiet=True)
    stack = Stack(env=env, registry_port=free_port(), key=key, services={"classifier": classifier})
    try:
        stack.start("api")
        stack.start("worker")
        for service in stack.services.values():
            await asyncio.to_thread(service.wait_ready)
        yield stack
    finally:
        for service in stack.services.values():
            if service.process is not None and service.running:
                os.kill(service.process.pid, signal.SIGCONT)
            service.stop()
        redis.stop()


async def _post(http: httpx.AsyncClient, key: str, module: str, body: str, **params: str) -> int:
    headers = {**auth(key), "Content-Type": "text/csv"}
    response = await http.post("/v1/imports", params={"module": module, **params}, content=body, headers=headers)
    assert response.status_code == 202, response.text
    return int(response.json()["id"])


async def _wait(http: httpx.AsyncClient, key: str, job_id: int, *, until: set[str], seconds: float = 30) -> Any:
    for _ in range(int(seconds / 0.1)):
        job = (await http.get(f"/v1/imports/{job_id}", headers=auth(key))).json()
        if job["status"] in until:
            return job
        await asyncio.sleep(0.1)
    raise AssertionError(f"job {job_id} still {job['status']} after {seconds} s")


async def _kependudukan_after_kampung(http: httpx.AsyncClient, key: str) -> int:
    """Register a Kampung KB in every desa, then post their kependudukan; returns the kependudukan job's id."""
    kampung = await _post(http, key, "kampung", to_csv(["desa_code", "name", "formed_on"], kampung_rows()))
    assert (await _wait(http, key, kampung, until={"succeeded", "failed"}))["status"] == "succeeded"
    body = to_csv(KEPENDUDUKAN_COLUMNS, [kependudukan_row(code) for code in DESA])
    return await _post(http, key, "kependudukan", body, period=PERIOD)


async def test_killing_the_process_running_an_import_loses_and_duplicates_nothing(
    stack: Stack, fresh_database_url: str
) -> None:
    async with httpx.AsyncClient(base_url=stack.url, timeout=10) as http:
        kampung = await _post(http, stack.key, "kampung", to_csv(["desa_code", "name", "formed_on"], kampung_rows()))
        assert (await _wait(http, stack.key, kampung, until={"succeeded", "failed"}))["status"] == "succeeded"
        holding = await asyncpg.connect(fresh_database_url)
        connection = await asyncpg.connect(fresh_database_url)
        try:
            # One of the Kampung KB the import writes to, locked: the import waits for it inside its transaction.
            lock = holding.transaction()
            await lock.start()
            await holding.execute("SELECT id FROM kampung WHERE desa_code = $1 FOR UPDATE", DESA[0])
            body = to_csv(KEPENDUDUKAN_COLUMNS, [kependudukan_row(code) for code in DESA])
            job_id = await _post(http, stack.key, "kependudukan", body, period=PERIOD)
            await _wait_for_lock_wait(connection)
            holder = await connection.fetchval("SELECT claimed_by FROM import_job WHERE id = $1", job_id)
            name = "api" if holder.startswith("api:") else "worker"
            victim = stack.services[name]
            assert victim.process is not None and holder.endswith(f":{victim.process.pid}"), holder
            victim.kill()
            await lock.rollback()
            restarted = stack.start(name)
            await asyncio.to_thread(restarted.wait_ready)

            job = await _wait(http, stack.key, job_id, until={"succeeded", "failed"})
            assert job["status"] == "succeeded", job
            assert job["attempts"] == 2, job
            assert (job["rows_total"], job["rows_inserted"], job["rows_failed"]) == (30, 30, 0)
            counts = await connection.fetchrow("""
                SELECT (SELECT count(*) FROM submission WHERE module = 'kependudukan') AS submissions,
                       (SELECT sum(revision) FROM submission) AS revisions,
                       (SELECT count(*) FROM (SELECT DISTINCT kampung_id FROM submission) AS k) AS kampung,
                       (SELECT max(revision) FROM submission) AS max_revision,
                       (SELECT count(*) FROM import_job WHERE status IN ('queued', 'running')) AS pending,
                       (SELECT count(*) FROM import_chunk) AS chunks""")
            assert dict(counts) == {
                "submissions": 30,
                "revisions": 30,
                "kampung": 30,
                "max_revision": 1,
                "pending": 0,
                "chunks": 0,
            }
        finally:
            await connection.close()
            await holding.close()


async def _wait_for_lock_wait(connection: asyncpg.Connection) -> None:
    """Until a backend waits for a row lock (the import, at its Kampung KB)."""
    for _ in range(300):
        if await connection.fetchval("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"):
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the import never waited for the locked Kampung KB")


_COUNTS = f"""
    SELECT (SELECT count(*) FROM submission WHERE module = 'kependudukan') AS submissions,
           (SELECT sum(revision) FROM submission) AS revisions,
           (SELECT count(*) FROM classification) AS classifications,
           (SELECT count(*) FROM outbox WHERE topic = 'classify' AND delivered_at IS NULL) AS classify_pending,
           (SELECT count(*) FROM outbox WHERE topic = 'report' AND delivered_at IS NULL
                AND available_at > clock_timestamp() + interval '{REPORT_LEASE_S} seconds') AS reports_held,
           (SELECT count(*) FROM import_job WHERE status IN ('queued', 'running')) AS pending,
           (SELECT count(*) FROM import_chunk) AS chunks"""
"""`reports_held`: report events still held for the import's own classification (`REGISTRY_IMPORT_HANDOVER_S`, two
minutes), not those leased to their queued jobs, due again within the lease."""


@pytest.mark.parametrize(
    "stack",
    [{"REGISTRY_IMPORT_CLASSIFY_APART_FROM": "10", "REGISTRY_IMPORT_CLASSIFY_CONNECTIONS": "2"}],
    indirect=True,
)
async def test_killed_after_its_merge_a_large_import_resumes_at_its_classification(
    stack: Stack, fresh_database_url: str
) -> None:
    async with httpx.AsyncClient(base_url=stack.url, timeout=10) as http:
        classifier = stack.services["classifier"].process
        assert classifier is not None
        os.kill(classifier.pid, signal.SIGSTOP)  # the classification, after the merge, waits for its answers
        job_id = await _kependudukan_after_kampung(http, stack.key)
        connection = await asyncpg.connect(fresh_database_url)
        try:
            for _ in range(300):
                merged, holder = await connection.fetchrow(
                    "SELECT merged_at IS NOT NULL, claimed_by FROM import_job WHERE id = $1", job_id
                )
                if merged:
                    break
                await asyncio.sleep(0.1)
            assert merged, "the merge never committed"
            await asyncio.sleep(0.5)  # its two classifying transactions have taken their shares and wait
            name = "api" if holder.startswith("api:") else "worker"
            stack.services[name].kill()
            os.kill(classifier.pid, signal.SIGCONT)
            restarted = stack.start(name)
            await asyncio.to_thread(restarted.wait_ready)

            job = await _wait(http, stack.key, job_id, until={"succeeded", "failed"})
            assert (job["status"], job["attempts"]) == ("succeeded", 2), job
            assert (job["rows_total"], job["rows_inserted"], job["rows_unchanged"], job["rows_failed"]) == (
                30,
                30,
                0,
                0,
            )
            assert job["timings"]["classified"] is not None
            assert dict(await connection.fetchrow(_COUNTS)) == {
                "submissions": 30,
                "revisions": 30,
                "classifications": 60,  # every Kampung KB under both rule sets, once
                "classify_pending": 0,
                "reports_held": 0,
                "pending": 0,
                "chunks": 0,
            }
        finally:
            await connection.close()


@pytest.mark.parametrize(
    "stack",
    [{"REGISTRY_IMPORTS_IN_API": "false", "REGISTRY_IMPORT_CLASSIFIER_BUDGET_S": "30"}],
    indirect=True,
)
async def test_stopping_the_worker_hands_its_running_import_back_uncounted(
    stack: Stack, fresh_database_url: str
) -> None:
    """`registry-api worker` told to stop (SIGTERM: a deploy) while its import waits for a classifier that does not
    answer: the import has `STOP_WITHIN_S` to finish, then is cancelled and handed back, the attempt not counted, and
    the worker exits without waiting for the classifier's budget. The next worker runs the job as its first attempt."""
    async with httpx.AsyncClient(base_url=stack.url, timeout=10) as http:
        classifier = stack.services["classifier"].process
        worker = stack.services["worker"].process
        assert classifier is not None and worker is not None
        os.kill(classifier.pid, signal.SIGSTOP)  # the import's classification waits for its answers
        job_id = await _kependudukan_after_kampung(http, stack.key)
        connection = await asyncpg.connect(fresh_database_url)
        try:
            state = "SELECT status, attempts, claimed_by, last_error FROM import_job WHERE id = $1"
            for _ in range(300):
                if (running := await connection.fetchrow(state, job_id))["status"] == "running":
                    break
                await asyncio.sleep(0.1)
            assert running["claimed_by"].startswith("worker:"), dict(running)

            os.killpg(worker.pid, signal.SIGTERM)
            # A bound against a hang only: the classifier's budget (30 s) would have run out before it.
            assert await asyncio.to_thread(worker.wait, 60) == 0
            handed_back = dict(await connection.fetchrow(state, job_id))
            assert handed_back == {
                "status": "queued",
                "attempts": 0,
                "claimed_by": None,
                "last_error": "the process running it stopped",
            }

            os.kill(classifier.pid, signal.SIGCONT)
            restarted = stack.start("worker")
            await asyncio.to_thread(restarted.wait_ready)
            job = await _wait(http, stack.key, job_id, until={"succeeded", "failed"})
            assert (job["status"], job["attempts"], job["rows_inserted"]) == ("succeeded", 1, 30), job
        finally:
            await connection.close()
