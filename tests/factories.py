"""Plain async factories shared by the tests."""

import datetime as dt
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from kampungkb_local.demo import demo_regions, to_csv
from registry_api.auth.service import Role, create_key
from registry_api.wilayah.service import import_csv

DEMO_DESA = "99.01.01.2001"
DEMO_KELURAHAN = "99.71.01.1001"


async def load_demo_regions(session: AsyncSession, **shape: int) -> list[dict[str, str]]:
    rows = demo_regions(**shape)
    await import_csv(session, to_csv(rows))
    await session.commit()
    return rows


async def make_key(session: AsyncSession, role: Role = Role.ADMIN, scope: str = "00") -> str:
    _, plain = await create_key(session, name=f"test {role}", role=role, scope=scope)
    await session.commit()
    return plain


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def make_kampung(client: httpx.AsyncClient, key: str, desa_code: str = DEMO_DESA, **fields: Any) -> dict[str, Any]:
    body = {"name": f"Kampung KB {desa_code}", "desa_code": desa_code, "formed_on": "2020-05-01", **fields}
    response = await client.post("/v1/kampung", json=body, headers=auth(key))
    assert response.status_code == 201, response.text
    return dict(response.json())


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()
