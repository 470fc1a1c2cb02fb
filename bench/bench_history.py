"""Years of national history: what each operation costs with 36 months behind it, against an empty database.

Run: `make bench-history` (not part of `make bench`), or `.venv/bin/python bench/bench_history.py [--scale 1.0]
[--months 36] [--build-only] [--seconds 30]`. Builds `--months` months of history (`history_data.py`: one Kampung KB
in a `--scale` share of the desa of `../shared/data/wilayah.csv`, every month's profil, kependudukan, kkbpk and
kegiatan files, a share of rows changed each month, back-dated kkbpk corrections) through the import API with every
service running as a process, printing each month's import as it goes. The history is kept in a PostgreSQL data
folder under `~/.cache/kampungkb-bench/` (or `$KAMPUNGKB_BENCH_CACHE`), keyed by a hash of the generator code, the
scale and the migrations: a later run resumes the build where it stopped, or starts measuring at once. The
measurements write to that database (a few thousand revisions), which later runs take as it is.

Then, in the same PostgreSQL cluster, a database given only the last month (its Kampung KB and that month's files), and
on each in turn, with the services restarted on it: the change feed caught up over the last month, a report `GET` for
the nation and the largest kabupaten, a 36-month trend, an export of the month, a whole-period rebuild (its flags of
every Kampung KB, then as the nightly one runs: of those changed since), `PUT` p50/p95 sequential and under the load of
`bench_load.py`, and a back-dated correction until every report it changes is fresh, then a second one in the same
kabupaten. Printed as history / empty, with PostgreSQL's CPU-seconds beside wall times, then the bytes per Kampung
KB-month of each table and its indexes and the disk a decade would take.
"""

import argparse
import asyncio
import csv
import dataclasses
import datetime as dt
import hashlib
import io
import json
import os
import random
import signal
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from redis.asyncio import Redis

sys.path.insert(0, str(Path(__file__).resolve().parent))
import history_data
from bench_exports import over_http
from bench_feed import follow
from bench_import import post_file, reports_fresh, wait_for
from bench_load import Target, client_pool, kkbpk, load
from procstat import tree_cpu_seconds
from stack import Servers, Stack, embedded_servers, official_regions, quiet, services_on

from kampungkb_shared.jobs import REPORT_QUEUE
from kampungkb_shared.periods import parse_period
from registry_api import migrate
from registry_api.exports.schemas import ExportFormat, ExportModule
from report_worker.aggregates import rebuild_period

HERE = Path(__file__).resolve().parent
SERVICES = ("classifier", "registry-api", "registry-worker", "report-worker")
ENV = {
    "WORKER_REBUILD_ON_STARTUP": "false",
    "REGISTRY_IMPORT_POLL_S": "0.2",
    "REGISTRY_OUTBOX_POLL_S": "0.2",
}
REGISTRY_WORKERS = 2
"""`registry-api worker` processes (imports, the outbox relay): the same for the build's months, whose last is the
history's import figure, and for the empty database's import it is held against."""
ORDER = ("profil", "kependudukan", "kkbpk", "kegiatan")
"""The files of a month in the order they are posted (profil merged before kkbpk, the fast order)."""


def cache_folder(scale: float) -> Path:
    """Where the history of this generator, scale and migration chain is kept."""
    digest = hashlib.sha256()
    for source in (HERE / "history_data.py", HERE / "bench_import.py"):
        digest.update(source.read_bytes())
    versions = Path(migrate.__file__).parent / "migrations" / "versions"
    digest.update(" ".join(sorted(p.name for p in versions.glob("*.py"))).encode())
    digest.update(f"{history_data.SEED} {scale}".encode())
    root = Path(os.environ.get("KAMPUNGKB_BENCH_CACHE", Path.home() / ".cache" / "kampungkb-bench"))
    return root / f"history-{scale:g}-{digest.hexdigest()[:12]}"


def postgres_cpu(data_dir: Path) -> Callable[[], float]:
    """A reading of the CPU-seconds the PostgreSQL server of `data_dir` has used (postmaster, backends live and
    ended)."""
    return partial(tree_cpu_seconds, int((data_dir / "postmaster.pid").read_text().split()[0]))


def load_progress(folder: Path) -> dict[str, Any]:
    path = folder / "progress.json"
    return json.loads(path.read_text()) if path.exists() else {"months": 0, "cursors": {}}


