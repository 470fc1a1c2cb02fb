"""Plain async factories shared by the tests."""

import datetime as dt
from typing import Any

import asyncpg
import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from kampungkb_local.demo import demo_regions, to_csv
from kampungkb_shared import periods
from registry_api.auth.service import Principal, PrincipalKind, Role, create_key
from registry_api.db import create_engine, create_sessionmaker
from registry_api.wilayah.service import import_csv

DEMO_DESA = "99.01.01.2001"
DEMO_KELURAHAN = "99.71.01.1001"


async def load_demo_regions(session: AsyncSession, **shape: Any) -> list[dict[str, str]]:
    rows = demo_regions(**shape)
    await import_csv(session, to_csv(rows))
    await session.commit()
    return rows


async def demo_kampung_by_sql(database_url: str) -> None:
    """The demo regions and one Kampung KB in `DEMO_DESA`, written straight to a database at any migration (for
    tests of migrations and of what triggers keep)."""
    engine = create_engine(database_url, pool_size=1)
    try:
        async with create_sessionmaker(engine)() as session:
            await load_demo_regions(session)
    finally:
        await engine.dispose()
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(
            f"""INSERT INTO kampung (name, desa_code, kecamatan_code, kabupaten_code, provinsi_code, formed_on)
                VALUES ('K', '{DEMO_DESA}', '{DEMO_DESA[:8]}', '{DEMO_DESA[:5]}', '{DEMO_DESA[:2]}', '2020-01-01')"""
        )
    finally:
        await connection.close()


async def make_key(session: AsyncSession, role: Role = Role.ADMIN, scope: str = "00") -> str:
    _, plain = await create_key(session, name=f"test {role}", role=role, scope=scope)
    await session.commit()
    return plain


def nation_principal(role: Role, name: str) -> Principal:
    """An integration of the whole nation with `role`, as a key would authenticate it: for calls below the HTTP API."""
    return Principal(
        principal_id=1,
        kind=PrincipalKind.INTEGRATION,
        name=name,
        role=role,
        scope="00",
        key_id=1,
        key_prefix=name,
        expires_at=None,
    )


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def make_kampung(
    client: httpx.AsyncClient, key: str, desa_code: str = DEMO_DESA, **fields: Any
) -> dict[str, Any]:
    body = {"name": f"Kampung KB {desa_code}", "desa_code": desa_code, "formed_on": "2020-05-01", **fields}
    response = await client.post("/v1/kampung", json=body, headers=auth(key))
    assert response.status_code == 201, response.text
    return dict(response.json())


def errors_of(response: httpx.Response) -> list[list[Any]]:
    """The `loc` of each error of a 422 problem."""
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return [e["loc"] for e in response.json()["errors"]]


def today() -> dt.date:
    return periods.today()


def profil_payload(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "pokja": {"exists": True, "sk": True, "members": 12, "trained_members": 6, "trained": True},
        "funding_sources": ["APBD", "DANA_DESA"],
        "poktan": ["BKB", "BKR", "BKL"],
        "facilities": ["SEKRETARIAT"],
        "pkb_pendamping": True,
        "regulations": ["SK_KADES_LURAH"],
        "rkm": True,
        "data_sources": ["PK_PEMUTAKHIRAN_DATA", "POTENSI_DESA"],
        "operational": {"RAPAT_KOORDINASI": "BULANAN", "SOSIALISASI": "TRIWULAN"},
    }
    return {**body, **overrides}


def kependudukan_payload(pus: int = 100, **overrides: Any) -> dict[str, Any]:
    body = {
        "pus": pus,
        "families": 150,
        "remaja": 60,
        "families_with_balita": 40,
        "families_with_remaja": 35,
        "families_with_lansia": 30,
    }
    return {**body, **overrides}


def kkbpk_payload(users: int = 70, non_users: int = 30, **overrides: Any) -> dict[str, Any]:
    """KB users split over two methods and non-users over two reasons; they add up to `users + non_users`."""
    body = {
        "poktan_participants": {"BKB": 20, "BKR": 10},
        "kb_users": {"KB_SUNTIK": users - users // 3, "KB_IMPLAN": users // 3},
        "non_users": {"HAMIL": non_users - non_users // 2, "IAT": non_users // 2},
    }
    return {**body, **overrides}


async def put_module(
    client: httpx.AsyncClient,
    key: str,
    kampung_id: int,
    module: str,
    period: str,
    body: dict[str, Any],
    **headers: str,
) -> httpx.Response:
    return await client.put(f"/v1/kampung/{kampung_id}/{module}/{period}", json=body, headers={**auth(key), **headers})


async def make_kegiatan(
    client: httpx.AsyncClient, key: str, kampung_id: int, day: str, partners: list[str], **fields: Any
) -> httpx.Response:
    body = {"title": "Penyuluhan KB", "date": day, "function": "REPRODUKSI", "targets": ["PUS"], "partners": partners}
    return await client.post(f"/v1/kampung/{kampung_id}/kegiatan", json={**body, **fields}, headers=auth(key))


def security_header_problems(response: httpx.Response) -> list[str]:
    """What a response lacks of the security headers every response of every HTTP service carries."""
    want = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer", "x-frame-options": "DENY"}
    problems = [
        f"{name}: {response.headers.get(name)!r}" for name, value in want.items() if response.headers.get(name) != value
    ]
    policy = response.headers.get("content-security-policy", "")
    if "frame-ancestors 'none'" not in policy:
        problems.append(f"content-security-policy: {policy!r}")
    return problems


def csp_allows(policy: str, directive: str, url: str) -> bool:
    """Whether a Content-Security-Policy lets a page load `url` (`'unsafe-inline'` for an inline script or style)."""
    sources = next(
        (part.split()[1:] for part in policy.split(";") if part.split()[:1] == [directive]),
        next((part.split()[1:] for part in policy.split(";") if part.split()[:1] == ["default-src"]), []),
    )
    if url == "'unsafe-inline'":
        return url in sources
    if url.startswith("/") and not url.startswith("//"):
        return "'self'" in sources  # an asset of the same origin
    return any(url.startswith(source.rstrip("/") + "/") for source in sources if source.startswith("https://"))
