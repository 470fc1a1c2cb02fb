"""Percontohan at three levels: Kota Tangerang's five kecamatan percontohan, limits from the settings, held under
concurrent designations (no unique index can hold a limit that is a setting)."""

import asyncio
import csv
import datetime as dt
import io

import asyncpg
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from registry_api.auth.service import Role
from registry_api.main import create_app
from registry_api.wilayah.service import import_csv
from report_worker.aggregates import rebuild_period
from tests.conftest import WILAYAH_CSV
from tests.factories import auth, load_demo_regions, make_kampung, make_key
from tests.registry_api.conftest import registry_settings

KOTA_TANGERANG = "36.71"
# The five percontohan of Kota Tangerang, one per kecamatan (name, kecamatan code, the kelurahan they are placed in
# here: the first of their kecamatan, as the news report names only the kecamatan).
TANGERANG_FIVE = [
    ("Jimpitan", "36.71.03", "BATUCEPER"),
    ("Isa Awabi", "36.71.02", "JATIUWUNG"),
    ("Sedekah Berkah", "36.71.05", "CIPONDOH"),
    ("H. Sarim", "36.71.11", "PINANG"),
    ("Adem", "36.71.13", "LARANGAN"),
]
DEMO_KECAMATAN_DESA = [f"99.01.01.{2000 + n}" for n in range(1, 6)]


async def percontohan(client: httpx.AsyncClient, key: str, kampung_id: int, level: str) -> httpx.Response:
    return await client.put(f"/v1/kampung/{kampung_id}/percontohan", json={"level": level}, headers=auth(key))


def kota_tangerang_csv() -> bytes:
    """The official rows of Kota Tangerang only: its provinsi, the kota, its kecamatan and kelurahan."""
    if not WILAYAH_CSV.exists():
        pytest.skip("the official region list is not beside the project")
    with WILAYAH_CSV.open(newline="", encoding="utf-8") as source:
        reader = csv.DictReader(source)
        fields = list(reader.fieldnames or [])
        rows = [r for r in reader if r["code"] in ("36", KOTA_TANGERANG) or r["code"].startswith(KOTA_TANGERANG + ".")]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


