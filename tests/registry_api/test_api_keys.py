"""API keys: the CLI, region and Kampung KB scopes, read-only roles, and the request body limit."""

import asyncio
import os
import sys
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from registry_api.auth.service import Role
from tests.factories import auth, kependudukan_payload, load_demo_regions, make_kampung, make_key, put_module


async def registry_cli(database_url: str, *args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "registry_api.cli",
        *args,
        env={**os.environ, "DATABASE_URL": database_url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return out.decode()


async def test_cli_key_scoped_to_a_kabupaten(
    live_client: httpx.AsyncClient, committed_session: AsyncSession, fresh_database_url: str
) -> None:
    await load_demo_regions(committed_session, provinsi="36")
    admin = await make_key(committed_session)
    inside = (await make_kampung(live_client, admin, "36.71.01.1001"))["id"]
    outside = (await make_kampung(live_client, admin, "36.01.01.2001"))["id"]

    output = await registry_cli(fresh_database_url, "keys", "create", "--role", "kabupaten", "--scope", "36.71")
    info, key = output.strip().splitlines()
    assert "role kabupaten" in info and "scope 36.71" in info
    assert key.startswith("kkb_") and key not in info
    written = await put_module(live_client, key, inside, "kependudukan", "2024-01", kependudukan_payload())
    assert written.status_code == 201
    denied = await put_module(live_client, key, outside, "kependudukan", "2024-01", kependudukan_payload())
    assert denied.status_code == 403
    assert denied.headers["content-type"] == "application/problem+json"
    anonymous = await live_client.put(f"/v1/kampung/{inside}/kependudukan/2024-02", json=kependudukan_payload())
    assert anonymous.status_code == 401

    prefix = key.split("_")[1]
    assert prefix in await registry_cli(fresh_database_url, "keys", "revoke", prefix)
    revoked = await put_module(live_client, key, inside, "kependudukan", "2024-02", kependudukan_payload())
    assert revoked.status_code == 401


@pytest.fixture
async def two_kampung(client: httpx.AsyncClient, session: AsyncSession) -> AsyncIterator[tuple[int, int]]:
    await load_demo_regions(session)
    admin = await make_key(session)
    first = (await make_kampung(client, admin, "99.01.01.2001"))["id"]
    second = (await make_kampung(client, admin, "99.01.01.2002"))["id"]
    yield first, second


async def test_operator_key_writes_only_its_kampung(
    client: httpx.AsyncClient, session: AsyncSession, two_kampung: tuple[int, int]
) -> None:
    first, second = two_kampung
    operator = await make_key(session, Role.OPERATOR, f"kampung:{first}")
    assert (
        await put_module(client, operator, first, "kependudukan", "2024-01", kependudukan_payload())
    ).status_code == 201
    assert (
        await put_module(client, operator, second, "kependudukan", "2024-01", kependudukan_payload())
    ).status_code == 403
    kegiatan = {"title": "x", "date": "2024-01-02", "function": "LAINNYA"}
    other = await client.post(f"/v1/kampung/{second}/kegiatan", json=kegiatan, headers=auth(operator))
    assert other.status_code == 403


async def test_viewer_key_reads_but_cannot_write(
    client: httpx.AsyncClient, session: AsyncSession, two_kampung: tuple[int, int]
) -> None:
    first, _ = two_kampung
    viewer = await make_key(session, Role.VIEWER, "00")
    assert (
        await put_module(client, viewer, first, "kependudukan", "2024-01", kependudukan_payload())
    ).status_code == 403
    assert (await client.get(f"/v1/kampung/{first}/submissions", headers=auth(viewer))).status_code == 200


async def test_body_over_the_limit_is_413(client: httpx.AsyncClient, session: AsyncSession, settings: object) -> None:
    await load_demo_regions(session)
    key = await make_key(session)
    url = "/v1/kampung/1/kependudukan/2024-01"
    big = b'{"pus": 1, "pad": "' + b"x" * 1_100_000 + b'"}'
    with_length = await client.put(url, content=big, headers={**auth(key), "Content-Type": "application/json"})
    assert with_length.status_code == 413
    assert with_length.headers["content-type"] == "application/problem+json"

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(big), 64 * 1024):
            yield big[start : start + 64 * 1024]

    chunked = await client.put(url, content=chunks(), headers={**auth(key), "Content-Type": "application/json"})
    assert chunked.status_code == 413
