"""A registry process killed in the middle of an import: the job is finished by another claim, exactly once.

registry-api and `registry-api worker` run as processes on a fresh database, both claiming import jobs. The import
is slowed down deterministically (`pg_sleep` between its phases, inside its transaction); the process holding the job
is SIGKILLed mid-way and started again. The job must end succeeded on a second attempt, with every row and revision
exactly once, and never stay running.
"""

import asyncio
import os
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
async def stack(fresh_database_url: str, tmp_path: Path) -> AsyncIterator[Stack]:
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
        "REGISTRY_IMPORT_TEST_PHASE_SLEEP_S": "0.8",
        "REGISTRY_IMPORT_LEASE_S": "2",
        "REGISTRY_IMPORT_POLL_S": "0.2",
        "LOG_JSON": "false",
        "LOG_LEVEL": "WARNING",
    }
    stack = Stack(env=env, registry_port=free_port(), key=key, services={})
    classifier = processes.classifier(classifier_port).start(base_env=env, quiet=True)
    try:
        stack.start("api")
        stack.start("worker")
        for service in (classifier, *stack.services.values()):
            await asyncio.to_thread(service.wait_ready)
        yield stack
    finally:
        for service in (classifier, *stack.services.values()):
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


async def test_killing_the_process_running_an_import_loses_and_duplicates_nothing(
    stack: Stack, fresh_database_url: str
) -> None:
    async with httpx.AsyncClient(base_url=stack.url, timeout=10) as http:
        kampung = await _post(http, stack.key, "kampung", to_csv(["desa_code", "name", "formed_on"], kampung_rows()))
        assert (await _wait(http, stack.key, kampung, until={"succeeded", "failed"}))["status"] == "succeeded"

        body = to_csv(KEPENDUDUKAN_COLUMNS, [kependudukan_row(code) for code in DESA])
        job_id = await _post(http, stack.key, "kependudukan", body, period=PERIOD)
        await _wait(http, stack.key, job_id, until={"running"})
        connection = await asyncpg.connect(fresh_database_url)
        try:
            holder = await connection.fetchval("SELECT claimed_by FROM import_job WHERE id = $1", job_id)
            await asyncio.sleep(1.0)  # inside the job's transaction, between two phases
            name = "api" if holder.startswith("api:") else "worker"
            victim = stack.services[name]
            assert victim.process is not None and holder.endswith(f":{victim.process.pid}"), holder
            victim.kill()
            restarted = stack.start(name)
            await asyncio.to_thread(restarted.wait_ready)

            job = await _wait(http, stack.key, job_id, until={"succeeded", "failed"})
            assert job["status"] == "succeeded", job
            assert job["attempts"] == 2, job
            assert (job["rows_total"], job["rows_inserted"], job["rows_failed"]) == (30, 30, 0)
            counts = await connection.fetchrow("""
                SELECT (SELECT count(*) FROM submission WHERE module = 'kependudukan') AS submissions,
                       (SELECT count(*) FROM submission_revision) AS revisions,
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
