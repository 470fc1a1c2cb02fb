"""A national month out through `GET /v1/exports/{module}`: rows/s, time to first byte, the registry's memory.

Run: `.venv/bin/python bench/bench_exports.py` (part of `make bench`). Loads a national month as `bench_import.py` does
(its generators; the four files imported through the API, classified by the real classifier), adds three kegiatan
per Kampung KB in the month with one set-based INSERT (there is no kegiatan generator), restarts registry-api so that
its peak RSS counts the exports only, then exports every module in CSV and NDJSON over HTTP one after another. Each
export is compared with PostgreSQL's own `COPY (SELECT the same rows) TO STDOUT` (the same statement, run directly
on a connection, in the same kind of transaction, with the export's planner settings), which is the physical limit.
Then each process's peak resident memory and its CPU seconds over the exports alone (`procstat`); `--scale 0.5` loads
every other desa, to see that no process's memory grows with the size of the export.
"""

import argparse
import asyncio
import csv
import datetime as dt
import io
import sys
import time
from pathlib import Path

import asyncpg
import httpx

from kampungkb_local import processes

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_import import ORDERS, PERIOD, generate, import_month, postmaster
from procstat import Sampler, Usage, print_usage
from stack import local_stack, official_regions

from kampungkb_shared.periods import add_months, parse_period
from registry_api.auth.service import Principal, Role
from registry_api.exports.schemas import ExportFormat, ExportModule, ExportQuery
from registry_api.exports.service import COPY_OPTIONS, STREAMING_PLAN, as_copy_query, export_statement

KEGIATAN = """
    INSERT INTO kegiatan (kampung_id, title, date, function, targets, partners)
    SELECT k.id, 'Kegiatan ' || n || ' ' || k.name, $1::date + (k.id % 9 + n * 7)::int, 'REPRODUKSI',
           '{PUS,REMAJA}', '{PUSKESMAS}'
      FROM kampung k CROSS JOIN generate_series(1, 3) AS n
"""


def peak_rss_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process in MB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def month_end(period: str = PERIOD) -> dt.date:
    return add_months(parse_period(period), 1) - dt.timedelta(days=1)


def params(module: ExportModule, fmt: ExportFormat, period: str = PERIOD) -> dict[str, str]:
    month = parse_period(period)
    if module is ExportModule.KEGIATAN:
        return {"from": month.isoformat(), "to": month_end(period).isoformat(), "format": fmt.value}
    return {"period": period, "format": fmt.value}


def over_http(
    http: httpx.Client, module: ExportModule, fmt: ExportFormat, period: str = PERIOD
) -> tuple[int, int, float, float]:
    """(rows, bytes, seconds to first byte, seconds in all) of one export read to the end."""
    started = time.perf_counter()
    first = None
    size = 0
    lines = 0
    with http.stream("GET", f"/v1/exports/{module.value}", params=params(module, fmt, period)) as response:
        response.raise_for_status()
        for chunk in response.iter_bytes():
            if first is None:
                first = time.perf_counter() - started
            size += len(chunk)
            lines += chunk.count(b"\n")
    rows = lines - 1 if fmt is ExportFormat.CSV else lines
    return rows, size, first or 0.0, time.perf_counter() - started


async def own_copy(database_url: str, module: ExportModule, fmt: ExportFormat) -> tuple[int, float]:
    """(bytes, seconds) of PostgreSQL's COPY of the same statement, read on a connection of our own."""
    period = parse_period(PERIOD)
    query = ExportQuery(
        module=module,
        format=fmt,
        region="00",
        period=None if module is ExportModule.KEGIATAN else period,
        start=period if module is ExportModule.KEGIATAN else None,
        end=month_end() if module is ExportModule.KEGIATAN else None,
        ruleset="bkkbn-web-2021" if module is ExportModule.CLASSIFICATIONS else None,
    )
    nation = Principal(key_id=0, name="bench", role=Role.ADMIN, scope="00")
    sql, args = as_copy_query(export_statement(principal=nation, query=query))
    size = 0

    async def count(data: bytes) -> None:
        nonlocal size
        size += len(data)

    connection = await asyncpg.connect(database_url)
    try:
        started = time.perf_counter()
        async with connection.transaction(isolation="repeatable_read", readonly=True):
            await connection.execute(STREAMING_PLAN)
            await connection.copy_from_query(sql, *args, output=count, **COPY_OPTIONS[fmt])
        return size, time.perf_counter() - started
    finally:
        await connection.close()


