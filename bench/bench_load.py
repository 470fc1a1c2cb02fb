"""Load test: 50 concurrent clients writing submissions and reading reports against the running stack.

Run: `uv run python bench/bench_load.py [seconds]`. Four in five requests `PUT` a kkbpk submission (a real change: a
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


def kkbpk(rng: random.Random) -> dict[str, object]:
    users = rng.randint(60, 170)
    iat = rng.randint(0, 200 - users)
    return {
        "poktan_participants": {"BKB": rng.randint(0, 80), "BKR": rng.randint(0, 70), "BKL": rng.randint(0, 60)},
        "kb_users": {"KB_SUNTIK": users - 30, "KB_IMPLAN": 20, "KB_PIL": 10},
        "non_users": {"IAT": iat, "HAMIL": 200 - users - iat},
    }


async def register(http: httpx.AsyncClient, desa_codes: list[str]) -> list[tuple[int, str]]:
    """One Kampung KB per desa with its kependudukan and profil: (id, kabupaten code)."""
    kampung = []
    for code in desa_codes:
        body = {"name": f"Kampung KB {code}", "desa_code": code, "formed_on": "2019-03-01"}
        created = (await http.post("/v1/kampung", json=body)).raise_for_status().json()
        await http.put(f"/v1/kampung/{created['id']}/kependudukan/{PERIOD}", json=KEPENDUDUKAN)
        await http.put(f"/v1/kampung/{created['id']}/profil/{PERIOD}", json=PROFIL)
        kampung.append((created["id"], created["kabupaten_code"]))
    return kampung


async def client(
    http: httpx.AsyncClient,
    kampung: list[tuple[int, str]],
    seed: int,
    until: float,
    timings: dict[str, list[float]],
    think_s: tuple[float, float] | None,
) -> None:
    rng = random.Random(seed)
    while time.monotonic() < until:
        if think_s:
            await asyncio.sleep(rng.uniform(*think_s))
        kampung_id, kabupaten = rng.choice(kampung)
        if rng.random() < 0.8:
            kind, request = "PUT kkbpk", http.put(f"/v1/kampung/{kampung_id}/kkbpk/{PERIOD}", json=kkbpk(rng))
        else:
            kind, request = "GET report", http.get(f"/v1/reports/{kabupaten}", params={"period": PERIOD})
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


async def run(stack: Stack, seconds: float) -> None:
    desa = [row["code"] for row in demo_regions(**SHAPE) if row["level"] == "desa"]
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(base_url=stack.registry_url, headers=stack.headers, timeout=60, limits=limits) as http:
        kampung = await register(http, desa)
        for label, think_s in (("pausing 0.5-1.5 s between requests", (0.5, 1.5)), ("no pause", None)):
            timings: dict[str, list[float]] = {}
            cpu_before = stack.cpu_seconds()
            started = time.monotonic()
            until = started + seconds
            await asyncio.gather(*(client(http, kampung, seed, until, timings, think_s) for seed in range(CLIENTS)))
            elapsed = time.monotonic() - started
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