def save_progress(folder: Path, progress: dict[str, Any]) -> None:
    path = folder / "progress.json.new"
    path.write_text(json.dumps(progress, indent=1))
    path.replace(folder / "progress.json")


def check(jobs: dict[str, dict[str, Any]]) -> None:
    bad = {
        m: (j["status"], j["rows_failed"], j["reason"], j["errors"][:2]) for m, j in jobs.items() if j["rows_failed"]
    }
    bad |= {m: (j["status"], j["reason"]) for m, j in jobs.items() if j["status"] != "succeeded"}
    if bad:
        raise RuntimeError(f"import failed: {bad}")


def import_files(
    http: httpx.Client, stack: Stack, month: history_data.Month, with_kampung: bool
) -> tuple[dict[str, dict[str, Any]], str]:
    """Post a month as an integration does (the Kampung KB first when asked, then the module files together) and wait
    until the jobs finish and every kabupaten report of the month is fresh; returns the jobs and the feed's cursor
    before the module files."""
    jobs = {"kampung": wait_for(http, post_file(http, "kampung", month.kampung))} if with_kampung else {}
    cursor = str(http.get("/v1/changes/head").json()["cursor"])
    urls = {module: post_file(http, module, month.files[module], month.period) for module in ORDER}
    jobs |= {module: wait_for(http, url) for module, url in urls.items()}
    since = max(dt.datetime.fromisoformat(job["finished_at"]) for job in jobs.values())
    for period, body in month.corrections.items():
        jobs[f"kkbpk {period}"] = wait_for(http, post_file(http, "kkbpk", body, period))
    check(jobs)
    if asyncio.run(reports_fresh(stack.database_url, since, timeout_s=600, period=month.period)) is None:
        raise RuntimeError(f"reports of {month.period} not fresh within 600 s")
    return jobs, cursor


def build(
    servers: Servers, folder: Path, desa: list[tuple[str, str]], regions: bytes, args: argparse.Namespace
) -> None:
    """Import the months the cache does not hold yet, printing each."""
    progress = load_progress(folder)
    if progress["months"] >= args.months:
        print(f"history: {progress['months']} months cached in {folder}", flush=True)
        return
    stack = servers.database("history", regions_csv=regions)
    cpu = postgres_cpu(folder / "pg")
    print(f"history: building months {progress['months'] + 1}-{args.months} in {folder}", flush=True)
    with (
        services_on(stack, SERVICES, registry_workers=REGISTRY_WORKERS, **ENV),
        httpx.Client(base_url=stack.registry_url, headers=stack.headers, timeout=600) as http,
    ):
        for month in history_data.months(desa, scale=args.scale, count=args.months, first=progress["months"] + 1):
            began, cpu_began = time.monotonic(), cpu()
            jobs, cursor = import_files(http, stack, month, with_kampung=month.number == 1)
            seconds = time.monotonic() - began
            changed = sum(job["rows_inserted"] + job["rows_updated"] for job in jobs.values())
            each = ", ".join(f"{module} {job['timings'].get('total', 0):.1f}" for module, job in jobs.items())
            print(
                f"  month {month.number:>2} {month.period}: {seconds:6.1f} s until its reports are fresh, PostgreSQL "
                f"{cpu() - cpu_began:6.1f} CPU-s; {changed:,} rows written; jobs (s): {each}",
                flush=True,
            )
            progress["months"] = month.number
            progress["cursors"][month.period] = cursor
            progress.setdefault("imports", {})[month.period] = [seconds, cpu() - cpu_began]
            save_progress(folder, progress)
        # The month's whole-period rebuilds may still run once its kabupaten reports are fresh: stopped mid-job,
        # report-worker's job would stay marked running in Redis until its timeout, and run in the middle of the
        # measurements instead.
        asyncio.run(quiet(stack.database_url, cpu))


Figure = tuple[float, float | None]
"""A measurement: its value (seconds or ms), and PostgreSQL's CPU-seconds over it when measured."""


@contextmanager
def timed(stack: Stack, cpu: Callable[[], float], figures: dict[str, Figure], name: str) -> Iterator[None]:
    """Once the stack is idle, record the wall time of the block and PostgreSQL's CPU-seconds over it; print them."""
    asyncio.run(quiet(stack.database_url, cpu))
    began, cpu_began = time.perf_counter(), cpu()
    yield
    seconds, cpu_seconds = time.perf_counter() - began, cpu() - cpu_began
    figures[name] = (seconds, cpu_seconds)
    print(f"  {name}: {seconds:.3f} s, PostgreSQL {cpu_seconds:.2f} CPU-s", flush=True)


