"""The service Dockerfiles: hadolint-clean, locked uv installs, a slim non-root runtime with a health check."""

import json
import re
import shlex
import subprocess
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# service -> (the command of design section 6, the port its health check calls, the path)
SERVICES = {
    # Each writes its own access log (`--no-access-log`: not uvicorn's as well, which logs enrolment codes).
    # On SIGTERM uvicorn lets the requests in flight finish, for a bounded time (within the pods' grace period).
    "registry-api": (
        [
            "uvicorn",
            "registry_api.main:app",
            "--host",
            "0.0.0.0",
            "--port",
            "8000",
            "--no-access-log",
            "--timeout-graceful-shutdown",
            "20",
        ],
        8000,
        "/healthz",
    ),
    "classifier": (
        [
            "uvicorn",
            "classifier.main:app",
            "--host",
            "0.0.0.0",
            "--port",
            "8001",
            "--no-access-log",
            "--timeout-graceful-shutdown",
            "15",
        ],
        8001,
        "/healthz",
    ),
    # Its /healthz fails once its event loop stops ticking; the metrics beside it answer from a thread regardless.
    "report-worker": (["python", "-m", "report_worker"], 9100, "/healthz"),
}

Instruction = tuple[str, str]


def parse(path: Path) -> list[list[Instruction]]:
    """Instructions of a Dockerfile grouped by stage, continuation lines joined, comments dropped."""
    stages: list[list[Instruction]] = []
    logical = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            logical += line[:-1] + " "
            continue
        logical += line
        keyword, _, args = logical.partition(" ")
        logical = ""
        if keyword.upper() == "FROM":
            stages.append([])
        elif not stages:
            continue  # ARG before the first FROM
        stages[-1].append((keyword.upper(), args.strip()))
    return stages


def dockerfile(service: str) -> Path:
    return REPO / "services" / service / "Dockerfile"


def final_stage(service: str) -> list[Instruction]:
    return parse(dockerfile(service))[-1]


def from_images(service: str) -> list[str]:
    lines = [line.split()[1] for line in dockerfile(service).read_text().splitlines() if line.startswith("FROM ")]
    return lines


def dockerignore_excludes(path: str) -> bool:
    """Whether .dockerignore keeps `path` (relative to the repo root) out of the build context.

    Docker semantics, simplified: `*` and `?` stay within one path segment, `**` spans segments, a
    pattern also excludes everything below a directory it matches, and the last matching line wins.
    """
    rules: list[tuple[bool, re.Pattern[str]]] = []
    for raw in (REPO / ".dockerignore").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = line.lstrip("!").strip("/")
        regex = ""
        i = 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                regex, i = regex + "(?:.*/)?", i + 3
            elif pattern.startswith("**", i):
                regex, i = regex + ".*", i + 2
            elif pattern[i] == "*":
                regex, i = regex + "[^/]*", i + 1
            elif pattern[i] == "?":
                regex, i = regex + "[^/]", i + 1
            elif pattern[i] == "[":
                end = pattern.index("]", i)
                regex, i = regex + pattern[i : end + 1], end + 1
            else:
                regex, i = regex + re.escape(pattern[i]), i + 1
        rules.append((negated, re.compile(regex + "(?:/.*)?")))
    excluded = False
    for negated, rule in rules:
        if rule.fullmatch(path):
            excluded = not negated
    return excluded


@pytest.mark.parametrize("service", SERVICES)
def test_hadolint_reports_nothing(hadolint: str, service: str) -> None:
    # JSON output lists every finding down to style level; an inline `# hadolint ignore=` with its reason
    # is the only accepted way to silence one.
    result = subprocess.run(
        [hadolint, "--no-color", "--format", "json", str(dockerfile(service))],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=REPO,
    )
    findings = json.loads(result.stdout or "[]")
    assert findings == [], "\n".join(f"{f['line']}: {f['code']} {f['level']}: {f['message']}" for f in findings)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("service", SERVICES)
def test_hadolint_ignores_are_justified(service: str) -> None:
    lines = dockerfile(service).read_text().splitlines()
    for number, line in enumerate(lines):
        if "hadolint ignore=" in line:
            assert number > 0 and lines[number - 1].lstrip().startswith("#"), (
                f"line {number + 1}: say why on the comment line above the ignore pragma"
            )