async def add_kegiatan(database_url: str) -> int:
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(KEGIATAN, parse_period(PERIOD))
        await connection.execute("ANALYZE kegiatan")
        return int(await connection.fetchval("SELECT count(*) FROM kegiatan"))
    finally:
        await connection.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--scale", type=float, default=1.0, help="the share of the desa to load (0.5: every other one)")
    args = parser.parse_args()
    if (regions := official_regions()) is None:
        return 0
    desa = [(r["code"], r["name"]) for r in csv.DictReader(io.StringIO(regions.decode())) if r["level"] == "desa"]
    if args.scale < 1:
        desa = desa[:: round(1 / args.scale)]
    files = generate(desa)
    env = {"REGISTRY_IMPORTS_IN_API": "false", "REGISTRY_IMPORT_POLL_S": "0.2", "REGISTRY_OUTBOX_POLL_S": "0.2"}
    services = ("classifier", "registry-api", "registry-worker")
    with local_stack("bench_exports", regions_csv=regions, services=services, **env) as stack:
        began = time.monotonic()
        with httpx.Client(base_url=stack.registry_url, headers=stack.headers, timeout=600) as http:
            jobs = import_month(http, files, next(iter(ORDERS.values())))
        failed = {module: job["status"] for module, job in jobs.items() if job["status"] != "succeeded"}
        if failed:
            print(f"the month did not import: {failed}")
            return 1
        kegiatan = asyncio.run(add_kegiatan(stack.database_url))
        print(
            f"loaded a national month ({len(desa):,} Kampung KB, profil, kependudukan, kkbpk through the import API; "
            f"{kegiatan:,} kegiatan by one INSERT) in {time.monotonic() - began:.0f} s",
            flush=True,
        )
        # A fresh registry process: its VmHWM is then the peak of the exports alone.
        old = stack.services[1]
        old.stop()
        port = int(stack.registry_url.rsplit(":", 1)[1])
        registry = processes.registry_api(port).start(base_env=stack.env, quiet=True).wait_ready()
        stack.services[1] = registry
        assert registry.process is not None
        pid = registry.process.pid
        rss, _ = peak_rss_mb(pid)
        print(f"registry-api RSS before the exports: {rss:.0f} MB", flush=True)
        print(
            f"  {'module':<16}{'format':<8}{'rows':>9}{'MB':>8}{'first byte':>12}{'seconds':>9}{'rows/s':>10}"
            f"{'PG COPY s':>11}{'ratio':>7}{'peak RSS':>10}"
        )
        server = asyncio.run(postmaster(stack.database_url))
        usage: dict[str, Usage] = {}
        with httpx.Client(base_url=stack.registry_url, headers=stack.headers, timeout=600) as http:
            for module in ExportModule:
                for fmt in ExportFormat:
                    sampler = Sampler(stack.services, server).start()
                    rows, size, first, seconds = over_http(http, module, fmt)
                    for name, figures in sampler.stop().items():  # the exports only, not the COPY beside them
                        total = usage.setdefault(name, Usage(0.0, 0.0))
                        total.peak_mb, total.cpu_s = max(total.peak_mb, figures.peak_mb), total.cpu_s + figures.cpu_s
                    own_size, own_seconds = asyncio.run(own_copy(stack.database_url, module, fmt))
                    assert own_size == size, (module, fmt, own_size, size)
                    _, peak = peak_rss_mb(pid)
                    print(
                        f"  {module.value:<16}{fmt.value:<8}{rows:>9,}{size / 1e6:>8.1f}{first:>11.3f}s"
                        f"{seconds:>9.2f}{rows / seconds:>10,.0f}{own_seconds:>11.2f}{seconds / own_seconds:>6.1f}x"
                        f"{peak:>8.0f}MB",
                        flush=True,
                    )
        print(
            "each process over the twelve exports (registry-api restarted before them; memory: the peak since start):"
        )
        print_usage(usage)
    return 0


if __name__ == "__main__":
    sys.exit(main())
