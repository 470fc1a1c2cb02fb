"""Activities: validation of dates and codes, listing by date range with pagination, replays by Idempotency-Key,
answers in short under `Prefer: return=minimal`."""

import datetime as dt

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from registry_api.auth.service import Role
from tests.factories import (
    DEMO_KELURAHAN,
    auth,
    kependudukan_payload,
    kkbpk_payload,
    make_kampung,
    make_kegiatan,
    make_key,
    profil_payload,
    put_module,
    today,
)
from tests.registry_api.conftest import watch_explanations


async def test_create_activity(client: httpx.AsyncClient, admin: str, kampung_id: int) -> None:
    response = await make_kegiatan(
        client, admin, kampung_id, "2024-02-10", ["DINAS_KESEHATAN", "LAINNYA"], inpres_kegiatan="POSYANDU_AKTIF"
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["date"], body["function"], body["inpres_kegiatan"]) == ("2024-02-10", "REPRODUKSI", "POSYANDU_AKTIF")
    assert body["partners"] == ["DINAS_KESEHATAN", "LAINNYA"]
    assert body["created_by"].startswith("principal:")
    assert response.headers["Location"] == f"/v1/kampung/{kampung_id}/kegiatan/{body['id']}"
    found = await client.get(response.headers["Location"], headers=auth(admin))
    assert found.status_code == 200, found.text
    assert found.json() == {key: value for key, value in body.items() if key != "classification"}
    other = await make_kampung(client, admin, desa_code=DEMO_KELURAHAN)
    elsewhere = await client.get(f"/v1/kampung/{other['id']}/kegiatan/{body['id']}", headers=auth(admin))
    assert elsewhere.status_code == 404 and elsewhere.json()["type"] == "/problems/not-found"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("date", (today() + dt.timedelta(days=1)).isoformat()),
        ("date", "2015-12-31"),
        ("function", "OLAHRAGA"),
        ("targets", ["PUS", "ALIENS"]),
        ("partners", ["DINAS_KESEHATAN", "DINAS_KESEHATAN"]),
        ("inpres_kegiatan", "NOT_A_KEGIATAN"),
        ("title", ""),
    ],
    ids=["future", "before-2016", "function", "target", "duplicate-partner", "inpres", "empty-title"],
)
async def test_invalid_activity_names_the_field(
    client: httpx.AsyncClient, admin: str, kampung_id: int, field: str, value: object
) -> None:
    body = {
        "title": "Posyandu",
        "date": "2024-02-10",
        "function": "REPRODUKSI",
        "partners": ["PUSKESMAS"],
        field: value,
    }
    response = await client.post(f"/v1/kampung/{kampung_id}/kegiatan", json=body, headers=auth(admin))
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"][:2] == ["body", field]


