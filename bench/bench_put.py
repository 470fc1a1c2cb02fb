"""Latency of one submission write with classification in its path: `PUT .../kkbpk/{period}`, sequential.

Run: `uv run python bench/bench_put.py`. Starts embedded PostgreSQL and Redis in a temporary folder, migrates,
loads the demo province, starts the classifier and registry-api as real processes, measures, and stops it all.
Every PUT is a real change (a new revision, classified under every rule set). Bounded well under 90 s.
"""

import statistics
import time

import httpx
from stack import KEPENDUDUKAN, PROFIL, Stack, local_stack

from kampungkb_local.demo import demo_regions, to_csv

N = 500
WARMUP = 30
PERIOD = "2024-06"


def kkbpk(n: int) -> dict[str, object]:
    """PUS 200 each time, split differently each time so that every PUT is a new revision."""
    users = 100 + n % 60
    return {
        "poktan_participants": {"BKB": 20 + n % 15, "BKR": 10},
        "kb_users": {"KB_SUNTIK": users - 30, "KB_IMPLAN": 20, "KB_PIL": 10},
        "non_users": {"HAMIL": 200 - users - 25, "IAT": 15, "TIAL": 10},
    }


def measure(stack: Stack) -> tuple[list[float], dict[str, float]]:
    """Latencies of the measured `PUT`s (ms), and the CPU each process spent on them (ms per `PUT`)."""
    with httpx.Client(base_url=stack.registry_url, headers=stack.headers, timeout=30) as http:
        created = http.post(
            "/v1/kampung", json={"name": "Bench", "desa_code": "99.01.01.2001", "formed_on": "2020-01-01"}
        )
        created.raise_for_status()
        kampung = created.json()["id"]
        http.put(f"/v1/kampung/{kampung}/kependudukan/{PERIOD}", json=KEPENDUDUKAN).raise_for_status()
        http.put(f"/v1/kampung/{kampung}/profil/{PERIOD}", json=PROFIL).raise_for_status()
        timings = []
        cpu_before: dict[str, float] = {}
        for n in range(WARMUP + N):
            if n == WARMUP:
                cpu_before = stack.cpu_seconds()
            started = time.perf_counter()
            response = http.put(f"/v1/kampung/{kampung}/kkbpk/{PERIOD}", json=kkbpk(n))
            elapsed = time.perf_counter() - started
            response.raise_for_status()
            assert response.json()["classification"]["status"] == "classified", response.text
            if n >= WARMUP:
                timings.append(elapsed * 1000)
        cpu_after = stack.cpu_seconds()
    return timings, {name: (cpu_after[name] - cpu_before[name]) * 1000 / N for name in cpu_after}


def main() -> None:
    with local_stack("put", regions_csv=to_csv(demo_regions())) as stack:
        timings, cpu = measure(stack)
    p50 = statistics.median(timings)
    p95 = statistics.quantiles(timings, n=100)[94]
    print(f"PUT with classification, sequential: p50 {p50:.1f} ms, p95 {p95:.1f} ms (n={len(timings)})")
    print("CPU per PUT: " + ", ".join(f"{name} {ms:.2f} ms" for name, ms in cpu.items()))


if __name__ == "__main__":
    main()
