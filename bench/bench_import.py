"""A national month through the bulk import API, end to end: kampung, profil, kependudukan and kkbpk for every desa.

Run: `.venv/bin/python bench/bench_import.py` (part of `make bench`). Generates, with a fixed seed, one Kampung KB in
every desa/kelurahan of `../shared/data/wilayah.csv` and one month of profil, kependudukan and kkbpk that pass every
rule; starts embedded PostgreSQL and Redis, the classifier, registry-api, `registry-api worker` and report-worker as
processes; imports the files over HTTP as an integration pushes a month (the kampung file, then, once it is imported,
the three module files together, without waiting between them); and prints rows per second per phase, the time until
every affected kabupaten's report is fresh, the time to import the same files again (unchanged, once the refreshes
the first import left are done), and PostgreSQL's own COPY of the same rows into bare tables as the physical limit to
compare ingest with; and, for each process (the services and PostgreSQL), its peak resident memory and its CPU
seconds over the import (`procstat`), and all of them summed: the shortest time that much CPU fits in on the
machine's cores, and how many cores the month kept busy. `--scale 0.5` imports every other desa, to see that no
process's memory grows with the size of the files; `--timeline` also prints, second by second over the first
import, the cores each process keeps busy (where the machine's cores wait); `--statements`, PostgreSQL's time over
the first import summed by statement (`statements.py`).
`--against PATH` runs national months (`--first-order-only`) of this code and of another checkout (with its own
`.venv`, and the region list beside it), one after the other, alternating which goes first, `--rounds` each, and
prints each one's end-to-end seconds and CPU: runs minutes apart on a shared VM differ by more than most changes.

The month is imported twice, each time on a fresh stack, with the module files posted in two orders: jobs are claimed
in the order they were posted, and each locks every Kampung KB, so the order decides which file merges first. Once
with profil merged before kkbpk, once with kkbpk merged before profil (kependudukan first, as the kkbpk needs its PUS):
the rule that a profil must not break the kkbpk it governs then checks every row against a stored kkbpk. Both
end-to-end times are printed, to compare.
"""

import argparse
import asyncio
import csv
import datetime as dt
import functools
import importlib
import io
import random
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from kampungkb_local.servers import free_port

sys.path.insert(0, str(Path(__file__).resolve().parent))
from procstat import Sampler, parent_of, print_floor, print_timeline, print_usage, tree_cpu_seconds
from stack import Stack, local_stack, official_regions, quiet
from statements import StatementLog

PERIOD = "2025-06"
STATEMENTS_SHOWN = 25
HERE = Path(__file__).resolve().parents[1]
SEED = 20250601
POKTAN = ["BKB", "BKR", "BKL", "UPPKA", "PIK_R"]
DENOMINATOR = {
    "BKB": "families_with_balita",
    "BKR": "families_with_remaja",
    "BKL": "families_with_lansia",
    "UPPKA": "families",
    "PIK_R": "remaja",
}
METHODS = ["KB_IUD", "KB_MOW", "KB_MOP", "KB_KONDOM", "KB_IMPLAN", "KB_SUNTIK", "KB_PIL"]
REASONS = ["HAMIL", "INGIN_ANAK_SEGERA", "IAT", "TIAL"]
FUNDING = ["APBN", "APBD", "DANA_DESA", "DONASI_HIBAH_MASYARAKAT", "CSR", "SWADAYA_MASYARAKAT"]
REGULATIONS = ["SK_GUBERNUR", "SK_BUPATI_WALIKOTA", "SK_KECAMATAN", "SK_KADES_LURAH"]
DATA_SOURCES = ["PK_PEMUTAKHIRAN_DATA", "DATA_RUTIN_BKKBN", "POTENSI_DESA", "DATA_SEKTORAL", "LAINNYA"]
OPERATIONAL = ["RAPAT_PERENCANAAN", "RAPAT_KOORDINASI", "SOSIALISASI", "MONEV", "PENYUSUNAN_LAPORAN"]
FREQUENCIES = ["MINGGUAN", "BULANAN", "TRIWULAN", "SEMESTERAN", "TAHUNAN"]
PENGARAH = ["KADER", "KETUA_RT_RW", "PERANGKAT_DESA_KELURAHAN", "PKK", "TOGA_TOMA"]


