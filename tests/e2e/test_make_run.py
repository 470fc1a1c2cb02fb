"""`make run`'s supervisor as a user runs it: everything comes up with an admin key and a demo province with a year of
classified submissions, the docs answer, `make key` gives another key, Ctrl-C leaves nothing running."""

import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from kampungkb_local.demo import last_months
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


def _printed_key(output: str) -> str:
    found = re.search(r"admin key +(\S+)", output)
    assert found, output
    return found.group(1)


def _demo_report(registry_url: str, period: str, timeout: float = 60) -> dict[str, object]:
    """The demo province's report of `period` once report-worker has counted its Kampung KB (it runs behind)."""
    deadline = time.monotonic() + timeout
    while True:
        response = httpx.get(f"{registry_url}/v1/reports/99", params={"period": period})
        report: dict[str, object] = response.json()
        if response.status_code == 200 and report["kampung_total"] and report["reported"] == report["kampung_total"]:
            return report
        assert time.monotonic() < deadline, report
        time.sleep(0.5)


def _make_key(local_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    env["KAMPUNGKB_LOCAL_DIR"] = str(local_dir)
    argv = [sys.executable, "-m", "kampungkb_local", "key", *args]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.timeout(420)
def test_run_serves_docs_and_stops_everything_on_ctrl_c(tmp_path: Path) -> None:
    registry_port, classifier_port = free_port(), free_port()
    registry_url = f"http://127.0.0.1:{registry_port}"
    keys: list[str] = []
    for attempt in ("first", "second"):
        process = _start(tmp_path / "local", registry_port, classifier_port)
        try:
            lines = _wait_for_line(process, "Ctrl-C stops everything", timeout=300)
            output = "".join(lines)
            assert f"http://127.0.0.1:{registry_port}/docs" in output
            assert f"http://127.0.0.1:{classifier_port}/docs" in output
            for port in (registry_port, classifier_port):
                assert httpx.get(f"http://127.0.0.1:{port}/docs").status_code == 200
            demo = httpx.get(f"http://127.0.0.1:{registry_port}/v1/wilayah/99").json()
            assert demo["counts"]["kecamatan"] == 6
            key = _printed_key(output)
            keys.append(key)
            key_file = tmp_path / "local" / "admin-key"
            assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
            assert key_file.read_text().strip() == key
            mine = httpx.get(f"{registry_url}/v1/kampung", params={"wilayah": "99"}, headers={"X-API-Key": key})
            assert mine.status_code == 200 and len(mine.json()["items"]) == (24 if attempt == "first" else 25)
            if attempt == "first":
                last_month, year_before = last_months(12)[-1], last_months(12)[0]
                report = _demo_report(registry_url, last_month)
                tiers = report["tiers"]
                assert isinstance(tiers, dict)
                assert tiers["belum_terklasifikasi"] == 0 and sum(tiers.values()) == 24
                assert all(tiers[tier] > 0 for tier in ("dasar", "berkembang", "mandiri", "berkelanjutan")), tiers
                trend = httpx.get(f"{registry_url}/v1/reports/99/trend", params={"from": year_before}).json()
                assert [point["period"] for point in trend["points"]][:12] == last_months(12)
                assert trend["points"][0]["mandiri_plus_pct"] < trend["points"][11]["mandiri_plus_pct"]
                made = _make_key(tmp_path / "local", "--role", "kabupaten", "--scope", "99.01")
                assert made.returncode == 0, made.stderr
                other = made.stdout.strip()
                assert other != key
                for desa, status in (("99.71.01.1005", 403), ("99.01.01.2005", 201)):
                    body = {"name": "Kampung KB Baru", "desa_code": desa, "formed_on": "2024-01-01"}
                    created = httpx.post(f"{registry_url}/v1/kampung", json=body, headers={"X-API-Key": other})
                    assert created.status_code == status, created.text
            children = _descendants(process.pid)
            assert len(children) >= 4, [c.cmdline() for c in children]
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
    assert keys[0] == keys[1], "a second start reuses the kept key"
    stopped = _make_key(tmp_path / "local")
    assert stopped.returncode == 1 and "make run" in stopped.stderr
