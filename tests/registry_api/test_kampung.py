import datetime as dt

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from registry_api.auth.service import Role
from tests.factories import DEMO_DESA, DEMO_KELURAHAN, auth, make_kampung, make_key, today


async def test_create_and_get_with_region_codes_and_etag(client: httpx.AsyncClient, admin: str) -> None:
    created = await make_kampung(client, admin, lat=-6.2, lon=106.8, formation_criteria=["WILAYAH_KHUSUS"])
    assert created["kecamatan_code"] == "99.01.01"
    assert created["kabupaten_code"] == "99.01"
    assert created["provinsi_code"] == "99"
    assert created["tier"] is None
    response = await client.get(f"/v1/kampung/{created['id']}", headers=auth(admin))
    assert response.status_code == 200
    assert response.headers["ETag"] == '"v1"'
    assert response.json()["formation_criteria"] == ["WILAYAH_KHUSUS"]


async def test_one_active_kampung_per_desa(client: httpx.AsyncClient, admin: str) -> None:
    first = await make_kampung(client, admin)
    again = await client.post(
        "/v1/kampung", json={"name": "Dua", "desa_code": DEMO_DESA, "formed_on": "2021-01-01"}, headers=auth(admin)
    )
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert again.json()["id"] == first["id"]
    assert again.headers["Location"] == f"/v1/kampung/{first['id']}"
    await client.patch(f"/v1/kampung/{first['id']}", json={"active": False}, headers=auth(admin))
    await make_kampung(client, admin)


@pytest.mark.parametrize("desa_code", ["99.01.01", "99.01.01.2999"], ids=["a-kecamatan", "unknown"])
async def test_desa_code_must_be_a_desa_or_kelurahan(client: httpx.AsyncClient, admin: str, desa_code: str) -> None:
    body = {"name": "X", "desa_code": desa_code, "formed_on": "2020-01-01"}
    response = await client.post("/v1/kampung", json=body, headers=auth(admin))
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"][-1] == "desa_code"


@pytest.mark.parametrize(
    "formed_on", ["2015-12-31", (today() + dt.timedelta(days=1)).isoformat()], ids=["before-2016", "future"]
)
async def test_formed_on_within_the_programme(client: httpx.AsyncClient, admin: str, formed_on: str) -> None:
    body = {"name": "X", "desa_code": DEMO_DESA, "formed_on": formed_on}
    response = await client.post("/v1/kampung", json=body, headers=auth(admin))
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "formed_on"]
    ok = await client.post("/v1/kampung", json={**body, "formed_on": "2016-01-01"}, headers=auth(admin))
    assert ok.status_code == 201


async def test_patch_honours_if_match(client: httpx.AsyncClient, admin: str) -> None:
    kampung = await make_kampung(client, admin)
    url = f"/v1/kampung/{kampung['id']}"
    first = await client.patch(url, json={"name": "Baru"}, headers={**auth(admin), "If-Match": '"v1"'})
    assert first.status_code == 200
    assert first.headers["ETag"] == '"v2"'
    stale = await client.patch(url, json={"name": "Lama"}, headers={**auth(admin), "If-Match": '"v1"'})
    assert stale.status_code == 412
    current = await client.get(url, headers=auth(admin))
    assert current.json()["name"] == "Baru"
    # The 412 carries what a client merges with: the current tag and profile, as GET answers them.
    assert stale.headers["ETag"] == current.headers["ETag"] == '"v2"'
    assert stale.json()["current"] == current.json()
    retried = await client.patch(url, json={"name": "Lama"}, headers={**auth(admin), "If-Match": stale.headers["ETag"]})
    assert retried.status_code == 200 and retried.json()["name"] == "Lama"


async def test_patch_rejects_null_for_required_fields(client: httpx.AsyncClient, admin: str) -> None:
    kampung = await make_kampung(client, admin)
    response = await client.patch(f"/v1/kampung/{kampung['id']}", json={"name": None}, headers=auth(admin))
    assert response.status_code == 422


async def test_percontohan_one_per_kabupaten_and_provinsi(client: httpx.AsyncClient, admin: str) -> None:
    first = await make_kampung(client, admin, DEMO_DESA)
    second = await make_kampung(client, admin, "99.01.02.2001")
    in_kota = await make_kampung(client, admin, DEMO_KELURAHAN)

    def put(k: dict[str, object], level: str):  # type: ignore[no-untyped-def]
        return client.put(f"/v1/kampung/{k['id']}/percontohan", json={"level": level}, headers=auth(admin))

    assert (await put(first, "kabupaten")).status_code == 200
    assert (await put(second, "kabupaten")).status_code == 409
    assert (await put(in_kota, "kabupaten")).status_code == 200
    assert (await put(second, "provinsi")).status_code == 200
    assert (await put(in_kota, "provinsi")).status_code == 409
    cancel = await client.delete(f"/v1/kampung/{second['id']}/percontohan/provinsi", headers=auth(admin))
    assert cancel.json()["percontohan_provinsi"] is False
    assert (await put(in_kota, "provinsi")).status_code == 200
    listed = (await client.get("/v1/kampung", params={"percontohan": "true"}, headers=auth(admin))).json()
    assert {k["id"] for k in listed["items"]} == {first["id"], in_kota["id"]}