def _some(rng: random.Random, codes: list[str], low: int = 0) -> list[str]:
    return sorted(rng.sample(codes, rng.randint(low, len(codes))), key=codes.index)


def _split(rng: random.Random, total: int, codes: list[str]) -> dict[str, int]:
    chosen = rng.sample(codes, rng.randint(1, len(codes)))
    cuts = sorted(rng.randint(0, total) for _ in range(len(chosen) - 1))
    parts = [b - a for a, b in zip([0, *cuts], [*cuts, total], strict=True)]
    return dict(zip(chosen, parts, strict=True))


def _csv(columns: list[str], rows: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def kampung_row(rng: random.Random, code: str, name: str, formed_by: dt.date = dt.date(2025, 5, 31)) -> dict[str, Any]:
    first = dt.date(2016, 1, 1).toordinal()
    formed_on = dt.date.fromordinal(rng.randint(first, formed_by.toordinal()))
    return {"desa_code": code, "name": f"Kampung KB {name.title()}", "formed_on": formed_on.isoformat()}


def profil_row(rng: random.Random, code: str, poktan: str | None = None) -> dict[str, Any]:
    """A profil; with `poktan` (`;`-separated) it keeps those poktan, so that the kkbpk it governs still holds."""
    exists = rng.random() < 0.9
    members = rng.randint(5, 30) if exists else 0
    trained = rng.randint(0, members)
    present = ";".join(_some(rng, POKTAN)) if poktan is None else poktan
    pkb = rng.random() < 0.6
    return {
        "desa_code": code,
        "pokja_exists": str(exists).lower(),
        "pokja_sk": str(exists and rng.random() < 0.7).lower(),
        "pokja_members": members,
        "pokja_trained_members": trained,
        "pokja_trained": str(trained > 0).lower(),
        "funding_sources": ";".join(_some(rng, FUNDING)),
        "poktan": present,
        "facilities": ";".join(_some(rng, ["SEKRETARIAT", "RUMAH_DATAKU"])),
        "pkb_pendamping": str(pkb).lower(),
        "pengarah": "" if pkb else rng.choice(PENGARAH),
        "regulations": ";".join(_some(rng, REGULATIONS)),
        "rkm": str(rng.random() < 0.5).lower(),
        "data_sources": ";".join(_some(rng, DATA_SOURCES)),
        "operational": ";".join(f"{item}:{rng.choice(FREQUENCIES)}" for item in _some(rng, OPERATIONAL)),
    }


def kependudukan_row(rng: random.Random, code: str) -> dict[str, Any]:
    families = rng.randint(80, 1500)
    return {
        "desa_code": code,
        "pus": int(families * rng.uniform(0.5, 0.8)),
        "families": families,
        "remaja": int(families * rng.uniform(0.3, 0.7)),
        "families_with_balita": int(families * rng.uniform(0.1, 0.4)),
        "families_with_remaja": int(families * rng.uniform(0.1, 0.4)),
        "families_with_lansia": int(families * rng.uniform(0.1, 0.3)),
    }


def kkbpk_row(rng: random.Random, kependudukan: dict[str, Any], poktan: str) -> dict[str, Any]:
    """A kkbpk that adds up to the kependudukan's PUS, with participants of the profil's `poktan` only."""
    users = int(kependudukan["pus"] * rng.uniform(0.5, 0.85))
    row: dict[str, Any] = {"desa_code": kependudukan["desa_code"]}
    row.update({p: rng.randint(0, kependudukan[DENOMINATOR[p]]) for p in poktan.split(";") if p})
    row.update(_split(rng, users, METHODS))
    row.update(_split(rng, kependudukan["pus"] - users, REASONS))
    return row


COLUMNS = {
    "kampung": ["desa_code", "name", "formed_on"],
    "profil": list(profil_row(random.Random(0), "")),
    "kependudukan": list(kependudukan_row(random.Random(0), "")),
    "kkbpk": ["desa_code", *POKTAN, *METHODS, *REASONS],
}


def generate(desa: list[tuple[str, str]]) -> dict[str, bytes]:
    """The four files, one row per desa, with realistic varied values that pass every rule."""
    rng = random.Random(SEED)
    rows: dict[str, list[dict[str, Any]]] = {module: [] for module in COLUMNS}
    for code, name in desa:
        rows["kampung"].append(kampung_row(rng, code, name))
        rows["profil"].append(profil := profil_row(rng, code))
        rows["kependudukan"].append(population := kependudukan_row(rng, code))
        rows["kkbpk"].append(kkbpk_row(rng, population, profil["poktan"]))
    return {module: _csv(COLUMNS[module], module_rows) for module, module_rows in rows.items()}


def post_file(http: httpx.Client, module: str, body: bytes, period: str = PERIOD) -> str:
    """Post one file; returns its job's status URL."""
    params = {"module": module, "period": period}
    response = http.post("/v1/imports", params=params, content=body, headers={"Content-Type": "text/csv"})
    response.raise_for_status()
    return str(response.json()["status_url"])


def wait_for(http: httpx.Client, url: str) -> dict[str, Any]:
    while True:
        job: dict[str, Any] = http.get(url).json()
        if job["status"] in ("succeeded", "failed"):
            return job
        time.sleep(0.1)


ORDERS = {
    "profil merged before kkbpk": ("profil", "kependudukan", "kkbpk"),
    "kkbpk merged before profil": ("kependudukan", "kkbpk", "profil"),
}
"""The module files in the order they are posted (and so claimed), by what that order means."""


def import_month(
    http: httpx.Client, files: dict[str, bytes], order: tuple[str, ...], period: str = PERIOD
) -> dict[str, dict[str, Any]]:
    """As an integration pushes a month: the Kampung KB first (the other files address them, when `files` has them),
    then the module files together in `order`, without waiting for one another; returns each file's finished job."""
    jobs = {"kampung": wait_for(http, post_file(http, "kampung", files["kampung"]))} if "kampung" in files else {}
    urls = {module: post_file(http, module, files[module], period) for module in order}
    return jobs | {module: wait_for(http, url) for module, url in urls.items()}


def report(module: str, job: dict[str, Any], began: dt.datetime) -> None:
    """A job's counts and phases; `began`: when the first file of the month was posted, for its claim and its end."""
    rows = job["rows_total"]
    timings = job["timings"]
    phases = "  ".join(
        f"{phase} {seconds:.2f} s ({rows / seconds:,.0f}/s)" if seconds else f"{phase} -"
        for phase in ("received", "validated", "waited", "loaded", "handed_over", "classified", "reports_queued")
        if (seconds := timings.get(phase)) is not None or True
    )
    counts = (
        f"ok {job['rows_ok']:,}, failed {job['rows_failed']:,}, inserted {job['rows_inserted']:,}, "
        f"updated {job['rows_updated']:,}, unchanged {job['rows_unchanged']:,}"
    )
    claimed, ended = (
        (dt.datetime.fromisoformat(job[at]) - began).total_seconds() for at in ("started_at", "finished_at")
    )
    print(f"  {module:<12} {job['status']}: {rows:,} rows in {timings.get('total', 0):.2f} s; {counts}", flush=True)
    print(f"  {'':<12} claimed at {claimed:.2f} s, finished at {ended:.2f} s", flush=True)
    print(f"  {'':<12} {phases}", flush=True)
    if job["status"] != "succeeded" or job["rows_failed"]:
        print(f"  {'':<12} reason: {job['reason']}; first errors: {job['errors'][:3]}", flush=True)


async def reports_fresh(database_url: str, since: dt.datetime, timeout_s: float, period: str = PERIOD) -> float | None:
    """Wait until every kabupaten with a Kampung KB has aggregates computed after `since` (the last import's commit,
    so that they include every row); returns when, or None."""
    connection = await asyncpg.connect(database_url)
    try:
        wanted = await connection.fetchval("SELECT count(DISTINCT kabupaten_code) FROM kampung")
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            fresh = await connection.fetchval(
                """SELECT count(*) FROM (SELECT code FROM report_aggregate
                     WHERE period = $1 AND level = 'kabupaten' GROUP BY code HAVING min(computed_at) > $2) AS f""",
                dt.date.fromisoformat(f"{period}-01"),
                since,
            )
            if fresh >= wanted:
                return time.monotonic()
            await asyncio.sleep(0.2)
        return None
    finally:
        await connection.close()


def first_posted(jobs: dict[str, dict[str, Any]]) -> dt.datetime:
    """When the first of the jobs' files was posted."""
    return min(dt.datetime.fromisoformat(job["created_at"]) for job in jobs.values())


def ingest_seconds(jobs: dict[str, dict[str, Any]]) -> float:
    """Wall time from the first file's first byte until the rows of every file are validated and loaded (jobs run
    side by side, so their phases do not add up)."""
    first = first_posted(jobs)
    loaded = max(
        dt.datetime.fromisoformat(job["started_at"])
        + dt.timedelta(seconds=sum(job["timings"].get(phase) or 0 for phase in ("waited", "validated", "loaded")))
        for job in jobs.values()
    )
    return (loaded - first).total_seconds()


async def raw_copy(database_url: str, files: dict[str, bytes]) -> tuple[int, float]:
    """PostgreSQL's own COPY of the same rows into bare tables of text columns: (rows, seconds)."""
    connection = await asyncpg.connect(database_url)
    rows, seconds = 0, 0.0
    try:
        for module, body in files.items():
            header = body.split(b"\n", 1)[0].decode().split(",")
            columns = ", ".join(f'"{c}" text' for c in header)
            await connection.execute(f'CREATE TABLE "bench_raw_{module}" ({columns})')
            started = time.perf_counter()
            await connection.copy_to_table(f"bench_raw_{module}", source=io.BytesIO(body), format="csv", header=True)
            seconds += time.perf_counter() - started
            rows += body.count(b"\n") - 1
    finally:
        await connection.close()
    return rows, seconds


async def classification_bytes(database_url: str) -> None:
    """Bytes per classification row: the table with its indexes and TOAST, and the row itself."""
    connection = await asyncpg.connect(database_url)
    try:
        rows, total, row = await connection.fetchrow(
            "SELECT count(*), pg_total_relation_size('classification'), avg(pg_column_size(c.*)) FROM classification c"
        )
    finally:
        await connection.close()
    print(
        f"  classification: {rows:,} rows, {total / 1e6:.1f} MB with indexes ({total / rows:,.0f} bytes a row), "
        f"the row itself {row:,.0f} bytes on average",
        flush=True,
    )


def first_month(
    http: httpx.Client,
    stack: Stack,
    files: dict[str, bytes],
    order: tuple[str, ...],
    fresh_reports: bool,
    statements: StatementLog | None = None,
) -> tuple[dict[str, dict[str, Any]], float | None]:
    """Import the month on an empty registry and print its figures; returns the jobs and the end-to-end seconds (first
    byte to every kabupaten report fresh, or to the last job finished without the report worker). With `statements`,
    PostgreSQL logs every statement's duration meanwhile, and their sums by statement are printed."""
    server = asyncio.run(postmaster(stack.database_url))
    if statements is not None:
        asyncio.run(statements.start())
    cpu_before = tree_cpu_seconds(server)
    began = time.monotonic()
    jobs = import_month(http, files, order)
    since = max(dt.datetime.fromisoformat(job["finished_at"]) for job in jobs.values())
    imported = time.monotonic()
    for module, job in jobs.items():
        report(module, job, began=first_posted(jobs))
    total_rows = sum(job["rows_total"] for job in jobs.values())
    print(f"  all four imported in {imported - began:.1f} s ({total_rows / (imported - began):,.0f} rows/s)")
    print(f"  PostgreSQL CPU until every job finished: {tree_cpu_seconds(server) - cpu_before:.1f} s", flush=True)
    asyncio.run(classification_bytes(stack.database_url))
    if not fresh_reports:
        return jobs, imported - began
    fresh = asyncio.run(reports_fresh(stack.database_url, since, timeout_s=300))
    if statements is not None:
        print("  PostgreSQL's statement time, by statement (log_min_duration_statement = 0; its most costly):")
        asyncio.run(statements.stop()).print(STATEMENTS_SHOWN, indent="    ")
    if fresh is None:
        print("  reports: not every kabupaten fresh within 300 s")
        return jobs, None
    print(f"  end to end, first byte to every kabupaten report fresh: {fresh - began:.1f} s", flush=True)
    return jobs, fresh - began


async def postmaster(database_url: str) -> int:
    """The PostgreSQL server's pid: the parent of a backend."""
    connection = await asyncpg.connect(database_url)
    try:
        return parent_of(await connection.fetchval("SELECT pg_backend_pid()"))
    finally:
        await connection.close()


_END_TO_END = re.compile(r"end to end, first byte to every kabupaten report fresh: ([0-9.]+) s")
_CPU = re.compile(r"^\s+(\S+)\s+peak .*CPU\s+([0-9.]+) s$", re.MULTILINE)


def _one_month(checkout: Path) -> tuple[float | None, dict[str, float]]:
    """A national month (`--first-order-only`) by `checkout`'s own bench and code, in a process of its own: its
    end-to-end seconds and each process's CPU-seconds over the first import."""
    python = sys.executable if checkout == HERE else str(checkout / ".venv" / "bin" / "python")
    command = [python, "bench/bench_import.py", "--first-order-only"]
    printed = subprocess.run(command, cwd=checkout, capture_output=True, text=True, check=True).stdout
    first = printed.split("the same files again", 1)[0]
    found = _END_TO_END.search(first)
    cpu = {name: float(seconds) for name, seconds in _CPU.findall(first.split("each process over the first", 1)[-1])}
    return (float(found[1]) if found else None), cpu


def compare(other: Path, rounds: int) -> None:
    """This code's national month against `other`'s, one after the other, alternating which goes first."""
    runs: dict[str, list[float]] = {"this": [], "other": []}
    for round_ in range(1, rounds + 1):
        for label in ("other", "this") if round_ % 2 else ("this", "other"):
            seconds, cpu = _one_month(HERE if label == "this" else other)
            if seconds is not None:
                runs[label].append(seconds)
            spent = ", ".join(f"{name} {value:.2f}" for name, value in cpu.items())
            print(f"round {round_}, {label}: end to end {seconds} s; CPU-s: {spent}", flush=True)
    for label, seconds in runs.items():
        if seconds:
            listed = ", ".join(f"{s:.1f}" for s in seconds)
            print(
                f"{label} ({HERE if label == 'this' else other}): median {statistics.median(seconds):.1f} s ({listed})"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument(
        "--scale", type=float, default=1.0, help="the share of the desa to import (0.5: every other one), to compare"
    )
    parser.add_argument("--first-order-only", action="store_true", help="import in the first order only")
    parser.add_argument(
        "--timeline",
        action="store_true",
        help="print the cores each process keeps busy, second by second, over the first import",
    )
    parser.add_argument(
        "--statements",
        action="store_true",
        help="log every statement's duration over the first import and print their sums by statement",
    )
    parser.add_argument("--against", type=Path, help="another checkout of the project, with its own .venv")
    parser.add_argument("--rounds", type=int, default=3, help="with --against: national months a checkout")
    args = parser.parse_args()
    if (regions := official_regions()) is None:
        return 0
    if args.against is not None:
        compare(args.against.resolve(), args.rounds)
        return 0
    desa = [(r["code"], r["name"]) for r in csv.DictReader(io.StringIO(regions.decode())) if r["level"] == "desa"]
    if args.scale < 1:
        step = round(1 / args.scale)
        desa = desa[::step]
    started = time.perf_counter()
    files = generate(desa)
    print(
        f"generated {len(desa):,} rows per module in {time.perf_counter() - started:.1f} s "
        f"({sum(len(b) for b in files.values()) / 1e6:.1f} MB)",
        flush=True,
    )
    services: tuple[str, ...] = ("classifier", "registry-api", "registry-worker")
    try:
        importlib.import_module("report_worker.worker")
        services = (*services, "report-worker")
    except Exception as exc:  # the report worker may not be finished yet
        print(f"report freshness skipped: report_worker.worker does not import ({type(exc).__name__}: {exc})")
    env = {
        "WORKER_REBUILD_ON_STARTUP": "false",
        "WORKER_METRICS_PORT": str(free_port()),
        "REGISTRY_WORKER_METRICS_PORT": str(free_port()),
        "REGISTRY_IMPORT_POLL_S": "0.2",
        "REGISTRY_OUTBOX_POLL_S": "0.2",
    }
    end_to_end: dict[str, float | None] = {}
    orders = list(ORDERS.items())[: 1 if args.first_order_only else None]
    for number, (label, order) in enumerate(orders):
        with local_stack("bench_import", regions_csv=regions, services=services, **env) as stack:
            server = asyncio.run(postmaster(stack.database_url))
            with httpx.Client(base_url=stack.registry_url, headers=stack.headers, timeout=300) as http:
                print(f"first import, period {PERIOD}, {label} (posted: kampung, then {', '.join(order)}):", flush=True)
                sampler = Sampler(stack.services, server, timeline_s=1.0 if args.timeline else None).start()
                logged = None
                if args.statements and stack.postgres_dir is not None:
                    logged = StatementLog(stack.database_url, stack.postgres_dir / "log")
                jobs, end_to_end[label] = first_month(
                    http, stack, files, order, "report-worker" in services, None if number else logged
                )
                print("  each process over the first import (memory: the peak since it started):", flush=True)
                usage = sampler.stop()
                print_usage(usage, indent="    ")
                print_floor(usage, end_to_end[label], indent="    ")
                if args.timeline:
                    print("  the cores each process kept busy, second by second, from just before the first file:")
                    print_timeline(sampler.cpu_timeline(), indent="    ")
                if number:
                    continue
                # the reports of the other months the import moved are still being refreshed: not the re-import's
                waited = asyncio.run(quiet(stack.database_url, functools.partial(tree_cpu_seconds, server)))
                print(f"the same files again (unchanged), once the stack was idle ({waited:.1f} s later):", flush=True)
                sampler = Sampler(stack.services, server).start()
                began = time.monotonic()
                again = import_month(http, files, order)
                for module, job in again.items():
                    report(module, job, began=first_posted(again))
                print(f"  re-import of all four: {time.monotonic() - began:.1f} s")
                print("  each process over the re-import:", flush=True)
                print_usage(sampler.stop(), indent="    ")
            rows, seconds = asyncio.run(raw_copy(stack.database_url, files))
            ingest = ingest_seconds(jobs)
            print(
                f"PostgreSQL COPY of the same {rows:,} rows into bare tables: {seconds:.2f} s ({rows / seconds:,.0f}/s)"
            )
            print(
                f"our ingest (first byte to every row validated and loaded) {ingest:.2f} s ({rows / ingest:,.0f}/s): "
                f"{ingest / seconds:.1f}x the time of a raw COPY"
            )
    figures = "; ".join(f"{label} {'-' if s is None else f'{s:.1f} s'}" for label, s in end_to_end.items())
    print(f"national month end to end, by the order the files merge: {figures}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
