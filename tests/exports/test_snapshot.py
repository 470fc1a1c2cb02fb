"""An export is a snapshot of one moment: an import that commits while the file streams is in none of its rows; a
client that goes away stops the export in PostgreSQL too.

registry-api runs as a process; the export is read over real HTTP a chunk at a time. After the first chunk, a
kegiatan import (a new activity for every Kampung KB, dated after all the others so that each would end its Kampung
KB's rows) is posted and committed by the same process while the export is still running in PostgreSQL (checked in
`pg_stat_activity`). The file must hold none of the new rows, and an export started afterwards all of them.

The process streams one export at a time (`REGISTRY_EXPORTS_AT_ONCE=1`): a second one while the first streams answers
503 with `Retry-After`, other requests are served, and the slot is free again once the first client has gone.
"""

import asyncio
import os
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from kampungkb_local import processes
from kampungkb_local.servers import free_port
from registry_api.db import create_engine, create_sessionmaker
from tests.exports.test_round_trip import KEGIATAN_COLUMNS, kampung_file
from tests.factories import auth, load_demo_regions, make_key
from tests.imports.files import DESA, to_csv

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]  # 25 MB exports, on a busy machine

PER_KAMPUNG = 3000
"""Activities per Kampung KB: some 25 MB of CSV, far more than the socket buffers between PostgreSQL and the test
hold, so the COPY cannot have finished when the import commits."""
_FILL = """
    INSERT INTO kegiatan (kampung_id, title, date, function, targets, partners)
    SELECT k.id, 'Penyuluhan KB ' || n || ' ' || repeat('panjang ', 25), DATE '2024-01-01' + n % 150, 'REPRODUKSI',
           '{PUS}', '{PUSKESMAS}'
      FROM kampung k CROSS JOIN generate_series(1, $1) AS n
"""
_COPYING = """
    SELECT count(*) FROM pg_stat_activity
     WHERE datname = current_database() AND state = 'active' AND query LIKE 'COPY (SELECT %'
"""
"""Exports running in this test's own database (other tests' databases share the server)."""


async def _job_done(http: httpx.AsyncClient, url: str, key: str) -> dict[str, object]:
    for _ in range(600):
        job: dict[str, object] = (await http.get(url, headers=auth(key))).json()
        if job["status"] in ("succeeded", "failed"):
            return job
        await asyncio.sleep(0.1)
    raise AssertionError(f"import not finished: {job}")


@pytest.fixture
async def registry_process(
    fresh_database_url: str, redis_url: str, classifier_url: str
) -> AsyncIterator[tuple[str, str]]:
    engine = create_engine(fresh_database_url, pool_size=1)
    async with create_sessionmaker(engine)() as session:
        await load_demo_regions(session)
        key = await make_key(session)
    await engine.dispose()
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": fresh_database_url,
        "REDIS_URL": redis_url,
        "REGISTRY_CLASSIFIER_URL": classifier_url,
        "LOG_JSON": "false",
        "LOG_LEVEL": "WARNING",
        "REGISTRY_EXPORTS_AT_ONCE": "1",
    }
    service = processes.registry_api(port).start(base_env=env, quiet=True)
    try:
        await asyncio.to_thread(service.wait_ready)
        yield f"http://127.0.0.1:{port}", key
    finally:
        service.stop()


