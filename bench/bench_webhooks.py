"""Webhook delivery to one receiver on loopback, throughput and lag: a burst of writes, then a national import.

Run: `.venv/bin/python bench/bench_webhooks.py` (part of `make bench`). Each part starts embedded PostgreSQL and Redis,
the services as real processes (webhook delivery in each, loopback allowed), and a receiver in this process that
answers 204 and notes when each item arrives; one subscription of every kind for the nation.

1. A burst, on the demo province: a Kampung KB in each of the 30 desa, then 1,500 kependudukan PUTs over them, a
   month each (8 clients at once), some 4,500 feed items. Figures: items delivered per second while the burst runs,
   the lag of each item (arrival minus its `changed_at`), how long the receiver trails the last write, and the same
   items replayed as one backlog.
2. A national month, on `../shared/data/wilayah.csv` (skipped where it is absent): `bench_import.py`'s files, the
   kampung file (a Kampung KB in every desa), then the kependudukan file, through the bulk import API to the
   classifier, registry-api and `registry-api worker`, some 420,000 feed items. Figures: items delivered,
   throughput, lag per item, and how long after the last import job finished the receiver had every item.
"""

import asyncio
import csv
import datetime as dt
import io
import json
import statistics
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import asyncpg
import httpx
from bench_import import PERIOD, generate, import_month
from stack import KEPENDUDUKAN, local_stack, official_regions

from kampungkb_local.demo import demo_regions, to_csv
from kampungkb_local.servers import free_port

PUTS = 1_500
CLIENTS = 8
NATIONAL_WAIT_S = 360.0
"""The most the national part waits for the receiver after the import, so that `make bench` ends whatever happens."""


class Received:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.lags: list[float] = []
        self.kinds: list[str] = []
        self.batches = 0
        self.first_at = 0.0
        self.last_at = 0.0
        self.last_wall = dt.datetime.min.replace(tzinfo=dt.UTC)


def receiver(port: int, received: Received) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            now = dt.datetime.now(dt.UTC)
            with received.lock:
                received.batches += 1
                received.last_at = time.perf_counter()
                received.first_at = received.first_at or received.last_at
                received.last_wall = now
                for item in body["items"]:
                    received.lags.append((now - dt.datetime.fromisoformat(item["changed_at"])).total_seconds())
                    received.kinds.append(f"{item['kind']} {item['action']}")
            self.send_response(204)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


