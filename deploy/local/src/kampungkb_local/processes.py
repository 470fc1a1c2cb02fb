"""Start the services as real processes, wait until they answer, and stop them: used by `make run` and the tests."""

import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Service:
    """One service process: its command line, and the URL that answers once it is up (if it serves HTTP)."""

    name: str
    argv: list[str]
    health_url: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    def start(
        self, *, base_env: dict[str, str] | None = None, quiet: bool = False, log_file: Path | None = None
    ) -> "Service":
        """Start the process; its output goes to `log_file` when given, nowhere when `quiet`, else to ours."""
        env = {**(base_env if base_env is not None else os.environ), **self.env}
        if log_file is not None:
            with log_file.open("ab") as output:
                self.process = subprocess.Popen(
                    self.argv, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
                )
            return self
        quiet_or_ours = subprocess.DEVNULL if quiet else None
        self.process = subprocess.Popen(
            self.argv, env=env, stdout=quiet_or_ours, stderr=quiet_or_ours, start_new_session=True
        )
        return self

    def wait_ready(self, timeout: float = 60.0) -> "Service":
        """Wait for the health URL to answer 200 (or, without one, for the process to stay up a moment)."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with code {self.process.returncode}")
            if self.health_url is None:
                time.sleep(0.5)
                return self
            try:
                with urllib.request.urlopen(self.health_url, timeout=1) as response:
                    if response.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not answer {self.health_url} within {timeout} s")

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL, as a crash would: nothing gets to clean up."""
        if self.running:
            assert self.process is not None
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM to the process group, then SIGKILL after `timeout`."""
        if not self.running:
            return
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def python_module(module: str, *args: str) -> list[str]:
    """A command line running `python -m module args` with this interpreter."""
    return [sys.executable, "-m", module, *args]


def registry_api(port: int, *, workers: int = 1) -> Service:
    return Service(
        "registry-api",
        python_module(
            "uvicorn",
            "registry_api.main:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "--workers",
            str(workers),
        ),
        health_url=f"http://127.0.0.1:{port}/healthz",
    )


def classifier(port: int) -> Service:
    return Service(
        "classifier",
        python_module("uvicorn", "classifier.main:app", "--host", "127.0.0.1", "--port", str(port), "--no-access-log"),
        health_url=f"http://127.0.0.1:{port}/healthz",
    )


def registry_worker() -> Service:
    return Service("registry-worker", python_module("registry_api.cli", "worker"))


def report_worker() -> Service:
    return Service("report-worker", python_module("report_worker"))
