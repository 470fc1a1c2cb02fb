"""Classifier throughput: in-process and over HTTP batch against one uvicorn worker, and the one over the other, each
with the explanation and without it (`"explain": false`, what the registry's bulk calls ask for).

Both are counted per second of CPU (the in-process loop's own, the server process's), which the load of a shared
machine moves far less than wall time; the ratio is what serving over HTTP keeps of the scoring's own rate. The
registry's bulk call is also measured in paired rounds, each right after the short `score()` of the same items, so
that a shared machine's load moves both; each round also measures the ceiling a JSON body leaves it, decoding and
scoring the same bodies in process with nothing received or written.
Run: `.venv/bin/python bench/bench_classifier.py`. Fixed seed; about a minute on a slow day. `--against PATH` runs only
the paired rounds, this code's classifier and another checkout's (with its own `.venv`) measured in turn each round.
"""

import argparse
import datetime as dt
import os
import random
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson

from classifier.batch import parse_batch
from classifier.inputs import Snapshot as Inputs
from classifier.inputs import from_model
from classifier.ruleset import RuleSet, load_rulesets
from classifier.scoring import classify, figures, score
from kampungkb_shared.classification import Snapshot
from kampungkb_shared.codes import (
    Contraception,
    DataSource,
    Facility,
    FundingSource,
    Instansi,
    NonUseReason,
    OperationalItem,
    Poktan,
    Regulation,
)
from kampungkb_shared.collector import collector_paused

BATCH = 10_000
BOTH = "both rule sets, NDJSON"
BOTH_CSV = "both rule sets, CSV records"
_LABEL = {True: "with the explanation", False: "without it"}
ROUNDS = 4
PAIRED_ROUNDS = 7
POPULATION = 20_000


def _pick(rng: random.Random, codes: list[str]) -> list[str]:
    return rng.sample(codes, rng.randint(0, len(codes)))


