from typing import Any

import pytest

from classifier import cli


def test_cli_runs_uvicorn_with_host_and_port(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(cli.uvicorn, "run", lambda target, **kwargs: calls.append((target, kwargs)))
    cli.main(["--host", "0.0.0.0", "--port", "9001"])
    [(target, kwargs)] = calls
    assert target == "classifier.main:app"
    assert (kwargs["host"], kwargs["port"], kwargs["workers"]) == ("0.0.0.0", 9001, 1)


def test_cli_defaults_to_port_8001(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(cli.uvicorn, "run", lambda target, **kwargs: calls.append(kwargs))
    cli.main([])
    assert calls[0]["port"] == 8001