async def burst(registry_url: str, headers: dict[str, str], desa: list[str]) -> float:
    """A Kampung KB in each desa, then `PUTS` kependudukan PUTs over them (a month each), `CLIENTS` at once; returns
    the seconds it took."""
    async with httpx.AsyncClient(base_url=registry_url, headers=headers, timeout=60) as http:
        started = time.perf_counter()
        ids = []
        for code in desa:
            created = await http.post(
                "/v1/kampung", json={"name": "Bench", "desa_code": code, "formed_on": "2020-01-01"}
            )
            created.raise_for_status()
            ids.append(created.json()["id"])
    queue: asyncio.Queue[tuple[int, str]] = asyncio.Queue()
    for n in range(PUTS):
        year, month = divmod(n // len(ids), 12)
        queue.put_nowait((ids[n % len(ids)], f"{2020 + year}-{month + 1:02d}"))

    async def client() -> None:
        async with httpx.AsyncClient(base_url=registry_url, headers=headers, timeout=60) as http:
            while not queue.empty():
                kampung_id, period = queue.get_nowait()
                put = await http.put(f"/v1/kampung/{kampung_id}/kependudukan/{period}", json=KEPENDUDUKAN)
                put.raise_for_status()

    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return time.perf_counter() - started


def lag_figures(lags: list[float]) -> str:
    if not lags:
        return "none arrived"
    lags = sorted(lags)
    p50, p95 = statistics.median(lags), statistics.quantiles(lags, n=100)[94] if len(lags) > 1 else lags[0]
    return f"p50 {p50:.2f} s, p95 {p95:.2f} s, max {lags[-1]:.2f} s"


def burst_part() -> None:
    regions = demo_regions()
    desa = [row["code"] for row in regions if row["level"] == "desa"]
    port = free_port()
    received = Received()
    server = receiver(port, received)
    env = {"REGISTRY_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8", "REGISTRY_OUTBOX_RELAY_IN_API": "true"}
    with (
        local_stack("webhooks", regions_csv=to_csv(regions), **env) as stack,
        httpx.Client(base_url=stack.registry_url, headers=stack.headers, timeout=60) as http,
    ):
        hook = http.post("/v1/webhooks", json={"url": f"http://127.0.0.1:{port}/hooks"})
        hook.raise_for_status()
        start_cursor = hook.json()["cursor"]
        started = time.perf_counter()
        writing = asyncio.run(burst(stack.registry_url, stack.headers, desa))
        written_at = time.perf_counter()
        total = 0
        after = start_cursor
        while page := http.get("/v1/changes", params={"after": after, "limit": 1000}).json()["items"]:
            total += len(page)
            after = page[-1]["cursor"]
        while True:
            with received.lock:
                if len(received.lags) >= total:
                    break
            time.sleep(0.05)
        drained_at = received.last_at
        lags, batches = list(received.lags), received.batches
        # The same items again as one backlog (a replay): delivery alone, no writes to wait for.
        replay_started = time.perf_counter()
        http.post(f"/v1/webhooks/{hook.json()['id']}/replay", params={"after": start_cursor}).raise_for_status()
        while True:
            with received.lock:
                if len(received.lags) >= 2 * total:
                    break
            time.sleep(0.05)
        replayed = received.last_at - replay_started
    server.shutdown()
    print(f"burst: {len(desa)} Kampung KB created, then {PUTS:,} PUTs by {CLIENTS} clients: {writing:.1f} s")
    print(f"feed items delivered: {len(lags):,} of {total:,} in {batches:,} batches")
    print(f"throughput: {len(lags) / (drained_at - started):,.0f} items/s from the first write to the last delivery")
    print(f"lag per item (arrival - changed_at): {lag_figures(lags)}")
    print(f"the receiver trails the last write by {max(0.0, drained_at - written_at):.2f} s")
    print(f"a backlog of {total:,} items (replay): {replayed:.2f} s, {total / replayed:,.0f} items/s")


async def everything_written(database_url: str) -> int | None:
    """The feed's items once nothing is owed any more (no classification waiting in the outbox); None while some
    is. The stack is fresh and the subscription older than every write, so they are all the receiver's."""
    connection = await asyncpg.connect(database_url)
    try:
        if await connection.fetchval("SELECT count(*) FROM outbox WHERE topic = 'classify' AND delivered_at IS NULL"):
            return None
        total: int = await connection.fetchval("SELECT count(*) FROM change_log")
        return total
    finally:
        await connection.close()


def national_part() -> None:
    if (regions := official_regions()) is None:
        return
    desa = [(r["code"], r["name"]) for r in csv.DictReader(io.StringIO(regions.decode())) if r["level"] == "desa"]
    files = generate(desa)
    print(
        f"national month: {len(desa):,} desa, the kampung file then the kependudukan file, period {PERIOD}", flush=True
    )
    port = free_port()
    received = Received()
    server = receiver(port, received)
    env = {
        "REGISTRY_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
        "REGISTRY_IMPORT_POLL_S": "0.2",
        "REGISTRY_OUTBOX_POLL_S": "0.2",
    }
    services = ("classifier", "registry-api", "registry-worker")
    with (
        local_stack("webhooks_national", regions_csv=regions, services=services, **env) as stack,
        httpx.Client(base_url=stack.registry_url, headers=stack.headers, timeout=300) as http,
    ):
        http.post("/v1/webhooks", json={"url": f"http://127.0.0.1:{port}/hooks"}).raise_for_status()
        started, started_wall = time.perf_counter(), dt.datetime.now(dt.UTC)
        jobs = import_month(http, files, ("kependudukan",))
        imported = max(dt.datetime.fromisoformat(job["finished_at"]) for job in jobs.values())
        deadline = time.monotonic() + NATIONAL_WAIT_S
        total = None
        while time.monotonic() < deadline:
            total = asyncio.run(everything_written(stack.database_url))
            with received.lock:
                if total is not None and len(received.lags) >= total:
                    break
            time.sleep(0.5)
        with received.lock:
            lags, kinds, batches = list(received.lags), list(received.kinds), received.batches
            first_at, last_at, last_wall = received.first_at, received.last_at, received.last_wall
    server.shutdown()
    for module, job in jobs.items():
        print(
            f"  {module} import: {job['status']}, {job['rows_ok']:,} rows ok in {job['timings'].get('total', 0):.1f} s"
        )
    print(f"feed items delivered: {len(lags):,} of {'?' if total is None else f'{total:,}'} in {batches:,} batches")
    if len(lags) < 2:
        return
    print(f"the import: {(imported - started_wall).total_seconds():.1f} s from the first byte to the last job finished")
    print(f"throughput: {len(lags) / (last_at - started):,.0f} items/s from the first byte posted to the last delivery")
    print(f"  {len(lags) / (last_at - first_at):,.0f} items/s from the first delivery to the last")
    print(f"lag per item (arrival - changed_at): {lag_figures(lags)}")
    by_kind: dict[str, list[float]] = {}
    for kind, lag in zip(kinds, lags, strict=True):
        by_kind.setdefault(kind, []).append(lag)
    for kind, some in sorted(by_kind.items()):
        print(f"  {kind}: {len(some):,} items, {lag_figures(some)}")
    after = (last_wall - imported).total_seconds()
    if total is not None and len(lags) >= total:
        print(f"the receiver had every item {after:.1f} s after the last import job finished")
    else:
        print(
            f"not every item within {NATIONAL_WAIT_S:.0f} s; the last arrived {after:.1f} s after the import finished"
        )


def main() -> None:
    burst_part()
    national_part()


if __name__ == "__main__":
    main()