def repeated(http: httpx.Client, path: str, params: dict[str, str], times: int) -> tuple[float, float]:
    """(median, 95th percentile) in ms of `times` GETs, after one not counted."""
    http.get(path, params=params).raise_for_status()
    timings = []
    for _ in range(times):
        began = time.perf_counter()
        http.get(path, params=params).raise_for_status()
        timings.append((time.perf_counter() - began) * 1000)
    return statistics.median(timings), statistics.quantiles(timings, n=20)[18]


_TARGETS = """
    SELECT k.id, k.kabupaten_code, (d.payload->>'pus')::int
      FROM kampung k
      JOIN submission d ON d.kampung_id = k.id AND d.module = 'kependudukan' AND d.period = $1
      JOIN submission p ON p.kampung_id = k.id AND p.module = 'profil' AND p.period = $1
     WHERE (d.payload->>'pus')::int >= 200 AND (d.payload->>'families_with_balita')::int >= 80
       AND (d.payload->>'families_with_remaja')::int >= 70 AND (d.payload->>'families_with_lansia')::int >= 60
       AND p.payload->'poktan' @> '["BKB", "BKR", "BKL"]' AND ($2::text IS NULL OR k.kabupaten_code = $2)
     ORDER BY k.desa_code LIMIT $3
"""
"""Kampung KB that `bench_load.kkbpk` can write to (its participants fit their denominators and poktan)."""
_LARGEST = "SELECT kabupaten_code FROM kampung GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"
_STALE = """
    SELECT count(*) FROM report_aggregate WHERE level = 'kabupaten' AND code = $1 AND period = $2 AND computed_at <= $3
"""
_UNDELIVERED = "SELECT count(*) FROM outbox WHERE delivered_at IS NULL"


async def targets(database_url: str, period: str, count: int, kabupaten: str | None = None) -> list[Target]:
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch(_TARGETS, parse_period(period), kabupaten, count)
        return [(row[0], row[1], row[2]) for row in rows]
    finally:
        await connection.close()


async def largest_kabupaten(database_url: str) -> str:
    connection = await asyncpg.connect(database_url)
    try:
        return str(await connection.fetchval(_LARGEST))
    finally:
        await connection.close()


async def moved_fresh(stack: Stack, kabupaten: str, period: str, since: dt.datetime) -> None:
    """Wait until every report a change moved is fresh: the kabupaten's report of `period` computed after `since`, no
    report event left to deliver, no report job queued or running (its data-quality pass included)."""
    connection = await asyncpg.connect(stack.database_url)
    queue = Redis.from_url(stack.redis_url)
    deadline = time.monotonic() + 600
    try:
        while (
            await connection.fetchval(_STALE, kabupaten, parse_period(period), since)
            or await connection.fetchval(_UNDELIVERED)
            or await queue.zcard(REPORT_QUEUE)
            or await queue.keys("arq:in-progress:*")
        ):
            if time.monotonic() > deadline:
                raise RuntimeError(f"reports of {kabupaten} moved from {period} not fresh within 600 s")
            await asyncio.sleep(0.05)
    finally:
        await connection.close()
        await queue.aclose()


async def rebuild(database_url: str, period: str, *, every_flag: bool) -> None:
    """A whole-nation rebuild of the period: its flags of every Kampung KB (`every_flag`: a period's first rebuild, or
    the first under new rules), or, as the nightly one runs, of those changed since the period's last pass."""
    connection = await asyncpg.connect(database_url)
    try:
        await rebuild_period(
            connection,
            period=parse_period(period),
            rulesets=["bkkbn-web-2021", "kkb-2025"],
            reconcile_flags=every_flag,
        )
    finally:
        await connection.close()


_REVISIONS = """
    SELECT coalesce(sum(revision), 0) FROM submission WHERE module = 'kkbpk' AND period = $1 AND kampung_id = ANY($2)
"""