async def test_list_by_date_range_and_pages(client: httpx.AsyncClient, admin: str, kampung_id: int) -> None:
    for day in ("2024-01-05", "2024-02-01", "2024-02-20", "2024-02-20", "2024-03-31"):
        assert (await make_kegiatan(client, admin, kampung_id, day, ["PUSKESMAS"])).status_code == 201
    url = f"/v1/kampung/{kampung_id}/kegiatan"
    february = await client.get(url, params={"from": "2024-02-01", "to": "2024-02-29"}, headers=auth(admin))
    assert [k["date"] for k in february.json()["items"]] == ["2024-02-01", "2024-02-20", "2024-02-20"]
    seen: list[int] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(url, params=params, headers=auth(admin))).json()
        seen += [k["id"] for k in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 5
    assert (await client.get("/v1/kampung/999999/kegiatan", headers=auth(admin))).status_code == 404


async def _post(
    client: httpx.AsyncClient, key: str, kampung_id: int, body: dict[str, object], idem: str
) -> httpx.Response:
    headers = {**auth(key), "Idempotency-Key": idem}
    return await client.post(f"/v1/kampung/{kampung_id}/kegiatan", json=body, headers=headers)


async def _count(client: httpx.AsyncClient, key: str, kampung_id: int) -> int:
    listed = await client.get(f"/v1/kampung/{kampung_id}/kegiatan", headers=auth(key))
    assert listed.status_code == 200, listed.text
    return len(listed.json()["items"])


async def test_a_replay_with_its_idempotency_key_answers_the_stored_activity(
    client: httpx.AsyncClient, admin: str, kampung_id: int
) -> None:
    body: dict[str, object] = {"title": "Penyuluhan KB", "date": "2024-02-10", "function": "REPRODUKSI"}
    first = await _post(client, admin, kampung_id, body, "a1b2")
    assert first.status_code == 201, first.text
    replay = await _post(client, admin, kampung_id, body, "a1b2")
    assert replay.status_code == 200, replay.text
    assert replay.json()["id"] == first.json()["id"]
    assert replay.headers["Location"] == first.headers["Location"]
    assert replay.json()["classification"] == first.json()["classification"]
    assert await _count(client, admin, kampung_id) == 1

    other = await _post(client, admin, kampung_id, {**body, "title": "Rapat Pokja"}, "a1b2")
    assert other.status_code == 422
    assert other.json()["errors"][0]["loc"] == ["header", "Idempotency-Key"]
    assert await _count(client, admin, kampung_id) == 1

    fresh = await _post(client, admin, kampung_id, body, "c3d4")
    assert fresh.status_code == 201
    assert fresh.json()["id"] != first.json()["id"]
    assert await _count(client, admin, kampung_id) == 2


async def test_idempotency_keys_belong_to_their_principal(
    client: httpx.AsyncClient, session: AsyncSession, admin: str, kampung_id: int
) -> None:
    body: dict[str, object] = {"title": "Penyuluhan KB", "date": "2024-02-10", "function": "REPRODUKSI"}
    other_key = await make_key(session, Role.OPERATOR, f"kampung:{kampung_id}")
    assert (await _post(client, admin, kampung_id, body, "same")).status_code == 201
    assert (await _post(client, other_key, kampung_id, body, "same")).status_code == 201
    assert await _count(client, admin, kampung_id) == 2


async def test_prefer_return_minimal_answers_a_classification_summary(
    client: httpx.AsyncClient, admin: str, kampung_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As a module's PUT: the activity as stored, its month's classification in short, no explanation derived."""
    for module, payload in (
        ("profil", profil_payload()),
        ("kependudukan", kependudukan_payload()),
        ("kkbpk", kkbpk_payload()),
    ):
        assert (await put_module(client, admin, kampung_id, module, "2024-02", payload)).status_code == 201
    explained = watch_explanations(client, monkeypatch)
    body: dict[str, object] = {"title": "Penyuluhan KB", "date": "2024-02-10", "function": "REPRODUKSI"}
    minimal = {**auth(admin), "Idempotency-Key": "e5f6", "Prefer": "return=minimal"}
    short = await client.post(f"/v1/kampung/{kampung_id}/kegiatan", json=body, headers=minimal)
    assert short.status_code == 201, short.text
    assert short.headers["Preference-Applied"] == "return=minimal"
    assert short.headers["Location"] == f"/v1/kampung/{kampung_id}/kegiatan/{short.json()['id']}"
    summary = short.json()["classification"]
    assert set(summary) == {"status", "ruleset", "period", "tier", "indices", "passed"}
    assert summary["period"] == "2024-02" and summary["tier"] != "belum_terklasifikasi"
    stored = await client.get(short.headers["Location"], headers=auth(admin))
    assert {key: value for key, value in short.json().items() if key != "classification"} == stored.json()
    replay = await client.post(f"/v1/kampung/{kampung_id}/kegiatan", json=body, headers=minimal)
    assert replay.status_code == 200 and replay.headers["Preference-Applied"] == "return=minimal"
    assert replay.json() == short.json()
    assert explained == []

    full = await make_kegiatan(client, admin, kampung_id, "2024-02-11", ["PUSKESMAS"])
    assert full.status_code == 201 and "Preference-Applied" not in full.headers
    assert {"snapshot", "scores", "raw"} <= set(full.json()["classification"])
    assert len(short.content) < len(full.content) // 2
    schema = (await client.get("/openapi.json")).json()
    create = schema["paths"]["/v1/kampung/{kampung_id}/kegiatan"]["post"]
    assert "Prefer" in {parameter["name"] for parameter in create["parameters"]}
