"""A live-report day, small, with PostgreSQL restarted in the middle: real processes on loopback, a PostgreSQL server
of the test's own (stopped and started again), Redis of its own.

Every write acknowledged before the restart is there after it; writes while the server is away get 503 with
`Retry-After`, never a 500 and never a hang; the registry, its worker and the report worker carry on without being
restarted, and the report ends up counting every Kampung KB.
"""

import asyncio
import json
import os
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from kampungkb_local import processes
from kampungkb_local.servers import RedisServer, free_port, resume_postgres, start_postgres, stop_postgres
from kampungkb_shared.periods import parse_period
from registry_api import migrate
from registry_api.db import create_engine, create_sessionmaker
from tests.conftest import create_database
from tests.e2e.test_outages import make_kampung_all, poll
from tests.factories import auth, kependudukan_payload, kkbpk_payload, load_demo_regions, make_key, profil_payload

pytestmark = pytest.mark.e2e

KABUPATEN = "99.01"
KAMPUNG = 24
PERIOD = "2024-05"
AWAY_S = 2.0
"""How long the server stays stopped."""


@dataclass
class OwnStack:
    pg_dir: Path
    server_url: str
    database_url: str
    registry_url: str
    key: str


@pytest.fixture
async def own_stack(tmp_path: Path) -> AsyncIterator[OwnStack]:
    pg_dir = tmp_path / "pg"
    server_url = await asyncio.to_thread(start_postgres, pg_dir)
    redis: RedisServer | None = None
    services: list[processes.Service] = []
    try:
        database_url = await create_database(server_url, f"kkb_restart_{uuid.uuid4().hex[:8]}")
        await asyncio.to_thread(migrate.upgrade, database_url)
        engine = create_engine(database_url, pool_size=1)
        async with create_sessionmaker(engine)() as session:
            await load_demo_regions(session, kecamatan_per_kabupaten=3, desa_per_kecamatan=10)
            key = await make_key(session)
        await engine.dispose()
        redis = RedisServer(tmp_path / "redis", free_port()).start()
        classifier_port, registry_port, metrics_port = free_port(), free_port(), free_port()
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis.url,
            "REGISTRY_CLASSIFIER_URL": f"http://127.0.0.1:{classifier_port}",
            "REGISTRY_WORKER_METRICS_PORT": str(metrics_port),
            "REGISTRY_OUTBOX_POLL_S": "0.2",
            "LOG_JSON": "false",
            "LOG_LEVEL": "ERROR",
        }
        services = [
            processes.classifier(classifier_port),
            processes.registry_api(registry_port),
            processes.registry_worker(),
            processes.report_worker(),
        ]
        for service in services:
            service.start(base_env=env, log_file=tmp_path / f"{service.name}.log")
        for service in services:
            await asyncio.to_thread(service.wait_ready)
        yield OwnStack(pg_dir, server_url, database_url, f"http://127.0.0.1:{registry_port}", key)
    finally:
        for service in services:
            service.stop()
        if redis is not None:
            redis.stop()
        await asyncio.to_thread(stop_postgres, pg_dir)


def _payloads(n: int) -> list[tuple[str, dict[str, Any]]]:
    """The three modules of one Kampung KB, kependudukan first (kkbpk adds up to its PUS); `n` makes them its own."""
    pus = 100 + n
    return [
        ("kependudukan", kependudukan_payload(pus=pus)),
        ("profil", profil_payload()),
        ("kkbpk", kkbpk_payload(users=70 + n, non_users=30)),
    ]


_FIGURE = {"kependudukan": "pus", "profil": "pokja", "kkbpk": "kb_users"}
"""The field each module's check compares (the one that differs between Kampung KB, where one does)."""


@dataclass
class Day:
    acknowledged: dict[tuple[int, str], dict[str, Any]] = field(default_factory=dict)
    statuses: Counter[int] = field(default_factory=Counter)
    retry_after: set[str] = field(default_factory=set)
    away: bool = False
    middle: asyncio.Event = field(default_factory=asyncio.Event)
    """Set once a third of the writes are acknowledged."""
    while_away: Counter[int] = field(default_factory=Counter)


