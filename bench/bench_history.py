"""Years of national history: what each operation costs with 36 months behind it, against an empty database.

Run: `make bench-history` (not part of `make bench`), or `uv run python bench/bench_history.py [--scale 1.0]
[--months 36] [--build-only] [--seconds 30]`. Builds `--months` months of history (`history_data.py`: one Kampung KB
in a `--scale` share of the desa of `../shared/data/wilayah.csv`, every month's profil, kependudukan, kkbpk and
kegiatan files, a share of rows changed each month, back-dated kkbpk corrections) through the import API with every
service running as a process, printing each month's import as it goes. The history is kept in a PostgreSQL data
folder under `~/.cache/kampungkb-bench/` (or `$KAMPUNGKB_BENCH_CACHE`), keyed by a hash of the generator code, the
scale and the migrations: a later run resumes the build where it stopped, or starts measuring at once. The
measurements write to that database (a few thousand revisions), which later runs take as it is.

Then, in the same PostgreSQL cluster, a database given only the last month (its Kampung KB and that month's files),
and on each in turn, with the services restarted on it: the change feed caught up over the last month, a report
`GET` for the nation and the largest kabupaten, a 36-month trend, an export of the month, a whole-period rebuild,
`PUT` p50/p95 sequential and under the load of `bench_load.py`, and a back-dated correction until every report it
changes is fresh. Printed as history / empty, with PostgreSQL's CPU-seconds beside wall times, then the bytes per
Kampung KB-month of each table and its indexes and the disk a decade would take.
"""

import argparse
import asyncio
import csv
import datetime as dt
import hashlib
import io
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import history_data
from bench_import import post_file, reports_fresh, wait_for
from stack import WILAYAH_CSV, Servers, Stack, embedded_servers, services_on

from registry_api import migrate

HERE = Path(__file__).resolve().parent
SERVICES = ("classifier", "registry-api", "registry-worker", "report-worker")
ENV = {
    "WORKER_REBUILD_ON_STARTUP": "false",
    "REGISTRY_IMPORT_POLL_S": "0.2",
    "REGISTRY_OUTBOX_POLL_S": "0.2",
}
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


class PostgresCpu:
    """CPU-seconds the PostgreSQL server (postmaster, live backends and the ones that ended) has used."""

    def __init__(self, data_dir: Path) -> None:
        self.postmaster = int((data_dir / "postmaster.pid").read_text().split()[0])

    def seconds(self) -> float:
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            pid, parent = int(entry.name), int(fields[1])
            if pid == self.postmaster:
                total += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
            elif parent == self.postmaster:
                total += int(fields[11]) + int(fields[12])
        return total / ticks


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
    cpu = PostgresCpu(folder / "pg")
    print(f"history: building months {progress['months'] + 1}-{args.months} in {folder}", flush=True)
    with (
        services_on(stack, SERVICES, **ENV),
        httpx.Client(base_url=stack.registry_url, headers=stack.headers, timeout=600) as http,
    ):
        for month in history_data.months(desa, scale=args.scale, count=args.months, first=progress["months"] + 1):
            began, cpu_began = time.monotonic(), cpu.seconds()
            jobs, cursor = import_files(http, stack, month, with_kampung=month.number == 1)
            seconds = time.monotonic() - began
            changed = sum(job["rows_inserted"] + job["rows_updated"] for job in jobs.values())
            each = ", ".join(f"{module} {job['timings'].get('total', 0):.1f}" for module, job in jobs.items())
            print(
                f"  month {month.number:>2} {month.period}: {seconds:6.1f} s until its reports are fresh, PostgreSQL "
                f"{cpu.seconds() - cpu_began:6.1f} CPU-s; {changed:,} rows written; jobs (s): {each}",
                flush=True,
            )
            progress["months"] = month.number
            progress["cursors"][month.period] = cursor
            save_progress(folder, progress)


def national_desa(regions: bytes) -> list[tuple[str, str]]:
    return [(r["code"], r["name"]) for r in csv.DictReader(io.StringIO(regions.decode())) if r["level"] == "desa"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--scale", type=float, default=1.0, help="the share of desa with a Kampung KB (1.0: all)")
    parser.add_argument("--months", type=int, default=36, help="months of history (from 2023-12)")
    parser.add_argument("--build-only", action="store_true", help="build (or resume) the history, measure nothing")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each load test")
    args = parser.parse_args()
    if not WILAYAH_CSV.exists():
        print(f"skipped: {WILAYAH_CSV} is absent (the official region list is not part of the project)")
        return 0
    regions = WILAYAH_CSV.read_bytes()
    desa = national_desa(regions)
    folder = cache_folder(args.scale)
    folder.mkdir(parents=True, exist_ok=True)
    with embedded_servers("history", root=folder) as servers:
        build(servers, folder, desa, regions, args)
        if args.build_only:
            return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
