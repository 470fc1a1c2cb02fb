"""Load test: 50 concurrent clients writing submissions and reading reports against the running stack.

Run: `.venv/bin/python bench/bench_load.py [seconds]`. Four in five requests `PUT` a kkbpk submission (a real change: a
new revision, classified under every rule set, a report refresh queued), one in five reads its kabupaten's report.
Two runs: 50 clients that pause 0.5-1.5 s between requests, as operators at their screens do (about 50 requests/s
offered), then 50 clients with no pause at all, which shows the most the stack serves. Prints p50, p95, p99 and
throughput per kind of request. registry-api runs two uvicorn workers, one per core. The load generator runs on the
same 2 cores as the stack, so the figures include its own cost.
"""

import asyncio
import random
import statistics
import sys
import time

import httpx
from stack import KEPENDUDUKAN, PROFIL, Stack, local_stack

from kampungkb_local.demo import demo_regions, to_csv

CLIENTS = 50
PERIOD = "2025-06"
SHAPE = {"kecamatan_per_kabupaten": 5, "desa_per_kecamatan": 10}


Target = tuple[int, str, int]
"""A Kampung KB the clients write to: id, kabupaten code, the PUS its kkbpk must add up to."""


def kkbpk(rng: random.Random, pus: int = 200) -> dict[str, object]:
    users = rng.randint(pus * 3 // 10, pus * 85 // 100)
    iat = rng.randint(0, pus - users)
    return {
        "poktan_participants": {"BKB": rng.randint(0, 80), "BKR": rng.randint(0, 70), "BKL": rng.randint(0, 60)},
        "kb_users": {"KB_SUNTIK": users - users // 4, "KB_IMPLAN": users // 8, "KB_PIL": users // 4 - users // 8},
        "non_users": {"IAT": iat, "HAMIL": pus - users - iat},
    }


async def register(http: httpx.AsyncClient, desa_codes: list[str]) -> list[Target]:
    """One Kampung KB per desa with its kependudukan and profil."""
    kampung = []
    for code in desa_codes:
        body = {"name": f"Kampung KB {code}", "desa_code": code, "formed_on": "2019-03-01"}
        created = (await http.post("/v1/kampung", json=body)).raise_for_status().json()
        await http.put(f"/v1/kampung/{created['id']}/kependudukan/{PERIOD}", json=KEPENDUDUKAN)
        await http.put(f"/v1/kampung/{created['id']}/profil/{PERIOD}", json=PROFIL)
        kampung.append((created["id"], created["kabupaten_code"], KEPENDUDUKAN["pus"]))
    return kampung


async def client(
    http: httpx.AsyncClient,
    kampung: list[Target],
    seed: int,
    until: float,
    timings: dict[str, list[float]],
    think_s: tuple[float, float] | None,
    period: str,
) -> None:
    rng = random.Random(seed)
    while time.monotonic() < until:
        if think_s:
            await asyncio.sleep(rng.uniform(*think_s))
        kampung_id, kabupaten, pus = rng.choice(kampung)
        if rng.random() < 0.8:
            kind, request = "PUT kkbpk", http.put(f"/v1/kampung/{kampung_id}/kkbpk/{period}", json=kkbpk(rng, pus))
        else:
            kind, request = "GET report", http.get(f"/v1/reports/{kabupaten}", params={"period": period})
        started = time.perf_counter()
        response = await request
        elapsed = (time.perf_counter() - started) * 1000
        timings.setdefault(kind if response.status_code < 400 else f"{kind} {response.status_code}", []).append(elapsed)


def summary(kind: str, values: list[float], seconds: float) -> str:
    cuts = statistics.quantiles(values, n=100) if len(values) > 1 else values * 99
    return (
        f"{kind}: p50 {statistics.median(values):.1f} ms, p95 {cuts[94]:.1f} ms, p99 {cuts[98]:.1f} ms, "
        f"{len(values) / seconds:.0f} requests/s (n={len(values)})"
    )


def client_pool(stack_url: str, headers: dict[str, str]) -> httpx.AsyncClient:
    # Idle connections are dropped before uvicorn's own keep-alive timeout (5 s) closes them: with the same 5 s on both
    # sides, a request sent on a connection the server is closing at that moment fails with a read error.
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS, keepalive_expiry=3.0)
    return httpx.AsyncClient(base_url=stack_url, headers=headers, timeout=60, limits=limits)


async def load(
    http: httpx.AsyncClient,
    kampung: list[Target],
    seconds: float,
    think_s: tuple[float, float] | None,
    period: str = PERIOD,
) -> tuple[dict[str, list[float]], float]:
    """The load of `CLIENTS` clients for `seconds`: each kind of request's times in ms, and the seconds it took."""
    timings: dict[str, list[float]] = {}
    started = time.monotonic()
    until = started + seconds
    await asyncio.gather(*(client(http, kampung, seed, until, timings, think_s, period) for seed in range(CLIENTS)))
    return timings, time.monotonic() - started


async def run(stack: Stack, seconds: float) -> None:
    desa = [row["code"] for row in demo_regions(**SHAPE) if row["level"] == "desa"]
    async with client_pool(stack.registry_url, stack.headers) as http:
        kampung = await register(http, desa)
        for label, think_s in (("pausing 0.5-1.5 s between requests", (0.5, 1.5)), ("no pause", None)):
            cpu_before = stack.cpu_seconds()
            timings, elapsed = await load(http, kampung, seconds, think_s)
            cpu_after = stack.cpu_seconds()
            print(f"load: {CLIENTS} concurrent clients, {label}, {elapsed:.0f} s over {len(kampung)} Kampung KB")
            for kind in sorted(timings):
                print("  " + summary(kind, timings[kind], elapsed))
            total = sum(len(v) for v in timings.values())
            print(f"  all requests: {total / elapsed:.0f} requests/s")
            cpu = {name: (cpu_after[name] - cpu_before[name]) * 1000 / total for name in cpu_after}
            print("  CPU per request: " + ", ".join(f"{name} {ms:.2f} ms" for name, ms in cpu.items()))


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 30.0
    services = ("classifier", "registry-api", "registry-worker", "report-worker")
    regions = to_csv(demo_regions(**SHAPE))
    with local_stack("load", regions_csv=regions, services=services, registry_workers=2) as stack:
        asyncio.run(run(stack, seconds))


if __name__ == "__main__":
    main()
