"""What one report `GET` costs the registry: CPU seconds of its process per request, sent one after another.

Run: `.venv/bin/python bench/bench_report_get.py [requests]`. Starts the stack of `bench_load.py` (its regions, one
Kampung KB per desa with its kependudukan, profil and a kkbpk), waits until the kabupaten's report is computed, then
sends `requests` (default 2,000) `GET /v1/reports/{kabupaten}` in turn and prints the CPU seconds of registry-api
(one uvicorn worker) and of PostgreSQL per request, and the median wall time; then the same for `GET
/v1/wilayah/{kabupaten}` (one row), the floor any keyed `GET` pays (key, rate limit, middleware). CPU seconds move
less than wall time on a shared machine.
"""

import asyncio
import random
import statistics
import sys
import time

import httpx
from bench_load import PERIOD, SHAPE, kkbpk, register
from stack import Stack, local_stack

from kampungkb_local.demo import demo_regions, to_csv

SERVICES = ("classifier", "registry-api", "registry-worker", "report-worker")


async def computed(http: httpx.AsyncClient, code: str, seconds: float = 60.0) -> None:
    until = time.monotonic() + seconds
    while (await http.get(f"/v1/reports/{code}", params={"period": PERIOD})).status_code != 200:
        if time.monotonic() > until:
            raise TimeoutError(f"the report of {code} was not computed within {seconds:.0f} s")
        await asyncio.sleep(0.2)


async def run(stack: Stack, requests: int) -> None:
    desa = [row["code"] for row in demo_regions(**SHAPE) if row["level"] == "desa"]
    rng = random.Random(7)
    async with httpx.AsyncClient(base_url=stack.registry_url, headers=stack.headers, timeout=60) as http:
        kampung = await register(http, desa)
        for kampung_id, _, pus in kampung:
            (await http.put(f"/v1/kampung/{kampung_id}/kkbpk/{PERIOD}", json=kkbpk(rng, pus))).raise_for_status()
        kabupaten = kampung[0][1]
        await computed(http, kabupaten)
        await asyncio.sleep(2.0)  # the workers' last refreshes settle
        for label, url in (("report GET of kabupaten", "/v1/reports/"), ("region GET (the floor) of", "/v1/wilayah/")):
            await measure(http, stack, f"{label} {kabupaten}", url + kabupaten, requests)


async def measure(http: httpx.AsyncClient, stack: Stack, label: str, url: str, requests: int) -> None:
    for _ in range(50):  # warm up
        (await http.get(url, params={"period": PERIOD})).raise_for_status()
    before, walls = stack.cpu_seconds(), []
    for _ in range(requests):
        started = time.perf_counter()
        (await http.get(url, params={"period": PERIOD})).raise_for_status()
        walls.append((time.perf_counter() - started) * 1000)
    after = stack.cpu_seconds()
    cpu = {name: (after[name] - before[name]) * 1000 / requests for name in ("registry-api", "postgresql")}
    print(
        f"{label}, {requests} in turn: p50 {statistics.median(walls):.2f} ms; CPU per request: registry-api "
        f"{cpu['registry-api']:.2f} ms, postgresql {cpu['postgresql']:.2f} ms"
    )


def main() -> None:
    requests = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    with local_stack("report-get", regions_csv=to_csv(demo_regions(**SHAPE)), services=SERVICES) as stack:
        asyncio.run(run(stack, requests))


if __name__ == "__main__":
    main()