async def fresh_seed(database_url: str, kampung_ids: list[int], period: str) -> int:
    """The seed of the kkbpk written to these Kampung KB for the period: from the sum of their stored revisions, which
    every change moves on, so that a run on a cached history writes what no run before wrote (the same content again
    would change nothing, and leave no report to refresh)."""
    connection = await asyncpg.connect(database_url)
    try:
        return 1_000_000 + int(await connection.fetchval(_REVISIONS, parse_period(period), kampung_ids))
    finally:
        await connection.close()


def put_sequential(http: httpx.Client, kampung: list[Target], period: str, count: int, seed: int) -> list[float]:
    rng = random.Random(seed)
    timings = []
    for n in range(count + 20):
        kampung_id, _, pus = kampung[n % len(kampung)]
        began = time.perf_counter()
        http.put(f"/v1/kampung/{kampung_id}/kkbpk/{period}", json=kkbpk(rng, pus)).raise_for_status()
        if n >= 20:
            timings.append((time.perf_counter() - began) * 1000)
    return timings


def percentiles(timings: list[float]) -> tuple[float, float]:
    return statistics.median(timings), statistics.quantiles(timings, n=20)[18]


async def load_test(stack: Stack, kampung: list[Target], seconds: float, period: str) -> list[float]:
    """`PUT` times (ms) under the load of `bench_load.py`'s clients that pause between requests."""
    async with client_pool(stack.registry_url, stack.headers) as http:
        timings, _ = await load(http, kampung, seconds, (0.5, 1.5), period)
    failed = {kind: len(values) for kind, values in timings.items() if kind not in ("PUT kkbpk", "GET report")}
    if failed:
        print(f"    failed requests: {failed}")
    return timings["PUT kkbpk"]


CORRECTIONS = (
    "kkbpk correction of the first month, until the reports it moves are fresh (s)",
    "a second one in the same kabupaten, its data-quality pass from the first's cursor (s)",
)


def measure(
    stack: Stack,
    cpu: Callable[[], float],
    month: history_data.Month,
    cursor: str,
    seconds: float,
    imported: Figure,
    oldest: str,
) -> dict[str, Figure]:
    """Every operation once on `stack` (its services running), `oldest` its first month; the figures by name."""
    figures: dict[str, Figure] = {"import of the month, until its reports are fresh (s)": imported}
    print(f"  import of the month: {imported[0]:.1f} s, PostgreSQL {imported[1]:.1f} CPU-s", flush=True)
    url, period, first = stack.database_url, month.period, history_data.period_of(1)
    kabupaten = asyncio.run(largest_kabupaten(url))
    print(f"  the largest kabupaten: {kabupaten}; the first month: {oldest}", flush=True)
    with httpx.Client(base_url=stack.registry_url, headers=stack.headers, timeout=600) as http:
        with timed(stack, cpu, figures, "feed: a client catching up on the month (s)"):
            items, _ = follow(http, after=cursor)
        print(f"    ({items:,} items)")
        for name, path, params in (
            ("report GET, nation (ms)", "/v1/reports/00", {"period": period}),
            ("report GET, the largest kabupaten (ms)", f"/v1/reports/{kabupaten}", {"period": period}),
            ("trend, nation, every month of the history (ms)", "/v1/reports/00/trend", {"from": first, "to": period}),
            (
                "trend, the largest kabupaten, every month (ms)",
                f"/v1/reports/{kabupaten}/trend",
                {"from": first, "to": period},
            ),
        ):
            asyncio.run(quiet(url, cpu))
            figures[name] = (repeated(http, path, params, 10)[0], None)
            print(f"  {name}: median {figures[name][0]:.1f} ms", flush=True)
        for module in (ExportModule.KKBPK, ExportModule.CLASSIFICATIONS):
            with timed(stack, cpu, figures, f"export of the month, {module.value} CSV (s)"):
                over_http(http, module, ExportFormat.CSV, period)
        with timed(stack, cpu, figures, "whole-nation rebuild of the month, flags of every Kampung KB (s)"):
            asyncio.run(rebuild(url, period, every_flag=True))
        with timed(stack, cpu, figures, "the nightly rebuild of the month, flags of what changed since (s)"):
            asyncio.run(rebuild(url, period, every_flag=False))
        kampung = asyncio.run(targets(url, period, 500))
        with timed(stack, cpu, figures, "300 PUT sequential (s)"):
            seed = asyncio.run(fresh_seed(url, [kampung_id for kampung_id, _, _ in kampung], period))
            timings = put_sequential(http, kampung, period, 300, seed)
        figures["PUT sequential p50 (ms)"], figures["PUT sequential p95 (ms)"] = (
            (t, None) for t in percentiles(timings)
        )
        print(f"  PUT sequential: p50 {percentiles(timings)[0]:.1f} ms, p95 {percentiles(timings)[1]:.1f} ms")
        asyncio.run(quiet(url, cpu))
        timings = asyncio.run(load_test(stack, kampung, seconds, period))
        figures["PUT under load p50 (ms)"], figures["PUT under load p95 (ms)"] = (
            (t, None) for t in percentiles(timings)
        )
        print(f"  PUT under load: p50 {percentiles(timings)[0]:.1f} ms, p95 {percentiles(timings)[1]:.1f} ms")
        # Two corrections in the largest kabupaten: the first one's data-quality pass may be the kabupaten's first
        # since the history was built (imports rebuild whole periods and leave no cursor into the change feed), which
        # recomputes the kabupaten for every computed period; the second one's starts from the cursor the first left.
        corrected = asyncio.run(targets(url, oldest, 2, kabupaten))
        for name, (kampung_id, _, pus) in zip(CORRECTIONS, corrected, strict=True):
            correction = kkbpk(random.Random(asyncio.run(fresh_seed(url, [kampung_id], oldest))), pus)
            asyncio.run(quiet(url, cpu))  # the refreshes the load test (or the first correction) left are not its own
            since = dt.datetime.now(dt.UTC)
            with timed(stack, cpu, figures, name):
                http.put(f"/v1/kampung/{kampung_id}/kkbpk/{oldest}", json=correction).raise_for_status()
                asyncio.run(moved_fresh(stack, kabupaten, oldest, since))
        activity = {
            "title": "Koreksi",
            "date": f"{oldest}-15",
            "function": "REPRODUKSI",
            "targets": ["PUS"],
            "partners": ["DINAS_KESEHATAN", "DINAS_SOSIAL"],
        }
        asyncio.run(quiet(url, cpu))
        since = dt.datetime.now(dt.UTC)
        with timed(
            stack, cpu, figures, "a kegiatan dated in the first month, until the reports it moves are fresh (s)"
        ):
            http.post(f"/v1/kampung/{kampung_id}/kegiatan", json=activity).raise_for_status()
            asyncio.run(moved_fresh(stack, kabupaten, oldest, since))
    return figures


