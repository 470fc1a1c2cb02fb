"""The embedded PostgreSQL of `make run` and the benchmarks: its settings for national imports, kept across starts."""

from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from kampungkb_local.servers import EMBEDDED_SETTINGS, start_postgres, stop_postgres


async def _settings(url: str) -> dict[str, str]:
    connection = await asyncpg.connect(url)
    try:
        return {name: str(await connection.fetchval(f"SHOW {name}")) for name in EMBEDDED_SETTINGS}
    finally:
        await connection.close()


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "pg"
    yield folder
    stop_postgres(folder)


async def test_a_new_server_runs_with_the_embedded_settings_and_keeps_them(data_dir: Path) -> None:
    url = start_postgres(data_dir)
    assert await _settings(url) == EMBEDDED_SETTINGS
    log = data_dir / "log"
    starts = log.read_text().count("database system is ready")
    url = start_postgres(data_dir)  # started again (make run, a second time): the settings are there, no restart
    assert await _settings(url) == EMBEDDED_SETTINGS
    assert log.read_text().count("database system is ready") == starts


async def test_a_server_with_other_settings_gets_the_embedded_ones(data_dir: Path) -> None:
    url = start_postgres(data_dir)
    connection = await asyncpg.connect(url)  # as a folder made before the settings changed, or on another machine
    try:
        await connection.execute("ALTER SYSTEM SET shared_buffers = '128MB'")
    finally:
        await connection.close()
    log = data_dir / "log"
    starts = log.read_text().count("database system is ready")
    url = start_postgres(data_dir)
    assert (await _settings(url))["shared_buffers"] == EMBEDDED_SETTINGS["shared_buffers"]
    assert log.read_text().count("database system is ready") == starts + 1
