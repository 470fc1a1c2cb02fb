"""The registry worker as a process: `/healthz` beside its metrics answers while its event loop ticks, and the loop's
heartbeat is a gauge (a loop blocked or hung fails `/healthz`: `tests/shared/test_liveness.py`)."""

import asyncio
import os
import re
import time
import urllib.request

import pytest

from kampungkb_local import processes
from kampungkb_local.servers import free_port

pytestmark = pytest.mark.e2e


def get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read().decode()


async def test_the_registry_worker_serves_healthz_from_its_event_loops_heartbeat(
    fresh_database_url: str, redis_url: str
) -> None:
    port = free_port()
    worker = processes.registry_worker()
    worker.health_url = f"http://127.0.0.1:{port}/healthz"
    env = {
        **os.environ,
        "DATABASE_URL": fresh_database_url,
        "REDIS_URL": redis_url,
        "REGISTRY_CLASSIFIER_URL": f"http://127.0.0.1:{free_port()}",
        "REGISTRY_WORKER_METRICS_PORT": str(port),
        "LOG_JSON": "false",
        "LOG_LEVEL": "WARNING",
    }
    worker.start(base_env=env)
    try:
        await asyncio.to_thread(worker.wait_ready)
        status, body = await asyncio.to_thread(get, worker.health_url)
        assert status == 200 and body.startswith("ok"), body

        async def last_tick() -> float:
            metrics = (await asyncio.to_thread(get, f"http://127.0.0.1:{port}/metrics"))[1]
            (tick,) = re.findall(r"^registry_worker_loop_tick_timestamp_seconds (\S+)$", metrics, re.MULTILINE)
            return float(tick)

        for _ in range(300):  # the server answers from the start, the loop's first tick comes a moment later
            if await last_tick():
                break
            await asyncio.sleep(0.1)
        first = await last_tick()
        assert abs(first - time.time()) < 60, "stamped by the running loop"
        for _ in range(300):  # and again, every second
            if await last_tick() != first:
                break
            await asyncio.sleep(0.1)
        assert await last_tick() > first, "ticking"
    finally:
        worker.stop()