async def test_kota_tangerang_designates_five_and_its_report_lists_them(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await import_csv(session, kota_tangerang_csv())
    await session.commit()
    key = await make_key(session, Role.PROVINSI, "36")
    kelurahan = {
        (row["parent_code"], row["name"]): row["code"]
        for row in csv.DictReader(io.StringIO(kota_tangerang_csv().decode()))
        if row["level"] == "desa"
    }
    first_of = {
        kec: min(code for (parent, _), code in kelurahan.items() if parent == kec) for _, kec, _ in TANGERANG_FIVE
    }
    made: dict[int, str] = {}
    for name, kecamatan, kecamatan_name in TANGERANG_FIVE:
        region = (await client.get(f"/v1/wilayah/{kecamatan}")).json()
        assert region["name"] == kecamatan_name
        kampung = await make_kampung(client, key, first_of[kecamatan], name=f"Kampung KB {name}")
        response = await percontohan(client, key, kampung["id"], "kecamatan")
        assert response.status_code == 200, response.text
        assert response.json()["percontohan_kecamatan"] is True
        assert response.json()["percontohan_kabupaten"] is False
        made[kampung["id"]] = name
    # a second one in Batuceper is refused; the kota's own percontohan is a level of its own
    other = await make_kampung(client, key, "36.71.03.1002", name="Kampung KB Batu Jaya")
    refused = await percontohan(client, key, other["id"], "kecamatan")
    assert refused.status_code == 409 and "36.71.03" in refused.json()["detail"]
    jimpitan = next(i for i, n in made.items() if n == "Jimpitan")
    assert (await percontohan(client, key, jimpitan, "kabupaten")).status_code == 200

    connection = await session.connection()
    pg = (await connection.get_raw_connection()).driver_connection
    assert isinstance(pg, asyncpg.Connection)
    await pg.execute(
        "INSERT INTO classification_snapshot (hash, snapshot) VALUES ('s', '{}') ON CONFLICT DO NOTHING;"
        "INSERT INTO classification"
        " (kampung_id, period, ruleset, ruleset_hash, tier, snapshot_hash, scores, indices, passed)"
        f" VALUES ({jimpitan}, '2025-05-01', 'bkkbn-web-2021', 'r', 'berkelanjutan', 's',"
        " array_fill(NULL::smallint, ARRAY[12]), array_fill(NULL::numeric, ARRAY[3]),"
        " array_fill(NULL::boolean, ARRAY[3]))"
    )
    await rebuild_period(pg, period=dt.date(2025, 6, 1), rulesets=["bkkbn-web-2021", "kkb-2025"])
    report = (await client.get(f"/v1/reports/{KOTA_TANGERANG}", params={"period": "2025-06"})).json()
    listed = [(p["name"], p["level"], p["tier"]) for p in report["percontohan"]]
    assert listed == [("Kampung KB Jimpitan", "kabupaten", "berkelanjutan")] + [
        (f"Kampung KB {name}", "kecamatan", "berkelanjutan" if name == "Jimpitan" else "belum_terklasifikasi")
        for name, _, _ in sorted(TANGERANG_FIVE, key=lambda five: five[1])
    ]
    batuceper = (await client.get("/v1/reports/36.71.03", params={"period": "2025-06"})).json()
    assert [(p["name"], p["level"]) for p in batuceper["percontohan"]] == [
        ("Kampung KB Jimpitan", "kabupaten"),
        ("Kampung KB Jimpitan", "kecamatan"),
    ]
    kota_row = await pg.fetchval(
        "SELECT percontohan FROM report_aggregate WHERE code = $1 AND period = '2025-06-01' LIMIT 1", KOTA_TANGERANG
    )
    assert kota_row == 5


async def test_levels_and_roles(client: httpx.AsyncClient, admin: str, session: AsyncSession) -> None:
    kabupaten_key = await make_key(session, Role.KABUPATEN, "99.01")
    first, second = [await make_kampung(client, admin, desa) for desa in DEMO_KECAMATAN_DESA[:2]]
    assert (await percontohan(client, kabupaten_key, first["id"], "kabupaten")).status_code == 403
    assert (await percontohan(client, kabupaten_key, first["id"], "kecamatan")).status_code == 200
    assert (await percontohan(client, kabupaten_key, second["id"], "kecamatan")).status_code == 409
    cancelled = await client.delete(f"/v1/kampung/{first['id']}/percontohan/kecamatan", headers=auth(kabupaten_key))
    assert cancelled.json()["percontohan_kecamatan"] is False
    assert (await percontohan(client, kabupaten_key, second["id"], "kecamatan")).status_code == 200
    bad = await client.put(f"/v1/kampung/{first['id']}/percontohan", json={"level": "desa"}, headers=auth(admin))
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"][-1] == "level"


@pytest.mark.parametrize("limit", [1, 3])
async def test_concurrent_designations_never_pass_the_limit(
    fresh_database_url: str, redis_url: str, classifier_url: str, committed_session: AsyncSession, limit: int
) -> None:
    await load_demo_regions(committed_session)
    key = await make_key(committed_session)
    settings = registry_settings(
        fresh_database_url, redis_url, classifier_url, db_pool_size=10, percontohan_limit_kecamatan=limit
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://registry.test", timeout=30) as client:
            ids = [(await make_kampung(client, key, desa))["id"] for desa in DEMO_KECAMATAN_DESA]
            responses = await asyncio.gather(*(percontohan(client, key, i, "kecamatan") for i in ids))
            statuses = sorted(r.status_code for r in responses)
            assert statuses == [200] * limit + [409] * (len(ids) - limit)
            listed = await client.get("/v1/kampung", params={"wilayah": "99.01.01", "limit": 100}, headers=auth(key))
            assert sum(k["percontohan_kecamatan"] for k in listed.json()["items"]) == limit
