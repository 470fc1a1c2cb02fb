"""`make run`: PostgreSQL and Redis (embedded unless DATABASE_URL / REDIS_URL are set), migrations, regions,
then every service, until Ctrl-C stops them all, the embedded servers included."""

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from kampungkb_local import processes
from kampungkb_local.demo import demo_regions, seed_demo, to_csv
from kampungkb_local.servers import RedisServer, free_port, start_postgres, stop_postgres

DATABASE_NAME = "kampungkb"


def _say(message: str) -> None:
    print(f"[kampungkb] {message}", flush=True)


async def _ensure_database(server_url: str, name: str) -> str:
    connection = await asyncpg.connect(server_url)
    try:
        if not await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))


async def _region_count(database_url: str) -> int:
    connection = await asyncpg.connect(database_url)
    try:
        return int(await connection.fetchval("SELECT count(*) FROM wilayah"))
    finally:
        await connection.close()


def _registry_command(env: dict[str, str], *args: str) -> None:
    subprocess.run(processes.python_module("registry_api.cli", *args), env=env, check=True)


def _create_key(env: dict[str, str], *, role: str, scope: str, name: str) -> str:
    argv = processes.python_module(
        "registry_api.cli", "keys", "create", "--role", role, "--scope", scope, "--name", name
    )
    output = subprocess.run(argv, env=env, check=True, capture_output=True, text=True).stdout
    return output.strip().splitlines()[-1]


def run(local_dir: Path) -> int:
    started = time.monotonic()
    env = dict(os.environ)
    pg_dir = local_dir / "pg"
    redis: RedisServer | None = None
    services: list[processes.Service] = []

    def shutdown() -> None:
        # Ctrl-C reaches make, uv and this process at once, and uv forwards its own copy: a second SIGINT must
        # not cut the shutdown short and leave services (or PostgreSQL) running.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        _say("stopping…")
        for service in reversed(services):
            service.stop()
        if redis:
            redis.stop()
        if "DATABASE_URL" not in os.environ:
            stop_postgres(pg_dir)
        _say("stopped; nothing left running")

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    # Installed explicitly: a shell that starts `make run` in the background hands it SIGINT ignored.
    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    try:
        if "DATABASE_URL" not in os.environ:
            env["DATABASE_URL"] = asyncio.run(_ensure_database(start_postgres(pg_dir), DATABASE_NAME))
            _say(f"PostgreSQL (embedded) in {pg_dir}")
        if "REDIS_URL" not in os.environ:
            redis = RedisServer(local_dir / "redis", free_port()).start()
            env["REDIS_URL"] = redis.url
            _say(f"Redis (embedded) at {redis.url}")
        _registry_command(env, "migrate")
        seed_key = None
        wilayah_csv = env.get("WILAYAH_CSV")
        if wilayah_csv:
            _registry_command(env, "load-wilayah", wilayah_csv)
        elif asyncio.run(_region_count(env["DATABASE_URL"])) == 0:
            demo_csv = local_dir / "demo-wilayah.csv"
            demo_csv.write_bytes(to_csv(demo_regions()))
            _registry_command(env, "load-wilayah", str(demo_csv))
            seed_key = _create_key(env, role="admin", scope="00", name="demo seed")
        registry_port = int(env.get("REGISTRY_PORT", "8000"))
        classifier_port = int(env.get("CLASSIFIER_PORT", "8001"))
        env.setdefault("REGISTRY_CLASSIFIER_URL", f"http://127.0.0.1:{classifier_port}")
        # Free ports for the workers' metrics: 9100/9101 are often taken on a laptop (node_exporter).
        env.setdefault("REGISTRY_WORKER_METRICS_PORT", str(free_port()))
        env.setdefault("WORKER_METRICS_PORT", str(free_port()))
        services.extend(
            [
                processes.classifier(classifier_port),
                processes.registry_api(registry_port),
                processes.registry_worker(),
                processes.report_worker(),
            ]
        )
        for service in services:
            service.start(base_env=env)
        for service in services:
            service.wait_ready()
        if seed_key:
            seeded = seed_demo(f"http://127.0.0.1:{registry_port}", seed_key)
            _say(f"demo province 99 loaded with {seeded} Kampung KB")
        _say(f"ready in {time.monotonic() - started:.1f} s")
        _say(f"registry-api  http://127.0.0.1:{registry_port}/docs")
        _say(f"classifier    http://127.0.0.1:{classifier_port}/docs")
        metrics = f"registry worker :{env['REGISTRY_WORKER_METRICS_PORT']}, report-worker :{env['WORKER_METRICS_PORT']}"
        _say(f"metrics       {metrics}")
        _say("Ctrl-C stops everything")
        while all(service.running for service in services):
            time.sleep(0.5)
        dead = [service.name for service in services if not service.running]
        _say(f"{', '.join(dead)} exited")
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        shutdown()


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] != "run":
        sys.exit("usage: python -m kampungkb_local run")
    local_dir = Path(os.environ.get("KAMPUNGKB_LOCAL_DIR", ".local")).resolve()
    local_dir.mkdir(parents=True, exist_ok=True)
    sys.exit(run(local_dir))
