"""`make run`: PostgreSQL and Redis (embedded unless DATABASE_URL / REDIS_URL are set), migrations, regions,
then every service, until Ctrl-C stops them all, the embedded servers included. `make key` prints another key."""

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx

from kampungkb_local import processes
from kampungkb_local.demo import demo_regions, seed_demo, to_csv
from kampungkb_local.servers import RedisServer, free_port, start_postgres, stop_postgres

DATABASE_NAME = "kampungkb"
ADMIN_KEY_FILE = "admin-key"
"""The local admin key, kept for the next start (mode 0600): local use only."""
STACK_FILE = "stack.json"
"""What `make key` needs from a running `make run`: the database and registry URLs (mode 0600)."""


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


def _write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read, from its creation on."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(text)
    path.chmod(0o600)


def _key_works(registry_url: str, key: str) -> bool:
    response = httpx.get(f"{registry_url}/v1/kampung?limit=1", headers={"Authorization": f"Bearer {key}"}, timeout=10)
    return response.status_code == 200


def _admin_key(env: dict[str, str], local_dir: Path, registry_url: str) -> str:
    """The admin key kept in `.local/` if the running registry still takes it, else a new one, kept there."""
    path = local_dir / ADMIN_KEY_FILE
    if path.exists():
        kept = path.read_text().strip()
        if kept and _key_works(registry_url, kept):
            path.chmod(0o600)
            return kept
    key = _create_key(env, role="admin", scope="00", name="local admin (make run)")
    _write_private(path, key + "\n")
    return key


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
        seed_demo_province = False
        wilayah_csv = env.get("WILAYAH_CSV")
        if wilayah_csv:
            _registry_command(env, "load-wilayah", wilayah_csv)
        elif asyncio.run(_region_count(env["DATABASE_URL"])) == 0:
            demo_csv = local_dir / "demo-wilayah.csv"
            demo_csv.write_bytes(to_csv(demo_regions()))
            _registry_command(env, "load-wilayah", str(demo_csv))
            seed_demo_province = True
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
        registry_url = f"http://127.0.0.1:{registry_port}"
        _write_private(
            local_dir / STACK_FILE,
            json.dumps({"database_url": env["DATABASE_URL"], "registry_url": registry_url}) + "\n",
        )
        admin_key = _admin_key(env, local_dir, registry_url)
        if seed_demo_province:
            seeded = seed_demo(registry_url, admin_key)
            _say(f"demo province 99 loaded with {seeded} Kampung KB and a year of monthly submissions")
        _say(f"ready in {time.monotonic() - started:.1f} s")
        _say(f"registry-api  http://127.0.0.1:{registry_port}/docs")
        _say(f"classifier    http://127.0.0.1:{classifier_port}/docs")
        metrics = f"registry worker :{env['REGISTRY_WORKER_METRICS_PORT']}, report-worker :{env['WORKER_METRICS_PORT']}"
        _say(f"metrics       {metrics}")
        _say(f"admin key     {admin_key}")
        _say(f"              (kept in {local_dir / ADMIN_KEY_FILE}; another one: make key ROLE=kabupaten SCOPE=99.01)")
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


def key(local_dir: Path, *, role: str, scope: str, name: str) -> int:
    """Print a new key of a running `make run`, from the URLs it left in `.local/`."""
    try:
        stack = json.loads((local_dir / STACK_FILE).read_text())
        httpx.get(f"{stack['registry_url']}/healthz", timeout=5).raise_for_status()
    except (OSError, ValueError, KeyError, httpx.HTTPError):
        print("the local stack is not running: start it with `make run` (in another terminal)", file=sys.stderr)
        return 1
    env = {**os.environ, "DATABASE_URL": stack["database_url"], "LOG_LEVEL": "WARNING"}
    try:
        print(_create_key(env, role=role, scope=scope, name=name or f"{role} {scope} (make key)"))
    except subprocess.CalledProcessError as exc:
        print(exc.stderr.strip() or exc.stdout.strip(), file=sys.stderr)
        return 2
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m kampungkb_local")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="start the local stack")
    new_key = commands.add_parser("key", help="print a new API key of the running local stack")
    new_key.add_argument("--role", default="admin")
    new_key.add_argument("--scope", default="00")
    new_key.add_argument("--name", default="")
    args = parser.parse_args()
    local_dir = Path(os.environ.get("KAMPUNGKB_LOCAL_DIR", ".local")).resolve()
    local_dir.mkdir(parents=True, exist_ok=True)
    if args.command == "key":
        sys.exit(key(local_dir, role=args.role, scope=args.scope, name=args.name))
    sys.exit(run(local_dir))
