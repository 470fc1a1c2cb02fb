"""`make run`'s supervisor as a user runs it: everything comes up, the docs answer, Ctrl-C leaves nothing running."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from kampungkb_local.servers import free_port

pytestmark = pytest.mark.e2e


def _wait_for_line(process: subprocess.Popen[str], needle: str, timeout: float) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        lines.append(line)
        if needle in line:
            return lines
    raise AssertionError(f"no {needle!r} within {timeout} s:\n{''.join(lines)}")


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _start(local_dir: Path, registry_port: int, classifier_port: int) -> subprocess.Popen[str]:
    env = {key: value for key, value in os.environ.items() if key not in {"DATABASE_URL", "REDIS_URL", "WILAYAH_CSV"}}
    env.update(
        KAMPUNGKB_LOCAL_DIR=str(local_dir),
        REGISTRY_PORT=str(registry_port),
        CLASSIFIER_PORT=str(classifier_port),
        LOG_LEVEL="WARNING",
    )
    return subprocess.Popen(
        [sys.executable, "-m", "kampungkb_local", "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def test_run_serves_docs_and_stops_everything_on_ctrl_c(tmp_path: Path) -> None:
    registry_port, classifier_port = free_port(), free_port()
    for attempt in ("first", "second"):
        started = time.monotonic()
        process = _start(tmp_path / "local", registry_port, classifier_port)
        try:
            lines = _wait_for_line(process, "Ctrl-C stops everything", timeout=120)
            output = "".join(lines)
            assert f"http://127.0.0.1:{registry_port}/docs" in output
            assert f"http://127.0.0.1:{classifier_port}/docs" in output
            for port in (registry_port, classifier_port):
                assert httpx.get(f"http://127.0.0.1:{port}/docs").status_code == 200
            demo = httpx.get(f"http://127.0.0.1:{registry_port}/v1/wilayah/99").json()
            assert demo["counts"]["kecamatan"] == 6
            children = _descendants(process.pid)
            assert len(children) >= 4, [c.cmdline() for c in children]
            if attempt == "second":
                assert time.monotonic() - started < 30, "a second start must take seconds"
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(60)
        assert process.stdout is not None
        with process.stdout:
            rest = process.stdout.read()
        assert process.returncode == 0, rest
        assert "nothing left running" in rest
        _, alive = psutil.wait_procs(children, timeout=10)
        assert alive == [], [p.cmdline() for p in alive]
        postmaster = tmp_path / "local" / "pg" / "postmaster.pid"
        assert not postmaster.exists()