def fresh_database(servers: Servers, name: str, regions: bytes) -> Stack:
    """A new database `name` (dropped first if a run before left it)."""

    async def drop() -> None:
        connection = await asyncpg.connect(servers.postgres_url)
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()

    asyncio.run(drop())
    return servers.database(name, regions_csv=regions, redis_db=1)


_SIZES = """
    SELECT t.relname AS "table", i.relname AS "index", pg_total_relation_size(t.oid) AS total,
           pg_indexes_size(t.oid) AS indexes, pg_relation_size(i.oid) AS index_size
      FROM pg_class t
      JOIN pg_namespace n ON n.oid = t.relnamespace AND n.nspname = 'public'
      LEFT JOIN pg_index x ON x.indrelid = t.oid
      LEFT JOIN pg_class i ON i.oid = x.indexrelid
     WHERE t.relkind IN ('r', 'p')
     ORDER BY total DESC, index_size DESC
"""


async def table_sizes(database_url: str) -> tuple[int, list[asyncpg.Record]]:
    """The number of Kampung KB, and each table's total and index bytes with each of its indexes' bytes."""
    connection = await asyncpg.connect(database_url)
    try:
        return int(await connection.fetchval("SELECT count(*) FROM kampung")), await connection.fetch(_SIZES)
    finally:
        await connection.close()


def print_ratios(months: int, history: dict[str, Figure], empty: dict[str, Figure]) -> None:
    print(f"\n== history ({months} months) / empty ==")
    print(f"  {'operation':<72}{'history':>10}{'empty':>10}{'ratio':>7}{'PG CPU-s history / empty':>27}")
    for name, (value, cpu_seconds) in history.items():
        other, other_cpu = empty[name]
        cpu_text = "" if cpu_seconds is None or other_cpu is None else f"{cpu_seconds:.2f} / {other_cpu:.2f}"
        ratio = f"{value / other:.2f}" if other else "-"
        print(f"  {name:<72}{value:>10.3f}{other:>10.3f}{ratio:>7}{cpu_text:>27}")