async def _report_day(http: httpx.AsyncClient, day: Day, kampung_id: int, n: int) -> None:
    """One Kampung KB writes its three modules, each retried after a 503 until acknowledged."""
    for module, payload in _payloads(n):
        while True:
            response = await http.put(f"/v1/kampung/{kampung_id}/{module}/{PERIOD}", json=payload)
            day.statuses[response.status_code] += 1
            if day.away:
                day.while_away[response.status_code] += 1
            if response.status_code in (200, 201):
                day.acknowledged[(kampung_id, module)] = payload
                if len(day.acknowledged) >= KAMPUNG:
                    day.middle.set()
                break
            assert response.status_code == 503, response.text
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["type"] == "/problems/unavailable"
            day.retry_after.add(response.headers["Retry-After"])
            await asyncio.sleep(min(float(response.headers["Retry-After"]), 0.5))


async def test_postgres_restarted_during_a_live_report_day(own_stack: OwnStack) -> None:
    headers = auth(own_stack.key)
    # A write that waited longer than this would be a hang: httpx raises, and the test fails.
    async with httpx.AsyncClient(base_url=own_stack.registry_url, headers=headers, timeout=20) as http:
        connection = await asyncpg.connect(own_stack.database_url)
        try:
            codes = await connection.fetch(
                "SELECT code FROM wilayah WHERE level = 'desa' AND code LIKE $1 ORDER BY code LIMIT $2",
                f"{KABUPATEN}.%",
                KAMPUNG,
            )
        finally:
            await connection.close()
        ids = await make_kampung_all(http, [row["code"] for row in codes])
        day = Day()
        gate = asyncio.Semaphore(6)

        async def one(kampung_id: int, n: int) -> None:
            async with gate:
                await _report_day(http, day, kampung_id, n)

        async def restart() -> dict[tuple[int, str], dict[str, Any]]:
            await day.middle.wait()
            await asyncio.to_thread(stop_postgres, own_stack.pg_dir)
            before = dict(day.acknowledged)
            day.away = True
            # While away, one more write of each kind that must answer at once.
            for module, payload in _payloads(0):
                response = await http.put(f"/v1/kampung/{ids[0]}/{module}/2024-06", json=payload)
                assert response.status_code == 503, response.text
                assert int(response.headers["Retry-After"]) > 0
            await asyncio.sleep(AWAY_S)
            day.away = False
            await asyncio.to_thread(resume_postgres, own_stack.pg_dir, own_stack.server_url)
            return before

        writes = asyncio.gather(*(one(kampung_id, n) for n, kampung_id in enumerate(ids)))
        before, _ = await asyncio.gather(restart(), writes)

        assert set(day.statuses) <= {200, 201, 503}, day.statuses
        assert day.while_away[503] > 0 and set(day.while_away) <= {503, 200, 201}, day.while_away
        assert len(before) >= KAMPUNG and len(day.acknowledged) == 3 * KAMPUNG

        # The registry answers again without a restart of its own.
        ready = await http.get("/readyz")
        assert ready.status_code == 200, ready.text

    connection = await asyncpg.connect(own_stack.database_url)
    try:
        stored = {
            (row["kampung_id"], row["module"]): json.loads(row["payload"])
            for row in await connection.fetch(
                "SELECT kampung_id, module, payload::text AS payload FROM submission WHERE period = $1",
                parse_period(PERIOD),
            )
        }
        lost = [key for key in before if key not in stored]
        assert not lost, f"acknowledged before the restart, missing after it: {lost}"
        for key, payload in day.acknowledged.items():
            figure = _FIGURE[key[1]]
            assert stored[key][figure] == payload[figure], key

        async def delivered() -> bool:
            pending = await connection.fetchval("SELECT count(*) FROM outbox WHERE delivered_at IS NULL")
            return bool(pending == 0)

        await poll(delivered, within=60)
    finally:
        await connection.close()

    async with httpx.AsyncClient(base_url=own_stack.registry_url, timeout=20) as http:

        async def counted() -> bool:
            response = await http.get(f"/v1/reports/{KABUPATEN}", params={"period": PERIOD})
            return response.status_code == 200 and response.json()["reported"] == KAMPUNG

        await poll(counted, within=60)
