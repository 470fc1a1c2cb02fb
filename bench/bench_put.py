"""Latency of one submission write with classification in its path: `PUT .../kkbpk/{period}`, sequential.

Run: `.venv/bin/python bench/bench_put.py`. Starts embedded PostgreSQL and Redis in a temporary folder, migrates,
loads the demo province, starts the classifier and registry-api as real processes, measures, and stops it all.
Every PUT is a real change (a new revision, classified under every rule set). Bounded well under 90 s.

`--against PATH` compares this code with another checkout of the project at PATH (with its own `.venv`, as
`make install` leaves it there): each checkout starts its own stack with its own code, and the `PUT`s alternate
between the two, so that whatever else the machine does meets both alike (separate runs of the same code moved its
CPU per `PUT` by a third). It prints, for each of `--rounds` rounds of 500 `PUT`s a stack, each process's CPU per
`PUT` and this code's registry-api over the other's.
"""

import argparse
import json
import statistics
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from procstat import tree_cpu_seconds
from stack import KEPENDUDUKAN, PROFIL, Stack, local_stack

from kampungkb_local.demo import demo_regions, to_csv

N = 500
WARMUP = 30
PERIOD = "2024-06"
HERE = Path(__file__).resolve().parents[1]


def kkbpk(n: int) -> dict[str, object]:
    """PUS 200 each time, split differently each time so that every PUT is a new revision."""
    users = 100 + n % 60
    return {
        "poktan_participants": {"BKB": 20 + n % 15, "BKR": 10},
        "kb_users": {"KB_SUNTIK": users - 30, "KB_IMPLAN": 20, "KB_PIL": 10},
        "non_users": {"HAMIL": 200 - users - 25, "IAT": 15, "TIAL": 10},
    }


class Writer:
    """One Kampung KB of a stack with its kependudukan and profil, and a client that rewrites its kkbpk."""

    def __init__(self, registry_url: str, key: str, *, minimal: bool = False) -> None:
        headers = {"Authorization": f"Bearer {key}"} | ({"Prefer": "return=minimal"} if minimal else {})
        self.http = httpx.Client(base_url=registry_url, headers=headers, timeout=30)
        created = self.http.post(
            "/v1/kampung", json={"name": "Bench", "desa_code": "99.01.01.2001", "formed_on": "2020-01-01"}
        )
        created.raise_for_status()
        self.kampung = created.json()["id"]
        self.http.put(f"/v1/kampung/{self.kampung}/kependudukan/{PERIOD}", json=KEPENDUDUKAN).raise_for_status()
        self.http.put(f"/v1/kampung/{self.kampung}/profil/{PERIOD}", json=PROFIL).raise_for_status()

    def put(self, n: int) -> float:
        """One classified rewrite; its latency in ms."""
        started = time.perf_counter()
        response = self.http.put(f"/v1/kampung/{self.kampung}/kkbpk/{PERIOD}", json=kkbpk(n))
        elapsed = time.perf_counter() - started
        response.raise_for_status()
        assert response.json()["classification"]["status"] == "classified", response.text
        return elapsed * 1000


def measure(stack: Stack, *, minimal: bool) -> tuple[list[float], dict[str, float]]:
    """Latencies of the measured `PUT`s (ms), and the CPU each process spent on them (ms per `PUT`)."""
    writer = Writer(stack.registry_url, stack.key, minimal=minimal)
    for n in range(WARMUP):
        writer.put(n)
    cpu_before = stack.cpu_seconds()
    timings = [writer.put(WARMUP + n) for n in range(N)]
    cpu_after = stack.cpu_seconds()
    return timings, {name: (cpu_after[name] - cpu_before[name]) * 1000 / N for name in cpu_after}


# Run by each checkout's own interpreter in its own folder: its bench stack, with its code, until stdin closes.
_SERVE = """
import json, sys
sys.path.insert(0, "bench")
from stack import local_stack
from kampungkb_local.demo import demo_regions, to_csv
with local_stack(sys.argv[1], regions_csv=to_csv(demo_regions())) as stack:
    pids = {service.name: service.process.pid for service in stack.services}
    print(json.dumps({"url": stack.registry_url, "key": stack.key, "pids": pids}), flush=True)
    sys.stdin.read()
"""


@contextmanager
def served(checkout: Path, name: str, *, minimal: bool) -> Iterator[tuple[Writer, dict[str, int]]]:
    """A stack of `checkout`'s code, in a process of its own: a writer on it and its services' process ids."""
    process = subprocess.Popen(
        [str(checkout / ".venv" / "bin" / "python"), "-c", _SERVE, name],
        cwd=checkout,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        started = json.loads(process.stdout.readline())
        yield Writer(started["url"], started["key"], minimal=minimal), started["pids"]
    finally:
        process.stdin.close()
        process.wait(timeout=120)


def _cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    return {name: tree_cpu_seconds(pid) for name, pid in pids.items()}


def compare(other: Path, rounds: int, *, minimal: bool) -> None:
    """This code against `other`'s, the `PUT`s alternating between their stacks."""
    with (
        served(HERE, "put-this", minimal=minimal) as (this, this_pids),
        served(other, "put-other", minimal=minimal) as (that, that_pids),
    ):
        stacks = {"this": (this, this_pids), "other": (that, that_pids)}
        for n in range(WARMUP):
            this.put(n)
            that.put(n)
        for round_ in range(1, rounds + 1):
            before = {label: _cpu_seconds(pids) for label, (_, pids) in stacks.items()}
            timings: dict[str, list[float]] = {label: [] for label in stacks}
            for n in range(N):
                order = ("this", "other") if n % 2 else ("other", "this")
                for label in order:
                    timings[label].append(stacks[label][0].put(WARMUP + n))
            after = {label: _cpu_seconds(pids) for label, (_, pids) in stacks.items()}
            per_put = {
                label: {name: (after[label][name] - seconds) * 1000 / N for name, seconds in before[label].items()}
                for label in stacks
            }
            for label in stacks:
                cpu = ", ".join(f"{name} {ms:.2f} ms" for name, ms in per_put[label].items())
                print(f"round {round_}, {label}: p50 {statistics.median(timings[label]):.1f} ms; CPU per PUT: {cpu}")
            ratio = per_put["this"]["registry-api"] / per_put["other"]["registry-api"]
            print(f"round {round_}: registry-api's CPU per PUT, this code over the other's: {ratio:.2f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--against", type=Path, help="another checkout of the project, with its own .venv")
    parser.add_argument("--rounds", type=int, default=3, help="with --against: rounds of 500 PUTs a stack")
    parser.add_argument("--minimal", action="store_true", help="PUTs with `Prefer: return=minimal`, as phones send")
    args = parser.parse_args()
    if args.against is not None:
        compare(args.against.resolve(), args.rounds, minimal=args.minimal)
        return
    with local_stack("put", regions_csv=to_csv(demo_regions())) as stack:
        timings, cpu = measure(stack, minimal=args.minimal)
    p50 = statistics.median(timings)
    p95 = statistics.quantiles(timings, n=100)[94]
    print(f"PUT with classification, sequential: p50 {p50:.1f} ms, p95 {p95:.1f} ms (n={len(timings)})")
    print("CPU per PUT: " + ", ".join(f"{name} {ms:.2f} ms" for name, ms in cpu.items()))


if __name__ == "__main__":
    main()