async def test_an_import_committed_mid_export_is_in_none_of_its_rows(
    registry_process: tuple[str, str], fresh_database_url: str
) -> None:
    url, key = registry_process
    late = [
        {"desa_code": code, "title": "Rapat akhir bulan", "date": "2024-06-30", "function": "PENDIDIKAN"}
        for code in DESA
    ]
    body = to_csv(KEGIATAN_COLUMNS, [dict.fromkeys(KEGIATAN_COLUMNS, "") | row for row in late])
    params = {"from": "2024-01-01", "to": "2024-12-31"}
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        created = await http.post(
            "/v1/imports",
            params={"module": "kampung"},
            content=kampung_file(DESA),
            headers=auth(key) | {"Content-Type": "text/csv"},
        )
        assert (await _job_done(http, created.json()["status_url"], key))["status"] == "succeeded"
        database = await asyncpg.connect(fresh_database_url)
        try:
            await database.execute(_FILL, PER_KAMPUNG)
            # Uncompressed, so that the socket's buffers fill and the COPY waits for the reader.
            plain = auth(key) | {"Accept-Encoding": "identity"}
            async with http.stream("GET", "/v1/exports/kegiatan", params=params, headers=plain) as export:
                assert export.status_code == 200
                chunks = export.aiter_bytes()
                received = [await anext(chunks)]
                posted = await http.post(
                    "/v1/imports",
                    params={"module": "kegiatan"},
                    content=body,
                    headers=auth(key) | {"Content-Type": "text/csv"},
                )
                job = await _job_done(http, posted.json()["status_url"], key)
                assert (job["status"], job["rows_inserted"]) == ("succeeded", len(DESA)), job
                assert await database.fetchval(_COPYING) == 1  # the export is still being written
                received.extend([chunk async for chunk in chunks])
        finally:
            await database.close()
        during = b"".join(received).decode().splitlines()
        assert len(during) == 1 + len(DESA) * PER_KAMPUNG
        assert sum("Rapat akhir bulan" in line for line in during) == 0
        after = (await http.get("/v1/exports/kegiatan", params=params, headers=auth(key))).text.splitlines()
        assert len(after) == 1 + len(DESA) * (PER_KAMPUNG + 1)
        assert sum("Rapat akhir bulan" in line for line in after) == len(DESA)


async def test_a_client_gone_mid_file_stops_the_copy(
    registry_process: tuple[str, str], fresh_database_url: str
) -> None:
    url, key = registry_process
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        created = await http.post(
            "/v1/imports",
            params={"module": "kampung"},
            content=kampung_file(DESA),
            headers=auth(key) | {"Content-Type": "text/csv"},
        )
        assert (await _job_done(http, created.json()["status_url"], key))["status"] == "succeeded"
        database = await asyncpg.connect(fresh_database_url)
        try:
            await database.execute(_FILL, PER_KAMPUNG)
            plain = auth(key) | {"Accept-Encoding": "identity"}  # uncompressed: the COPY waits for the reader
            async with http.stream("GET", "/v1/exports/kegiatan", headers=plain) as export:
                # Held while checking: an iterator dropped after one chunk is closed when it is collected, and closes
                # the response with it, which would stop the COPY before it is seen running.
                chunks = export.aiter_bytes()
                await anext(chunks)
                assert await database.fetchval(_COPYING) == 1
                busy = await http.get("/v1/exports/kampung", headers=auth(key))
                assert busy.status_code == 503, busy.text
                assert busy.headers["Retry-After"] == "10"
                assert busy.json()["type"].endswith("/problems/unavailable")
                assert (await http.get("/v1/kampung", headers=auth(key))).status_code == 200
            # The response is closed after one chunk: the registry cancels the COPY and returns its connection.
            for _ in range(300):
                if await database.fetchval(_COPYING) == 0:
                    break
                await asyncio.sleep(0.1)
            assert await database.fetchval(_COPYING) == 0
        finally:
            await database.close()
        metrics = (await http.get("/metrics")).text
        assert 'registry_exports_total{format="csv",module="kegiatan",outcome="disconnected"} 1.0' in metrics
        assert 'registry_exports_total{format="csv",module="kampung",outcome="busy"} 1.0' in metrics
        for _ in range(50):  # the slot is given back as the response ends, a moment after the COPY
            again = await http.get("/v1/exports/kampung", headers=auth(key))
            if again.status_code != 503:
                break
            await asyncio.sleep(0.1)
        assert len(again.text.splitlines()) == 1 + len(DESA)  # the slot and the pool serve again
