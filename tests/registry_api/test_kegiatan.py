"""Activities: validation of dates and codes, listing by date range with pagination."""

import datetime as dt

import httpx
import pytest

from tests.factories import auth, make_kegiatan, today


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
