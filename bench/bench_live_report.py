"""A live-report day: every Kampung KB of Banten (provinsi 36, 1,552 desa and kelurahan in the official region list)
writes its three modules (kependudukan, profil, kkbpk) through the API within ten minutes, then the same at five
times that rate (within two minutes).

Run: `.venv/bin/python bench/bench_live_report.py [--scale 0.2]`. Starts embedded PostgreSQL and Redis, migrates, loads
Banten's regions from `../shared/data/wilayah.csv` (skips when absent), registers one Kampung KB per desa, and starts
the classifier, registry-api, `registry-api worker` and report-worker as real processes. `--scale 1` is the whole day
(1,552 Kampung KB, 10 minutes then 2); the default 0.2 keeps the rate and writes for a fifth of the Kampung KB (2
minutes, then 24 s), so `make bench` stays bounded.

Writes are sent open-loop: write i is due at i / rate, and its latency counts from then (a late start is the
server's delay too); a Kampung KB's modules go in order, each after the one before answered. It prints, per phase:
- `PUT` p50, p95 and max;
- the worst freshness of the province report: for each write, the time from its answer until a poll of
  `GET /v1/reports/36` showed figures computed after it (`computed_at` later than the answer; polled every 0.25 s);
- the outbox backlog (report events written and not yet confirmed done by report-worker): its peak, and its oldest
  event's peak age.
"""

import argparse
import asyncio
import csv
import datetime as dt
import io
import statistics
import time
from dataclasses import dataclass, field

import asyncpg
import httpx
from stack import KEPENDUDUKAN, PROFIL, local_stack, official_regions

from kampungkb_shared.periods import add_months, format_period

PROVINSI = "36"
DAY_S = 600.0
"""All of a province's writes within ten minutes."""
FASTER = 5
POLL_S = 0.25
MODULES = ("kependudukan", "profil", "kkbpk")

Seen = list[tuple[float, float]]
"""(seen at, computed at) of each new computation of the report a poll found."""