def print_sizes(months: int, sizes: tuple[int, list[asyncpg.Record]], national: int) -> None:
    kampung, rows = sizes
    cells = kampung * months
    total = sum({row["table"]: row["total"] for row in rows}.values())
    print(f"\n== bytes per Kampung KB-month ({kampung:,} Kampung KB x {months} months) ==")
    print(f"  {'table / index':<56}{'total MB':>10}{'B/KB-month':>12}{'of it indexes':>15}")
    shown = set()
    for row in rows:
        if row["total"] < total / 1000:
            continue
        if row["table"] not in shown:
            shown.add(row["table"])
            print(
                f"  {row['table']:<56}{row['total'] / 1e6:>10.1f}{row['total'] / cells:>12.0f}"
                f"{row['indexes'] / cells:>15.0f}"
            )
        if row["index"] and row["index_size"] >= total / 1000:
            print(f"    {row['index']:<54}{row['index_size'] / 1e6:>10.1f}{row['index_size'] / cells:>12.0f}")
    # The change feed keeps `REGISTRY_CHANGES_RETENTION_DAYS` (90) of it, not the archive: a decade holds 3 months.
    feed = next((row["total"] for row in rows if row["table"] == "change_log"), 0)
    decade = (total - feed) / cells * 120 + feed / cells * min(3, months)
    print(
        f"  all tables: {total / 1e9:.2f} GB, {total / cells:,.0f} B per Kampung KB-month; a decade (120 months, the "
        f"change feed 3 of them) at that rate: {decade * kampung / 1e9:.0f} GB for these {kampung:,} Kampung KB, "
        f"{decade * national / 1e9:.0f} GB for {national:,}"
    )


def national_desa(regions: bytes) -> list[tuple[str, str]]:
    return [(r["code"], r["name"]) for r in csv.DictReader(io.StringIO(regions.decode())) if r["level"] == "desa"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--scale", type=float, default=1.0, help="the share of desa with a Kampung KB (1.0: all)")
    parser.add_argument("--months", type=int, default=36, help="months of history (from 2023-12)")
    parser.add_argument("--build-only", action="store_true", help="build (or resume) the history, measure nothing")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each load test")
    args = parser.parse_args()
    # A build in the background is stopped with SIGTERM: leave through the `finally` blocks that stop the servers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    if (regions := official_regions()) is None:
        return 0
    desa = national_desa(regions)
    folder = cache_folder(args.scale)
    folder.mkdir(parents=True, exist_ok=True)
    with embedded_servers("history", root=folder) as servers:
        build(servers, folder, desa, regions, args)
        if args.build_only:
            return 0
        progress = load_progress(folder)
        months = min(args.months, progress["months"])
        cpu = postgres_cpu(folder / "pg")
        history = servers.database("history", regions_csv=regions)
        month = next(history_data.months(desa, scale=args.scale, count=months, first=months))
        print(f"\n== with {months} months of history ({history_data.period_of(1)} to {month.period}) ==", flush=True)
        with services_on(history, SERVICES, registry_workers=REGISTRY_WORKERS, **ENV):
            imported = tuple(progress["imports"][month.period])
            cursor = progress["cursors"][month.period]
            with_history = measure(history, cpu, month, cursor, args.seconds, imported, history_data.period_of(1))
            sizes = asyncio.run(table_sizes(history.database_url))
            asyncio.run(quiet(history.database_url, cpu))  # the last measurement's refreshes, before the next run
        print(f"\n== an empty database given {month.period} alone ==", flush=True)
        empty = fresh_database(servers, f"empty_{months}", regions)
        with services_on(empty, SERVICES, registry_workers=REGISTRY_WORKERS, **ENV):
            began, cpu_began = time.monotonic(), cpu()
            http = httpx.Client(base_url=empty.registry_url, headers=empty.headers, timeout=600)
            with http:
                _, cursor = import_files(http, empty, dataclasses.replace(month, corrections={}), with_kampung=True)
            imported = (time.monotonic() - began, cpu() - cpu_began)
            without = measure(empty, cpu, month, cursor, args.seconds, imported, month.period)
    print_ratios(months, with_history, without)
    print_sizes(months, sizes, len(desa))
    return 0


if __name__ == "__main__":
    sys.exit(main())
