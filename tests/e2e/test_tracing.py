"""One request id follows a submission: registry-api, the classifier (header), the queue, the report worker's logs."""

import asyncio
import json
import os
import time
from pathlib import Path

import httpx
import pytest

from kampungkb_local import processes
from kampungkb_local.servers import free_port
from registry_api.db import create_engine, create_sessionmaker
from tests.factories import DEMO_DESA, auth, kependudukan_payload, load_demo_regions, make_key

pytestmark = pytest.mark.e2e

REQUEST_ID = "trace-0f3c9a"


def _lines_with_request_id(log: Path) -> list[dict[str, object]]:
    lines = []
    for raw in log.read_text().splitlines():
        try:
            line = json.loads(raw)
        except ValueError:
            continue
        if isinstance(line, dict) and line.get("request_id") == REQUEST_ID:
            lines.append(line)
    return lines


async def test_request_id_follows_a_submission_through_every_process(
    fresh_database_url: str, redis_url: str, tmp_path: Path
) -> None:
    engine = create_engine(fresh_database_url, pool_size=1)
    async with create_sessionmaker(engine)() as session:
        await load_demo_regions(session)
        key = await make_key(session)
    await engine.dispose()
    classifier_port, registry_port = free_port(), free_port()
    env = {
        **os.environ,
        "DATABASE_URL": fresh_database_url,
        "REDIS_URL": redis_url,
        "REGISTRY_CLASSIFIER_URL": f"http://127.0.0.1:{classifier_port}",
        "WORKER_METRICS_PORT": str(free_port()),
        "LOG_JSON": "true",
        "LOG_LEVEL": "INFO",
    }
    logs = {name: tmp_path / f"{name}.log" for name in ("classifier", "registry", "worker")}
    services = [
        processes.classifier(classifier_port).start(base_env=env, log_file=logs["classifier"]),
        processes.registry_api(registry_port).start(base_env=env, log_file=logs["registry"]),
        processes.report_worker().start(base_env=env, log_file=logs["worker"]),
    ]
    try:
        for service in services:
            await asyncio.to_thread(service.wait_ready)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{registry_port}", headers=auth(key)) as http:
            body = {"name": "Trace", "desa_code": DEMO_DESA, "formed_on": "2020-01-01"}
            kampung = (await http.post("/v1/kampung", json=body)).json()["id"]
            # One traced write: two writes within the queue's coalescing window would share one job (and one id).
            response = await http.put(
                f"/v1/kampung/{kampung}/kependudukan/2025-05",
                json=kependudukan_payload(),
                headers={"X-Request-ID": REQUEST_ID},
            )
            assert response.status_code == 201, response.text
            assert response.headers["X-Request-ID"] == REQUEST_ID
            assert response.json()["classification"]["tier"]
        deadline = time.monotonic() + 30
        while not _lines_with_request_id(logs["worker"]):
            assert time.monotonic() < deadline, logs["worker"].read_text()[-3000:]
            await asyncio.sleep(0.25)
        assert _lines_with_request_id(logs["classifier"]), "the classifier did not log the registry's request id"
        worker_lines = _lines_with_request_id(logs["worker"])
        assert any(str(line.get("message", "")).startswith("refresh_region_chain wrote") for line in worker_lines)
    finally:
        for service in reversed(services):
            service.stop()
