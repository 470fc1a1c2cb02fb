"""The stack the benchmarks measure: embedded PostgreSQL and Redis in a temporary folder, a migrated database with
regions and an admin key, and the services as real processes on free loopback ports. Stopped on exit."""

import asyncio
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from procstat import tree_cpu_seconds

from kampungkb_local import processes
from kampungkb_local.servers import RedisServer, free_port, start_postgres, stop_postgres
from registry_api import migrate
from registry_api.auth.service import Role, create_key
from registry_api.db import create_engine, create_sessionmaker
from registry_api.wilayah.service import import_csv

BENCH_LIMIT_GROUPS = ("read", "write", "import", "keys", "anonymous", "enrol")
WILAYAH_CSV = Path(__file__).resolve().parents[2] / "shared" / "data" / "wilayah.csv"
"""The official region list (Kemendagri), kept outside the project, beside its checkout."""


def official_regions() -> bytes | None:
    """The official region list's bytes; None, with a line saying the benchmark is skipped, when it is absent."""
    if not WILAYAH_CSV.exists():
        print(f"skipped: {WILAYAH_CSV} is absent (the official region list is not part of the project)", flush=True)
        return None
    return WILAYAH_CSV.read_bytes()


# What a Kampung KB under load is given before its kkbpk is written: PUS 200, a Pokja, three poktan.
KEPENDUDUKAN = {
    "pus": 200,
    "families": 300,
    "remaja": 120,
    "families_with_balita": 80,
    "families_with_remaja": 70,
    "families_with_lansia": 60,
}
PROFIL = {
    "pokja": {"exists": True, "sk": True, "members": 10, "trained_members": 5, "trained": True},
    "funding_sources": ["APBD", "DANA_DESA"],
    "poktan": ["BKB", "BKR", "BKL"],
    "facilities": ["SEKRETARIAT"],
    "data_sources": ["PK_PEMUTAKHIRAN_DATA"],
    "operational": {"MONEV": "BULANAN", "RAPAT_PERENCANAAN": "TRIWULAN"},
}


