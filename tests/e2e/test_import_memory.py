"""A 100 MiB file of one line, sent to a real registry process: the import fails cleanly and its memory stays
bounded (peak resident set of the process, read from /proc, before and after)."""

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kampungkb_local import processes
from kampungkb_local.servers import free_port
from registry_api.db import create_engine, create_sessionmaker
from tests.factories import auth, load_demo_regions, make_key
from tests.imports.files import DESA, kependudukan_row, to_ndjson

pytestmark = pytest.mark.e2e

MIB = 1024 * 1024
BODY_MIB = 100
MAX_GROWTH_MIB = 48
"""The reading keeps one 1 MiB chunk and at most one 64 KiB unfinished line: far below the body's 100 MiB."""


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident set so far (`VmHWM`)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc")


async def one_line(mib: int) -> AsyncIterator[bytes]:
    yield b'{"desa_code": "' + DESA[0].encode() + b'", "note": "'
    for _ in range(mib):
        yield b"x" * MIB


async def finished(http: httpx.AsyncClient, key: str, response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 202, response.text
    for _ in range(1200):
        job = (await http.get(f"/v1/imports/{response.json()['id']}", headers=auth(key))).json()
        if job["status"] in ("succeeded", "failed"):
            return dict(job)
        await asyncio.sleep(0.25)
    raise AssertionError(f"the import never finished: {job}")


@pytest.mark.timeout(600)
async def test_a_100_mib_single_line_fails_cleanly_with_bounded_memory(fresh_database_url: str, redis_url: str) -> None:
    engine = create_engine(fresh_database_url, pool_size=1)
    async with create_sessionmaker(engine)() as session:
        await load_demo_regions(session)
        key = await make_key(session)
    await engine.dispose()
    port = free_port()
    registry = processes.registry_api(port)
    env = {
        **os.environ,
        "DATABASE_URL": fresh_database_url,
        "REDIS_URL": redis_url,
        "REGISTRY_CLASSIFIER_URL": f"http://127.0.0.1:{free_port()}",
        "REGISTRY_IMPORT_MAX_RECORD_BYTES": str(64 * 1024),
        "LOG_JSON": "false",
        "LOG_LEVEL": "WARNING",
    }
    registry.start(base_env=env, quiet=True)
    try:
        await asyncio.to_thread(registry.wait_ready)
        assert registry.process is not None
        pid = registry.process.pid
        params = {"module": "kependudukan", "period": "2024-06"}
        headers = {**auth(key), "Content-Type": "application/x-ndjson"}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120) as http:
            # A small import first, so that what every import loads once is in the baseline.
            small = to_ndjson([kependudukan_row(DESA[0])])
            warm = await finished(
                http, key, await http.post("/v1/imports", params=params, content=small, headers=headers)
            )
            assert warm["status"] in ("succeeded", "failed"), warm
            before = peak_rss_mib(pid)
            response = await http.post("/v1/imports", params=params, content=one_line(BODY_MIB), headers=headers)
            job = await finished(http, key, response)
            after = peak_rss_mib(pid)
    finally:
        registry.stop()
    print(
        f"\n{BODY_MIB} MiB single-line import: peak RSS {before:.1f} MiB -> {after:.1f} MiB (+{after - before:.1f} MiB)"
    )
    assert job["status"] == "failed", job
    assert "no valid rows" in job["reason"]
    assert [(e["row"], e["field"], e["kind"]) for e in job["errors"]] == [(1, "row", "too_long")]
    assert job["rows_total"] == 1
    assert after - before < MAX_GROWTH_MIB, f"peak RSS grew by {after - before:.1f} MiB"