def banten_csv() -> tuple[bytes, list[str]] | None:
    """The province's rows of the region list (CSV with its header) and its desa/kelurahan codes; None without the
    list."""
    if (regions := official_regions()) is None:
        return None
    rows = [row for row in csv.DictReader(io.StringIO(regions.decode())) if row["code"].split(".")[0] == PROVINSI]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["code", "name", "level", "kind", "parent_code"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode(), [row["code"] for row in rows if row["level"] == "desa"]


def kkbpk(n: int) -> dict[str, object]:
    """PUS 200 (the kependudukan's), split differently per Kampung KB."""
    users = 100 + n % 60
    return {
        "poktan_participants": {"BKB": 20 + n % 15, "BKR": 10},
        "kb_users": {"KB_SUNTIK": users - 30, "KB_IMPLAN": 20, "KB_PIL": 10},
        "non_users": {"HAMIL": 200 - users - 25, "IAT": 15, "TIAL": 10},
    }


@dataclass
class Phase:
    name: str
    period: str
    rate: float
    latencies_ms: list[float] = field(default_factory=list)
    answered: list[float] = field(default_factory=list)
    """Wall-clock time of each write's answer."""
    statuses: dict[int, int] = field(default_factory=dict)
    freshness_s: list[float] = field(default_factory=list)
    backlog_peak: int = 0
    oldest_peak_s: float = 0.0


async def register(http: httpx.AsyncClient, codes: list[str]) -> list[int]:
    gate = asyncio.Semaphore(16)

    async def one(code: str) -> int:
        async with gate:
            body = {"name": f"Kampung KB {code}", "desa_code": code, "formed_on": "2020-01-01"}
            response = await http.post("/v1/kampung", json=body)
            response.raise_for_status()
            return int(response.json()["id"])

    return list(await asyncio.gather(*(one(code) for code in codes)))


async def write_day(http: httpx.AsyncClient, phase: Phase, ids: list[int]) -> None:
    """Every Kampung KB's three modules, write i due at i / rate."""
    started = time.perf_counter()

    async def kampung(n: int, kampung_id: int) -> None:
        payloads = {"kependudukan": KEPENDUDUKAN, "profil": PROFIL, "kkbpk": kkbpk(n)}
        for m, module in enumerate(MODULES):
            due = started + (3 * n + m) / phase.rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            begun = min(due, time.perf_counter()) if m == 0 else max(due, time.perf_counter())
            response = await http.put(f"/v1/kampung/{kampung_id}/{module}/{phase.period}", json=payloads[module])
            phase.latencies_ms.append((time.perf_counter() - begun) * 1000)
            phase.statuses[response.status_code] = phase.statuses.get(response.status_code, 0) + 1
            if response.status_code in (200, 201):
                phase.answered.append(time.time())

    await asyncio.gather(*(kampung(n, kampung_id) for n, kampung_id in enumerate(ids)))


async def watch(http: httpx.AsyncClient, database_url: str, phase: Phase, done: asyncio.Event) -> Seen:
    """Poll the province report and the outbox until `done` and the report has caught up with the last write;
    returns (seen at, computed at) of each new computation of the report."""
    seen: list[tuple[float, float]] = []
    connection = await asyncpg.connect(database_url)
    last_computed = 0.0
    try:
        while True:
            response = await http.get(f"/v1/reports/{PROVINSI}", params={"period": phase.period})
            now = time.time()
            if response.status_code == 200:
                computed = dt.datetime.fromisoformat(response.json()["computed_at"]).timestamp()
                if computed > last_computed:
                    seen.append((now, computed))
                    last_computed = computed
            row = await connection.fetchrow(
                "SELECT count(*) AS n, extract(epoch FROM now() - min(created_at)) AS age FROM outbox "
                "WHERE topic = 'report' AND delivered_at IS NULL"
            )
            phase.backlog_peak = max(phase.backlog_peak, int(row["n"]))
            phase.oldest_peak_s = max(phase.oldest_peak_s, float(row["age"] or 0.0))
            if done.is_set() and (not phase.answered or last_computed > max(phase.answered)):
                return seen
            if done.is_set() and time.time() - max(phase.answered) > 120:
                print(f"{phase.name}: the report did not catch up within 120 s of the last write")
                return seen
            await asyncio.sleep(POLL_S)
    finally:
        await connection.close()


def freshness(answered: list[float], seen: Seen) -> list[float]:
    """For each write, the time from its answer to the first poll that showed figures computed after it."""
    out = []
    for at in answered:
        shown = next((seen_at for seen_at, computed in seen if computed > at), None)
        if shown is not None:
            out.append(shown - at)
    return out


async def run_phase(http: httpx.AsyncClient, database_url: str, phase: Phase, ids: list[int]) -> None:
    done = asyncio.Event()
    watcher = asyncio.create_task(watch(http, database_url, phase, done))
    try:
        await write_day(http, phase, ids)
    finally:
        done.set()
    phase.freshness_s = freshness(phase.answered, await watcher)


def report(phase: Phase, kampung: int) -> None:
    latencies = sorted(phase.latencies_ms)
    p95 = statistics.quantiles(latencies, n=100)[94] if len(latencies) > 1 else latencies[0]
    worst = max(phase.freshness_s) if phase.freshness_s else float("nan")
    print(
        f"{phase.name}: {kampung} Kampung KB x 3 modules at {phase.rate:.1f} PUT/s, statuses {phase.statuses}: "
        f"PUT p50 {statistics.median(latencies):.0f} ms, p95 {p95:.0f} ms, max {latencies[-1]:.0f} ms; "
        f"province report freshness worst {worst:.1f} s, median {statistics.median(phase.freshness_s):.1f} s "
        f"({len(phase.freshness_s)} writes seen); outbox backlog peak {phase.backlog_peak} events, "
        f"oldest {phase.oldest_peak_s:.1f} s",
        flush=True,
    )


async def measure(registry_url: str, database_url: str, key: str, codes: list[str], scale: float) -> None:
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=registry_url, headers=headers, timeout=120, limits=limits) as http:
        ids = await register(http, codes)
        used = ids[: max(1, round(len(ids) * scale))]
        rate = 3 * len(codes) / DAY_S
        this_month = dt.datetime.now(dt.UTC).date().replace(day=1)
        phases = [
            Phase("the day's rate", format_period(add_months(this_month, -2)), rate),
            Phase(f"{FASTER} times that", format_period(add_months(this_month, -1)), rate * FASTER),
        ]
        seconds = 3 * len(used) / rate
        print(
            f"Banten: {len(codes)} desa/kelurahan, {len(ids)} Kampung KB registered; writing for {len(used)} "
            f"(scale {scale:g}): {seconds:.0f} s at the day's rate, then {seconds / FASTER:.0f} s",
            flush=True,
        )
        for phase in phases:
            await run_phase(http, database_url, phase, used)
            report(phase, len(used))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=0.2, help="share of the Kampung KB that write (1: all)")
    args = parser.parse_args()
    banten = banten_csv()
    if banten is None:
        return
    regions, codes = banten
    services = ("classifier", "registry-api", "registry-worker", "report-worker")
    with local_stack("live-report", regions_csv=regions, services=services) as stack:
        asyncio.run(measure(stack.registry_url, stack.database_url, stack.key, codes, args.scale))


if __name__ == "__main__":
    main()
