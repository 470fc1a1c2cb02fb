"""The whole write side as real processes on loopback: registry-api, the classifier, `registry-api worker`, Redis (a
test starts report-worker when it needs one).

Redis is a server of the test's own (not the suite's), so that a test can stop and restart it.
"""

import asyncio
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kampungkb_local import processes
from kampungkb_local.servers import RedisServer, free_port
from registry_api.db import create_engine, create_sessionmaker
from tests.factories import load_demo_regions, make_key

REPORT_LEASE_S = 2.0
"""How long a queued report job's events wait for report-worker's confirmation before they are queued again."""


@dataclass
class Stack:
    database_url: str
    redis: RedisServer
    env: dict[str, str]
    classifier_port: int
    registry_url: str
    worker_metrics_url: str
    key: str
    classifier: processes.Service
    registry: processes.Service
    worker: processes.Service

    async def restart_classifier(self) -> None:
        self.classifier = processes.classifier(self.classifier_port).start(base_env=self.env)
        await asyncio.to_thread(self.classifier.wait_ready)


@pytest.fixture
async def stack(fresh_database_url: str, tmp_path: Path) -> AsyncIterator[Stack]:
    engine = create_engine(fresh_database_url, pool_size=1)
    async with create_sessionmaker(engine)() as session:
        await load_demo_regions(session, kecamatan_per_kabupaten=5, desa_per_kecamatan=10)
        key = await make_key(session)
    await engine.dispose()
    redis = RedisServer(tmp_path / "redis", free_port()).start()
    classifier_port, registry_port, metrics_port = free_port(), free_port(), free_port()
    env = {
        **os.environ,
        "DATABASE_URL": fresh_database_url,
        "REDIS_URL": redis.url,
        "REGISTRY_CLASSIFIER_URL": f"http://127.0.0.1:{classifier_port}",
        "REGISTRY_WORKER_METRICS_PORT": str(metrics_port),
        "REGISTRY_OUTBOX_POLL_S": "0.2",
        "REGISTRY_REPORT_LEASE_S": str(REPORT_LEASE_S),
        "LOG_JSON": "false",
        "LOG_LEVEL": "WARNING",
    }
    services = [
        processes.classifier(classifier_port),
        processes.registry_api(registry_port),
        processes.registry_worker(),
    ]
    try:
        for service in services:
            service.start(base_env=env)
        for service in services:
            await asyncio.to_thread(service.wait_ready)
        stack = Stack(
            database_url=fresh_database_url,
            redis=redis,
            env=env,
            classifier_port=classifier_port,
            registry_url=f"http://127.0.0.1:{registry_port}",
            worker_metrics_url=f"http://127.0.0.1:{metrics_port}/metrics",
            key=key,
            classifier=services[0],
            registry=services[1],
            worker=services[2],
        )
        yield stack
    finally:
        for service in [*services, *([stack.classifier] if "stack" in locals() else [])]:
            service.stop()
        redis.stop()