def test_hadolint_catches_a_bad_dockerfile(hadolint: str, tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get install curl\n")
    result = subprocess.run(
        [hadolint, "--no-color", "--format", "json", str(bad)], capture_output=True, text=True, timeout=60, check=False
    )
    codes = {finding["code"] for finding in json.loads(result.stdout)}
    assert {"DL3007", "DL3008"} <= codes
    assert result.returncode != 0


@pytest.mark.parametrize("service", SERVICES)
def test_multi_stage_with_pinned_images(service: str) -> None:
    images = from_images(service)
    assert len(parse(dockerfile(service))) >= 2, "a builder stage and a runtime stage"
    for image in images:
        assert re.search(r":\d", image), f"{image}: pin a version tag"
    assert any(image.startswith("ghcr.io/astral-sh/uv:") for image in images)
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm", images[-1]), images[-1]  # Debian: `sleep` for preStop


@pytest.mark.parametrize("service", SERVICES)
def test_uv_sync_is_locked_without_dev_and_cached(service: str) -> None:
    runs = [args for stage in parse(dockerfile(service)) for kind, args in stage if kind == "RUN"]
    syncs = [args for args in runs if "uv sync" in args]
    assert syncs, "the builder installs with `uv sync`"
    for args in syncs:
        assert "--locked" in args
        assert "--no-dev" in args
        assert f"--package {service}" in args
        assert "--mount=type=cache,target=/root/.cache/uv" in args
    assert "--no-editable" in syncs[-1], "the runtime gets wheels, not links into the source tree"
    text = dockerfile(service).read_text()
    assert "UV_COMPILE_BYTECODE=1" in text


@pytest.mark.parametrize("service", SERVICES)
def test_runtime_runs_as_non_root(service: str) -> None:
    users = [args for kind, args in final_stage(service) if kind == "USER"]
    assert users, "the runtime stage sets USER"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}
    assert user.isdigit(), "a numeric uid lets Kubernetes verify runAsNonRoot"


@pytest.mark.parametrize("service", SERVICES)
def test_runtime_has_healthcheck_expose_and_command(service: str) -> None:
    command, port, path = SERVICES[service]
    stage = final_stage(service)
    checks = [args for kind, args in stage if kind == "HEALTHCHECK"]
    assert checks and "NONE" not in checks[-1]
    assert "urllib" in checks[-1] and "curl" not in checks[-1]
    assert f"127.0.0.1:{port}{path}" in checks[-1]
    exposed = {int(p.split("/")[0]) for kind, args in stage if kind == "EXPOSE" for p in args.split()}
    assert port in exposed
    cmds = [args for kind, args in stage if kind == "CMD"]
    assert cmds and json.loads(cmds[-1]) == command, "exec form, the documented command"
    env = " ".join(args for kind, args in stage if kind == "ENV")
    assert "PYTHONUNBUFFERED=1" in env
    assert "PATH=/opt/venv/bin" in env


@pytest.mark.parametrize("service", SERVICES)
def test_copied_sources_are_in_the_build_context(service: str) -> None:
    for stage in parse(dockerfile(service)):
        for kind, args in stage:
            if kind not in {"COPY", "ADD"} or "--from=" in args:
                continue
            words = [word for word in shlex.split(args) if not word.startswith("--")]
            for source in words[:-1]:
                assert (REPO / source).exists(), f"{source} does not exist (build context is the repo root)"
                assert not dockerignore_excludes(source), f"{source} is excluded by .dockerignore"


@pytest.mark.parametrize("service", SERVICES)
def test_every_workspace_member_manifest_is_copied(service: str) -> None:
    # `uv sync --locked` checks the lock against the whole workspace, so the builder needs every member's
    # pyproject.toml even when it installs only one service: a new member needs a COPY line here.
    workspace = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["uv"]["workspace"]
    members = {path.parent for pattern in workspace["members"] for path in REPO.glob(f"{pattern}/pyproject.toml")}
    copied = {
        REPO / source
        for stage in parse(dockerfile(service))
        for kind, args in stage
        if kind == "COPY" and "--from=" not in args
        for source in shlex.split(args)[:-1]
    }
    for member in members:
        assert member / "pyproject.toml" in copied or member in copied, member.relative_to(REPO)


def test_runtime_data_ships_inside_the_wheels() -> None:
    # The runtime stage copies only /opt/venv, so every file a service reads at run time must be in its wheel.
    assert (REPO / "services/registry-api/src/registry_api/migrations/env.py").is_file()
    pyproject = tomllib.loads((REPO / "services/classifier/pyproject.toml").read_text())
    wheel = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]
    packaged = (REPO / "services/classifier/src/classifier/rulesets").is_dir()
    assert packaged or wheel.get("force-include", {}).get("rulesets") == "classifier/rulesets"


def test_dockerignore_keeps_local_state_out() -> None:
    for path in [".git", ".venv", "services/classifier/.venv", "shared/src/x/__pycache__/a.pyc", "tests/x.py"]:
        assert dockerignore_excludes(path), path
    for path in ["uv.lock", "shared/src/kampungkb_shared/__init__.py", "deploy/local/pyproject.toml"]:
        assert not dockerignore_excludes(path), path
    assert dockerignore_excludes("deploy/local/src/kampungkb_local/__init__.py")
