"""Charts and the officer's page at national scale: chart render time (drawn, and answered 304 from its tag), the
dashboard page's server time for the nation and for the largest kabupaten, signed out (public reads) and signed in
(an officer's session: the page then also lists the Kampung KB to chase and the open flags), and the list to chase
itself (`GET /v1/reports/{code}/reporting`, its first page) for the month and for the year.

Run: `.venv/bin/python bench/bench_dashboard.py`. Starts its own embedded PostgreSQL and Redis in a temporary folder,
loads ../shared/data/wilayah.csv (skips when absent) and the same generated Kampung KB as `bench_reports`, computes
the period's reports, starts the registry as a real process and times its answers over HTTP from this machine.
"""

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
import httpx
from bench_reports import PERIOD, RULESETS, line, load
from stack import official_regions

from kampungkb_local import processes
from kampungkb_local.servers import RedisServer, free_port, start_postgres, stop_postgres
from registry_api import migrate
from registry_api.auth.service import Role, create_key
from registry_api.db import create_engine, create_sessionmaker
from report_worker.aggregates import rebuild_period

RUNS = 15
MONTH = PERIOD.strftime("%Y-%m")


async def timed(http: httpx.AsyncClient, url: str, *, headers: dict[str, str] | None = None) -> tuple[float, int]:
    """The median and the status of RUNS requests, after one not counted."""
    await http.get(url, headers=headers)
    runs, status = [], 0
    for _ in range(RUNS):
        started = time.perf_counter()
        response = await http.get(url, headers=headers)
        runs.append(time.perf_counter() - started)
        status = response.status_code
    return statistics.median(runs), status


async def signed_in(http: httpx.AsyncClient, key: str) -> dict[str, str]:
    """The cookie of a dashboard session opened with `key`, as the page's sign-in form opens it."""
    response = await http.post(
        "/dashboard/login", data={"key": key, "next": "/dashboard/"}, headers={"Origin": str(http.base_url).rstrip("/")}
    )
    assert response.status_code == 303, response.text
    cookie = {"Cookie": "; ".join(f"{name}={value}" for name, value in response.cookies.items())}
    http.cookies.clear()  # the client's jar kept it: only the requests given it are signed in
    return cookie


async def measure(base: str, biggest: str, desa: int, key: str) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        officer = await signed_in(http, key)
        bearer = {"Authorization": f"Bearer {key}"}
        for code, label in (("00", "the nation"), (biggest, f"the largest kabupaten {biggest} ({desa} desa)")):
            for chart in ("tiers", "trend", "kkbpk"):
                url = f"/v1/reports/{code}/charts/{chart}.svg?period={MONTH}"
                drawn, status = await timed(http, url)
                tag = (await http.get(url)).headers["etag"]
                cached, cached_status = await timed(http, url, headers={"If-None-Match": tag})
                line(
                    f"chart {chart}, {label}: drawn {drawn * 1000:.0f} ms ({status}), "
                    f"cached {cached * 1000:.0f} ms ({cached_status}), median of {RUNS}"
                )
            page = "/dashboard/" if code == "00" else f"/dashboard/{code}"
            for who, headers in (("signed out", None), ("signed in", officer)):
                median, status = await timed(http, f"{page}?period={MONTH}", headers=headers)
                size = len((await http.get(f"{page}?period={MONTH}", headers=headers)).content)
                line(
                    f"dashboard page, {label}, {who}: {median * 1000:.0f} ms ({status}, {size / 1024:.0f} KiB), "
                    f"median of {RUNS}"
                )
            for period in (MONTH, MONTH[:4]):
                url = f"/v1/reports/{code}/reporting?period={period}"
                median, status = await timed(http, url, headers=bearer)
                figure = f"{median * 1000:.0f} ms ({status}), median of {RUNS}"
                line(f"list to chase, {label}, {period}, first page: {figure}")


async def admin_key(database_url: str) -> str:
    engine = create_engine(database_url, pool_size=1)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            _, key = await create_key(session, name="bench", role=Role.ADMIN, scope="00")
    finally:
        await engine.dispose()
    return str(key)


async def main() -> None:
    if (regions := official_regions()) is None:
        return
    with tempfile.TemporaryDirectory(prefix="kkb-bench-dashboard-") as tmp:
        pg_dir = Path(tmp) / "pg"
        url = start_postgres(pg_dir)
        redis_server = RedisServer(Path(tmp) / "redis", free_port()).start()
        service = None
        try:
            await asyncio.to_thread(migrate.upgrade, url)
            await load(url, regions)
            key = await admin_key(url)
            connection = await asyncpg.connect(url)
            try:
                await rebuild_period(connection, period=PERIOD, rulesets=RULESETS)
                biggest, desa = await connection.fetchrow(
                    "SELECT kabupaten_code, count(*) FROM kampung GROUP BY 1 ORDER BY 2 DESC LIMIT 1"
                )
            finally:
                await connection.close()
            port = free_port()
            service = processes.registry_api(port)
            service.env = {
                "DATABASE_URL": url,
                "REDIS_URL": redis_server.url,
                "REGISTRY_OUTBOX_RELAY_IN_API": "false",
                "REGISTRY_IMPORTS_IN_API": "false",
                "REGISTRY_RATE_LIMITS_ENABLED": "false",
                "LOG_LEVEL": "WARNING",
            }
            service.start(quiet=True)
            await asyncio.to_thread(service.wait_ready)
            await measure(f"http://127.0.0.1:{port}", biggest, desa, key)
        finally:
            if service is not None:
                service.stop()
            redis_server.stop()
            stop_postgres(pg_dir)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    started = time.perf_counter()
    asyncio.run(main())
    line(f"bench_dashboard took {time.perf_counter() - started:.0f} s")
    sys.exit(0)