def snapshot(rng: random.Random) -> dict[str, Any]:
    """A varied, internally consistent snapshot: sometimes a module is missing."""
    families = rng.randint(50, 800)
    pus = rng.randint(0, families)
    users = rng.randint(0, pus)
    methods = [c.value for c in Contraception]
    kb_users = dict.fromkeys(methods, 0)
    for _ in range(users):
        kb_users[rng.choice(methods)] += 1
    reasons = [c.value for c in NonUseReason]
    non_users = dict.fromkeys(reasons, 0)
    for _ in range(pus - users):
        non_users[rng.choice(reasons)] += 1
    kep = {
        "pus": pus,
        "families": families,
        "remaja": rng.randint(0, families),
        "families_with_balita": rng.randint(0, families),
        "families_with_remaja": rng.randint(0, families),
        "families_with_lansia": rng.randint(0, families),
    }
    denominators = {"BKB": "families_with_balita", "BKR": "families_with_remaja", "BKL": "families_with_lansia"}
    denominators |= {"UPPKA": "families", "PIK_R": "remaja"}
    participants = {p: rng.randint(0, kep[field]) for p, field in denominators.items()}
    profil = {
        "pokja": {"exists": rng.random() < 0.9, "members": rng.randint(0, 20), "trained": rng.random() < 0.6},
        "funding_sources": _pick(rng, [c.value for c in FundingSource]),
        "poktan": _pick(rng, [c.value for c in Poktan]),
        "facilities": _pick(rng, [c.value for c in Facility]),
        "pkb_pendamping": rng.random() < 0.7,
        "regulations": _pick(rng, [c.value for c in Regulation]),
        "data_sources": _pick(rng, [c.value for c in DataSource]),
        "operational": {item: "BULANAN" for item in _pick(rng, [c.value for c in OperationalItem])},
    }
    start = dt.date(2023, 1, 1)
    partners = [
        {"code": code.value, "last_activity": (start + dt.timedelta(days=rng.randint(0, 900))).isoformat()}
        for code in rng.sample(list(Instansi), rng.randint(0, 10))
    ]
    return {
        "profil": profil if rng.random() < 0.95 else None,
        "kependudukan": kep if rng.random() < 0.95 else None,
        "kkbpk": {"poktan_participants": participants, "kb_users": kb_users, "non_users": non_users}
        if rng.random() < 0.95
        else None,
        "partners": partners,
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def in_process(snapshots: list[Snapshot], data: list[Inputs]) -> dict[tuple[str, bool], float]:
    """`score()` per CPU-second by rule set, with and without the explanation, on snapshots decoded beforehand (`data`,
    as the HTTP batch decodes them; `snapshots`, the same as models, for `classify()`)."""
    rulesets = load_rulesets()
    rates: dict[tuple[str, bool], float] = {}
    for ruleset in rulesets.values():
        for snap in data[:1000]:  # warm the rule set's memos, as the HTTP server's first request does
            score(snap, "2025-06", ruleset)
        for explain in (True, False):
            started = time.process_time()
            for snap in data:
                score(snap, "2025-06", ruleset, explain=explain)
            rate = rates[(ruleset.id, explain)] = len(data) / (time.process_time() - started)
            print(f"classifier in-process, score() ({ruleset.id}, {_LABEL[explain]}): {rate:,.0f} /s of CPU")
        started = time.process_time()
        for model in snapshots[:2000]:
            classify(model, "2025-06", ruleset)
        rate = 2000 / (time.process_time() - started)
        print(f"classifier in-process, classify() on models ({ruleset.id}): {rate:,.0f} classifications/s of CPU")
    return rates


NDJSON = "application/x-ndjson"
CSV = "text/csv"


def _post(client: httpx.Client, body: bytes, accept: str) -> int:
    headers = {"content-type": "application/json", "accept": accept}
    response = client.post("/v1/classify/batch", content=body, headers=headers)
    response.raise_for_status()
    if accept in (NDJSON, CSV):  # one line per result (the bench's items are all valid), CSV's header first
        return response.content.count(b"\n") - (accept == CSV)
    return len(orjson.loads(response.content)["results"])


def _throughput(client: httpx.Client, bodies: list[bytes], accept: str = "application/json") -> tuple[int, float]:
    """Results and results/s. Two requests in flight, so the one-worker server never waits for the client."""
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as pool:
        total = sum(pool.map(lambda body: _post(client, body, accept), bodies))
    return total, total / (time.perf_counter() - started)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _measured(
    client: httpx.Client, pid: int, bodies: list[bytes], accept: str = "application/json"
) -> tuple[float, float]:
    """Results per second end to end and per second of the server's CPU."""
    before = _cpu_seconds(pid)
    total, rate = _throughput(client, bodies, accept)
    return rate, total / (_cpu_seconds(pid) - before)


@contextmanager
def served(checkout: Path | None = None) -> Iterator[tuple[httpx.Client, int]]:
    """A classifier of one uvicorn worker, of this code or (`checkout`) of another checkout's, with its own `.venv`:
    a client on it and its process id."""
    port = free_port()
    env = {**os.environ, "LOG_LEVEL": "WARNING"}
    python = sys.executable if checkout is None else str(checkout / ".venv" / "bin" / "python")
    command = ["-m", "uvicorn", "classifier.main:app", "--workers", "1", "--port", str(port), "--host", "127.0.0.1"]
    server = subprocess.Popen([python, *command, "--log-level", "warning", "--no-access-log"], env=env, cwd=checkout)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            deadline = time.monotonic() + 20
            while True:
                try:
                    if client.get("/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("classifier did not become ready")
                time.sleep(0.1)
            yield client, server.pid
    finally:
        server.terminate()
        server.wait(timeout=10)


def batch_bodies(raw: list[dict[str, Any]]) -> list[bytes]:
    """The snapshots as batch bodies of `BATCH` items."""
    return [
        orjson.dumps(
            {
                "items": [
                    {"id": i, "period": "2025-06", "snapshot": s} for i, s in enumerate(raw[k : k + BATCH], start=k)
                ]
            }
        )
        for k in range(0, len(raw), BATCH)
    ]


def asking_both(bodies: list[bytes], *, explain: bool) -> list[bytes]:
    """The bodies asking for both rule sets, as the registry asks."""
    fields = f'{{"rulesets":["bkkbn-web-2021","kkb-2025"],"explain":{str(explain).lower()},"items"'
    return [body.replace(b'{"items"', fields.encode(), 1) for body in bodies]


def over_http(raw: list[dict[str, Any]], data: list[Inputs]) -> dict[tuple[str, bool], tuple[float, float]]:
    """End to end and per second of the server's CPU, by rule set, with and without the explanation (`"explain"`), of
    the snapshots `raw` (`data`: the same decoded, for the paired rounds)."""
    with served() as (client, pid):
        bodies = batch_bodies(raw)
        client.post("/v1/classify/batch", content=bodies[0], headers={"content-type": "application/json"})
        rates: dict[tuple[str, bool], tuple[float, float]] = {}
        for explain in (True, False):
            for ruleset in ("bkkbn-web-2021", "kkb-2025"):
                fields = f'{{"ruleset":"{ruleset}","explain":{str(explain).lower()},"items"'.encode()
                tagged = [body.replace(b'{"items"', fields, 1) for body in bodies]
                rate, per_cpu = rates[(ruleset, explain)] = _measured(client, pid, tagged * ROUNDS)
                print(
                    f"classifier HTTP batch ({ruleset}, {_LABEL[explain]}, {BATCH:,}/request, 1 worker): "
                    f"{rate:,.0f} /s end to end, {per_cpu:,.0f} /s of server CPU"
                )
            # What the registry asks for: both rule sets in one call, answered as NDJSON.
            both = asking_both(bodies, explain=explain)
            rate, per_cpu = rates[(BOTH, explain)] = _measured(client, pid, both * ROUNDS, NDJSON)
            print(
                f"classifier HTTP batch ({BOTH}, {_LABEL[explain]}): "
                f"{rate:,.0f} results/s end to end, {per_cpu:,.0f} /s of server CPU"
            )
        # What the registry asks for on its bulk calls: the same, without the explanation, as CSV records.
        both = asking_both(bodies, explain=False)
        rate, per_cpu = rates[(BOTH_CSV, False)] = _measured(client, pid, both * ROUNDS, CSV)
        print(
            f"classifier HTTP batch ({BOTH_CSV}, {_LABEL[False]}): "
            f"{rate:,.0f} results/s end to end, {per_cpu:,.0f} /s of server CPU"
        )
        _paired({"": (client, pid)}, both, data)
        return rates


def short_scores(data: list[Inputs], rulesets: Iterable[RuleSet]) -> int:
    """The short `score()` of every snapshot under each rule set; returns the results."""
    results = 0
    for ruleset in rulesets:
        for snap in data:
            score(snap, "2025-06", ruleset, explain=False)
            results += 1
    return results


def _short_score_rate(data: list[Inputs]) -> float:
    """Short `score()`s per CPU-second in this process, both rule sets."""
    rulesets = load_rulesets().values()
    started = time.process_time()
    results = short_scores(data, rulesets)
    return results / (time.process_time() - started)


def decode_and_score(bodies: list[bytes], rulesets: dict[str, RuleSet]) -> int:
    """What the server cannot do without: the bodies decoded into the scoring's inputs (`parse_batch`, as the server
    does) and scored (`figures()`, the short `score()` without building a result), with nothing received, answered or
    written. Returns the results."""
    default = next(iter(rulesets))
    results = 0
    with collector_paused():  # as the server decodes and scores a batch
        for body in bodies:
            batch = parse_batch(body, max_items=BATCH, known=rulesets, default=default)
            for _, _, period, snap in batch.items:
                for ruleset in batch.rulesets:
                    figures(snap, period, ruleset)
                    results += 1
    return results


def _ceiling_rate(bodies: list[bytes]) -> float:
    """Results per CPU-second of `decode_and_score`: the most a JSON body lets the bulk call reach."""
    rulesets = load_rulesets()
    started = time.process_time()
    results = decode_and_score(bodies, rulesets)
    return results / (time.process_time() - started)


def _paired(
    servers: dict[str, tuple[httpx.Client, int]], bodies: list[bytes], data: list[Inputs]
) -> dict[str, list[float]]:
    """The registry's bulk call (both rule sets, CSV records, without the explanation) over the short `score()` of
    the same items, round by round, each HTTP round right after its in-process one: a shared machine's load moves
    both alike, where separate runs saw their ratio move by 30 points. With several servers (this code's and
    another checkout's), each round measures each in turn, in an order that alternates from round to round. Each
    round also measures the ceiling (`_ceiling_rate`), over a short `score()` of its own measured right after it.
    Returns each server's results per second of its CPU, round by round."""
    ratios: dict[str, list[float]] = {label: [] for label in servers}
    served: dict[str, list[float]] = {label: [] for label in servers}
    ceilings: list[float] = []
    for round_ in range(PAIRED_ROUNDS):
        order = list(servers) if round_ % 2 == 0 else list(reversed(servers))
        for label in order:
            scored = _short_score_rate(data)
            _, served_rate = _measured(*servers[label], bodies, CSV)
            ratios[label].append(served_rate / scored)
            served[label].append(served_rate)
        ceilings.append(_ceiling_rate(bodies) / _short_score_rate(data))
    for label, values in ratios.items():
        print(
            f"HTTP batch per server CPU-second / in-process short score() ({BOTH_CSV}{label}), paired rounds: "
            f"{_spread(values)}"
        )
    print(
        "ceiling of a JSON body: decoding and figures() alone, in process, / short score(), paired rounds: "
        f"{_spread(ceilings)}"
    )
    return served


def _spread(values: list[float]) -> str:
    ordered = sorted(values)
    return f"median {ordered[len(ordered) // 2]:.0%} (from {ordered[0]:.0%} to {ordered[-1]:.0%}, {len(values)} rounds)"


def compare(other: Path, raw: list[dict[str, Any]], data: list[Inputs]) -> None:
    """The paired rounds of this code's classifier and another checkout's, side by side."""
    both = asking_both(batch_bodies(raw), explain=False)
    with served() as this, served(other) as that:
        for client, _ in (this, that):
            client.post("/v1/classify/batch", content=both[0], headers={"content-type": "application/json"})
        # Four times the bodies a round: a round of the two servers alone moved by a third from one to the next.
        rates = _paired({", this code": this, f", {other.name}": that}, both * ROUNDS, data)
    ratios = [mine / theirs for mine, theirs in zip(rates[", this code"], rates[f", {other.name}"], strict=True)]
    print(
        f"results per server CPU-second, this code's classifier over {other.name}'s, round by round: {_spread(ratios)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--against", type=Path, help="another checkout of the project, with its own .venv")
    args = parser.parse_args()
    rng = random.Random(20250601)
    raw = [snapshot(rng) for _ in range(POPULATION)]
    snapshots = [Snapshot.model_validate(s) for s in raw]
    data = [from_model(s) for s in snapshots]
    if args.against is not None:
        compare(args.against.resolve(), raw, data)
        return
    scoring = in_process(snapshots, data)
    for explain in (True, False):
        # Both rule sets, one result each: the in-process time per result is the mean of the two.
        times = [1 / rate for (ruleset, kind), rate in scoring.items() if kind is explain]
        scoring[(BOTH, explain)] = len(times) / sum(times)
    served = {key: per_cpu for key, (_, per_cpu) in over_http(raw, data).items()}
    for ruleset in ("bkkbn-web-2021", "kkb-2025", BOTH):
        full, short = served[(ruleset, True)], served[(ruleset, False)]
        print(
            f"HTTP batch per server CPU-second / in-process score() ({ruleset}): "
            f"full / full {full / scoring[(ruleset, True)]:.0%}, "
            f"short / short {short / scoring[(ruleset, False)]:.0%} (like for like), "
            f"short / full {short / scoring[(ruleset, True)]:.0%}"
        )
    rows = served[(BOTH_CSV, False)]
    print(
        f"HTTP batch per server CPU-second / in-process score() ({BOTH_CSV}): "
        f"short / short {rows / scoring[(BOTH, False)]:.0%} (like for like), "
        f"short / full {rows / scoring[(BOTH, True)]:.0%}"
    )


if __name__ == "__main__":
    main()
