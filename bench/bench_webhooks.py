"""Webhook delivery under a burst of writes: throughput and lag to one receiver on loopback.

Run: `uv run python bench/bench_webhooks.py` (part of `make bench`). Starts embedded PostgreSQL and Redis with the demo
province, the classifier and registry-api as real processes (its webhook dispatcher in the API process, loopback
allowed), and a receiver in this process that answers 204 and notes when each item arrives. One national
subscription; then a burst: a Kampung KB in each of the 30 desa, then 1,500 kependudukan PUTs over them, a month
each (8 clients at once), some 4,500 feed items. Figures: items delivered per second while the burst runs, the lag
of each item (arrival minus its `changed_at`), how long the receiver trails the last write, and the same items
replayed as one backlog.
"""

import asyncio
import datetime as dt
import json
import statistics
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
from stack import KEPENDUDUKAN, local_stack

from kampungkb_local.demo import demo_regions, to_csv
from kampungkb_local.servers import free_port

PUTS = 1_500
CLIENTS = 8


class Received:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.lags: list[float] = []
        self.batches = 0
        self.last_at = 0.0


def receiver(port: int, received: Received) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            now = dt.datetime.now(dt.UTC)
            with received.lock:
                received.batches += 1
                received.last_at = time.perf_counter()
                for item in body["items"]:
                    received.lags.append((now - dt.datetime.fromisoformat(item["changed_at"])).total_seconds())
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


def main() -> None:
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
        lags, batches = sorted(received.lags), received.batches
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
    p50, p95 = statistics.median(lags), statistics.quantiles(lags, n=100)[94]
    print(f"burst: {len(desa)} Kampung KB created, then {PUTS:,} PUTs by {CLIENTS} clients: {writing:.1f} s")
    print(f"feed items delivered: {len(lags):,} of {total:,} in {batches:,} batches")
    print(f"throughput: {len(lags) / (drained_at - started):,.0f} items/s from the first write to the last delivery")
    print(f"lag per item (arrival - changed_at): p50 {p50:.2f} s, p95 {p95:.2f} s, max {lags[-1]:.2f} s")
    print(f"the receiver trails the last write by {max(0.0, drained_at - written_at):.2f} s")
    print(f"a backlog of {total:,} items (replay): {replayed:.2f} s, {total / replayed:,.0f} items/s")


if __name__ == "__main__":
    main()