async def test_list_under_a_region_with_cursor(client: httpx.AsyncClient, admin: str) -> None:
    ids = [(await make_kampung(client, admin, f"99.01.01.200{n}"))["id"] for n in range(1, 5)]
    await make_kampung(client, admin, DEMO_KELURAHAN)
    page = (await client.get("/v1/kampung", params={"wilayah": "99.01", "limit": 3}, headers=auth(admin))).json()
    assert [k["id"] for k in page["items"]] == ids[:3]
    rest = (
        await client.get("/v1/kampung", params={"wilayah": "99.01", "cursor": page["next_cursor"]}, headers=auth(admin))
    ).json()
    assert [k["id"] for k in rest["items"]] == ids[3:]
    everything = (await client.get("/v1/kampung", params={"wilayah": "99"}, headers=auth(admin))).json()
    assert len(everything["items"]) == 5
    desa = (await client.get("/v1/kampung", params={"wilayah": "99.01.01.2001"}, headers=auth(admin))).json()
    assert [k["id"] for k in desa["items"]] == ids[:1]


async def test_list_updated_since(client: httpx.AsyncClient, admin: str) -> None:
    old = await make_kampung(client, admin)
    fresh = await make_kampung(client, admin, "99.01.01.2002")
    since = (await client.get(f"/v1/kampung/{fresh['id']}", headers=auth(admin))).json()["updated_at"]
    # inside one test transaction now() is constant, so "changed since" is what a later PATCH makes later
    listed = (await client.get("/v1/kampung", params={"updated_since": since}, headers=auth(admin))).json()
    assert listed["items"] == []
    earlier = (dt.datetime.fromisoformat(since) - dt.timedelta(seconds=1)).isoformat()
    listed = (await client.get("/v1/kampung", params={"updated_since": earlier}, headers=auth(admin))).json()
    assert {k["id"] for k in listed["items"]} == {old["id"], fresh["id"]}


@pytest.mark.parametrize(
    ("path", "since", "answered"),
    [
        ("/v1/kampung", "0001-01-01T00:00:00+14:00", 422),  # year 0 in UTC
        ("/v1/kampung", "9999-12-31T23:59:59-14:00", 422),  # year 10000 in UTC
        ("/v1/kampung/{id}/submissions", "0001-01-01T00:00:00+14:00", 422),
        ("/v1/kampung", "0001-01-01T00:00:00", 200),  # without an offset: UTC, the earliest there is
        ("/v1/kampung/{id}/submissions", "9999-12-31T23:59:59+00:00", 200),
    ],
)
async def test_updated_since_is_an_instant_in_utc_range(
    client: httpx.AsyncClient, admin: str, kampung_id: int, path: str, since: str, answered: int
) -> None:
    response = await client.get(path.format(id=kampung_id), params={"updated_since": since}, headers=auth(admin))
    assert response.status_code == answered, response.text
    if answered == 422:
        assert response.json()["errors"][0]["loc"] == ["query", "updated_since"]


async def test_writes_need_a_key_in_scope(client: httpx.AsyncClient, admin: str, session: AsyncSession) -> None:
    body = {"name": "X", "desa_code": DEMO_DESA, "formed_on": "2020-01-01"}
    assert (await client.post("/v1/kampung", json=body)).status_code == 401
    assert (await client.post("/v1/kampung", json=body, headers=auth("kkb_nope_nope"))).status_code == 401
    other = await make_key(session, Role.KABUPATEN, "99.71")
    assert (await client.post("/v1/kampung", json=body, headers=auth(other))).status_code == 403
    viewer = await make_key(session, Role.VIEWER, "99")
    assert (await client.post("/v1/kampung", json=body, headers=auth(viewer))).status_code == 403
    own = await make_key(session, Role.KABUPATEN, "99.01")
    created = await client.post("/v1/kampung", json=body, headers={"X-API-Key": own})
    assert created.status_code == 201
    patched = await client.patch(f"/v1/kampung/{created.json()['id']}", json={"name": "Y"}, headers=auth(other))
    assert patched.status_code == 403
