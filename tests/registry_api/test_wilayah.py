import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from kampungkb_local.demo import demo_regions, to_csv
from registry_api.auth.service import Role
from registry_api.settings import Settings
from tests.conftest import WILAYAH_CSV
from tests.factories import auth, load_demo_regions, make_key

CSV = "text/csv"


async def _import(client: httpx.AsyncClient, key: str, body: bytes) -> httpx.Response:
    return await client.post("/v1/wilayah/import", content=body, headers={**auth(key), "Content-Type": CSV})


async def test_import_counts_and_is_idempotent(client: httpx.AsyncClient, session: AsyncSession) -> None:
    key = await make_key(session)
    body = to_csv(demo_regions())
    first = await _import(client, key, body)
    assert first.status_code == 200, first.text
    assert first.json() == {"rows": 39, "inserted": 39, "updated": 0, "unchanged": 0}
    again = await _import(client, key, body)
    assert again.json() == {"rows": 39, "inserted": 0, "updated": 0, "unchanged": 39}


async def test_reimport_updates_a_renamed_region(client: httpx.AsyncClient, session: AsyncSession) -> None:
    key = await make_key(session)
    rows = demo_regions()
    await _import(client, key, to_csv(rows))
    rows[1]["name"] = "KABUPATEN BARU"
    response = await _import(client, key, to_csv(rows))
    assert response.json()["updated"] == 1
    assert (await client.get("/v1/wilayah/99.01")).json()["name"] == "KABUPATEN BARU"


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ({"code": "99.01.01.2099", "level": "dusun", "kind": "", "parent_code": "99.01.01"}, "level"),
        ({"code": "99.01.01.299", "level": "desa", "kind": "desa", "parent_code": "99.01.01"}, "code"),
        ({"code": "99.01.09.2001", "level": "desa", "kind": "desa", "parent_code": "99.01.09"}, "parent_code"),
        ({"code": "99.01.01.2099", "level": "desa", "kind": "desa", "parent_code": "99.01.02"}, "parent_code"),
        ({"code": "99.01.01.2099", "level": "desa", "kind": "kota", "parent_code": "99.01.01"}, "kind"),
        ({"code": "99.01.01.2001", "level": "desa", "kind": "desa", "parent_code": "99.01.01"}, "code"),
    ],
    ids=["unknown-level", "bad-code", "missing-parent", "wrong-parent", "wrong-kind", "duplicate"],
)
async def test_import_rejects_bad_rows_with_row_numbers_and_loads_nothing(
    client: httpx.AsyncClient, session: AsyncSession, row: dict[str, str], field: str
) -> None:
    key = await make_key(session)
    rows = [*demo_regions(), {"name": "BAD", **row}]
    response = await _import(client, key, to_csv(rows))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    errors = response.json()["errors"]
    assert {"loc": ["body", len(rows), field], "msg": errors[0]["msg"]} in errors
    assert (await client.get("/v1/wilayah/99")).status_code == 404


async def test_import_rejects_a_wrong_header(client: httpx.AsyncClient, session: AsyncSession) -> None:
    key = await make_key(session)
    response = await _import(client, key, b"kode,nama\n11,ACEH\n")
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", 0]


async def test_import_rejects_a_ragged_csv(client: httpx.AsyncClient, session: AsyncSession) -> None:
    key = await make_key(session)
    response = await _import(client, key, b"code,name,level,kind,parent_code\n11,ACEH\n")
    assert response.status_code == 422
    assert "CSV" in response.json()["detail"]


async def test_import_needs_an_admin_key(client: httpx.AsyncClient, session: AsyncSession) -> None:
    body = to_csv(demo_regions())
    assert (await client.post("/v1/wilayah/import", content=body)).status_code == 401
    kabupaten_key = await make_key(session, Role.KABUPATEN, "99.01")
    assert (await _import(client, kabupaten_key, body)).status_code == 403


async def test_region_with_counts_below(client: httpx.AsyncClient, session: AsyncSession) -> None:
    await load_demo_regions(session)
    province = (await client.get("/v1/wilayah/99")).json()
    assert province["counts"] == {"kabupaten": 1, "kota": 1, "kecamatan": 6, "desa": 15, "kelurahan": 15}
    kota = (await client.get("/v1/wilayah/99.71")).json()
    assert kota["kind"] == "kota"
    assert kota["counts"] == {"kabupaten": 0, "kota": 0, "kecamatan": 3, "desa": 0, "kelurahan": 15}
    assert (await client.get("/v1/wilayah/98")).status_code == 404


async def test_list_filters_and_pages(client: httpx.AsyncClient, session: AsyncSession) -> None:
    await load_demo_regions(session)
    first = (await client.get("/v1/wilayah", params={"parent": "99.01.01", "limit": 3})).json()
    assert [r["code"] for r in first["items"]] == ["99.01.01.2001", "99.01.01.2002", "99.01.01.2003"]
    rest = (await client.get("/v1/wilayah", params={"parent": "99.01.01", "cursor": first["next_cursor"]})).json()
    assert [r["code"] for r in rest["items"]] == ["99.01.01.2004", "99.01.01.2005"]
    assert rest["next_cursor"] is None
    kecamatan = (await client.get("/v1/wilayah", params={"level": "kecamatan", "q": "demo 7101"})).json()
    assert [r["code"] for r in kecamatan["items"]] == ["99.71.01"]
    assert (await client.get("/v1/wilayah", params={"level": "dusun"})).status_code == 422


async def test_reads_can_require_a_key(client: httpx.AsyncClient, session: AsyncSession, settings: Settings) -> None:
    await load_demo_regions(session)
    app = client._transport.app  # type: ignore[attr-defined]
    app.state.settings = settings.model_copy(update={"public_reads": False})
    assert (await client.get("/v1/wilayah/99")).status_code == 401
    key = await make_key(session, Role.VIEWER, "99")
    assert (await client.get("/v1/wilayah/99", headers=auth(key))).status_code == 200


@pytest.mark.slow
@pytest.mark.skipif(not WILAYAH_CSV.exists(), reason="../shared/data/wilayah.csv is not beside the project")
async def test_full_national_list(client: httpx.AsyncClient, session: AsyncSession) -> None:
    key = await make_key(session)
    response = await _import(client, key, WILAYAH_CSV.read_bytes())
    assert response.status_code == 200, response.text[:500]
    assert response.json()["rows"] == 91_599
    nation = {
        code: (await client.get(f"/v1/wilayah/{code}")).json()["counts"] for code in ("36", "36.71", "36.74", "63.01")
    }
    assert nation["36.71"]["kecamatan"] == 13 and nation["36.71"]["kelurahan"] == 104
    assert nation["36.74"]["kecamatan"] == 7
    assert nation["36"]["kecamatan"] == 155 and nation["36"]["desa"] + nation["36"]["kelurahan"] == 1552
    assert nation["63.01"]["desa"] == 130 and nation["63.01"]["kelurahan"] == 5
    totals = await session.execute(text("SELECT level, count(*) FROM wilayah GROUP BY level"))
    assert dict(totals.all()) == {"provinsi": 38, "kabupaten": 514, "kecamatan": 7285, "desa": 83762}