@dataclass
class Stack:
    database_url: str
    redis_url: str
    key: str
    env: dict[str, str]
    registry_url: str = ""
    classifier_url: str = ""
    services: list[processes.Service] = field(default_factory=list)
    postgres_dir: Path | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds (user + system) used so far by each service's processes (with their children, say uvicorn's
        workers) and by PostgreSQL's (its backends, the pool's connections among them): differences of two readings
        are what a measured stretch cost each process."""
        roots = {service.name: service.process.pid for service in self.services if service.process is not None}
        if self.postgres_dir is not None:
            roots["postgresql"] = int((self.postgres_dir / "postmaster.pid").read_text().split()[0])
        return {name: tree_cpu_seconds(pid) for name, pid in roots.items()}


async def _prepare(server_url: str, name: str, regions_csv: bytes) -> tuple[str, str]:
    """Create (or keep) the database `name`, migrate it, load the regions (idempotent) and create an admin key."""
    connection = await asyncpg.connect(server_url)
    try:
        if not await connection.fetchval("SELECT true FROM pg_database WHERE datname = $1", name):
            await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    database_url = server_url.replace("/postgres?", f"/{name}?")
    await asyncio.to_thread(migrate.upgrade, database_url)
    engine = create_engine(database_url, pool_size=1)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            await import_csv(session, regions_csv)
            _, key = await create_key(session, name="bench", role=Role.ADMIN, scope="00")
    finally:
        await engine.dispose()
    return database_url, key


@dataclass
class Servers:
    """Embedded PostgreSQL and Redis, running."""

    postgres_url: str
    redis: RedisServer
    postgres_dir: Path

    def database(self, name: str, *, regions_csv: bytes, redis_db: int = 0) -> Stack:
        """A migrated database `name` (kept if it exists) with the regions and an admin key; no services yet."""
        database_url, key = asyncio.run(_prepare(self.postgres_url, name, regions_csv))
        redis_url = self.redis.url.replace("/0", f"/{redis_db}")
        return Stack(database_url=database_url, redis_url=redis_url, key=key, env={}, postgres_dir=self.postgres_dir)


@contextmanager
def embedded_servers(name: str, root: Path | None = None) -> Iterator[Servers]:
    """Start PostgreSQL and Redis in a temporary folder, or with `root` in that folder, whose data are kept."""
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
        folder = root or Path(tmp)
        redis = RedisServer(Path(tmp) / "redis", free_port()).start()
        try:
            yield Servers(start_postgres(folder / "pg"), redis, folder / "pg")
        finally:
            redis.stop()
            stop_postgres(folder / "pg")


@contextmanager
def services_on(
    stack: Stack, services: tuple[str, ...] = ("classifier", "registry-api"), registry_workers: int = 1, **env: str
) -> Iterator[Stack]:
    """Run the named services (classifier, registry-api, registry-worker, report-worker) on `stack`'s database as
    real processes; stopped on exit."""
    classifier_port, registry_port = free_port(), free_port()
    stack.env = {
        **os.environ,
        "DATABASE_URL": stack.database_url,
        "REDIS_URL": stack.redis_url,
        "REGISTRY_CLASSIFIER_URL": f"http://127.0.0.1:{classifier_port}",
        # Free ports, not the workers' defaults: another stack on the machine may hold those.
        "REGISTRY_WORKER_METRICS_PORT": str(free_port()),
        "WORKER_METRICS_PORT": str(free_port()),
        "LOG_LEVEL": "WARNING",
        # limits far above what a benchmark sends: each request still pays for its count in Redis
        "REGISTRY_RATE_LIMITS": json.dumps(dict.fromkeys(BENCH_LIMIT_GROUPS, "10000000/minute")),
        **env,
    }
    stack.registry_url = f"http://127.0.0.1:{registry_port}"
    stack.classifier_url = f"http://127.0.0.1:{classifier_port}"
    makers = {
        "classifier": lambda: processes.classifier(classifier_port),
        "registry-api": lambda: processes.registry_api(registry_port, workers=registry_workers),
        "registry-worker": processes.registry_worker,
        "report-worker": processes.report_worker,
    }
    stack.services = [makers[service]() for service in services]
    try:
        for service in stack.services:
            service.start(base_env=stack.env, quiet=True)
        for service in stack.services:
            service.wait_ready()
        yield stack
    finally:
        for service in reversed(stack.services):
            service.stop()
        stack.services = []


@contextmanager
def local_stack(
    name: str,
    *,
    regions_csv: bytes,
    services: tuple[str, ...] = ("classifier", "registry-api"),
    registry_workers: int = 1,
    **env: str,
) -> Iterator[Stack]:
    """Start the servers and the named services (classifier, registry-api, registry-worker, report-worker)."""
    with embedded_servers(name) as servers:
        stack = servers.database(name, regions_csv=regions_csv)
        with services_on(stack, services, registry_workers, **env):
            yield stack


async def quiet(database_url: str, cpu_seconds: Callable[[], float]) -> float:
    """Wait until no outbox event is pending and PostgreSQL is idle (under 0.2 CPU-s over 2 s, autovacuum included):
    the work an earlier step left (report refreshes) must not count in the next one. `cpu_seconds`: the server's
    CPU-seconds so far. Returns the seconds waited."""
    began = time.monotonic()
    connection = await asyncpg.connect(database_url)
    try:
        while True:
            pending = await connection.fetchval("SELECT count(*) FROM outbox WHERE delivered_at IS NULL")
            before = cpu_seconds()
            await asyncio.sleep(2)
            if not pending and cpu_seconds() - before < 0.2:
                return time.monotonic() - began
            if time.monotonic() - began > 300:
                print(f"    (not idle after 300 s: {pending} events pending; measuring anyway)", flush=True)
                return time.monotonic() - began
    finally:
        await connection.close()
