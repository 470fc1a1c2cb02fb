"""Phone enrolment: an officer's one-time code (and its QR image) gives one phone a device key for one Kampung KB;
a second use, or a late one, is 410; the code is stored only as a hash."""

import datetime as dt
import logging

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from registry_api.auth.service import Role
from tests.factories import DEMO_KELURAHAN, auth, kependudukan_payload, make_kampung, make_key, put_module


async def test_a_phone_enrols_once_and_writes_only_its_kampung(
    client: httpx.AsyncClient, session: AsyncSession, admin: str, kampung_id: int
) -> None:
    other = (await make_kampung(client, admin, DEMO_KELURAHAN))["id"]
    officer = await make_key(session, Role.KECAMATAN, "99.01.01")
    created = await client.post(
        "/v1/enrolments", json={"kampung_id": kampung_id, "name": "HP Bu Sri"}, headers=auth(officer)
    )
    assert created.status_code == 201, created.text
    code = created.json()["code"]
    assert created.json()["qr_svg_url"] == f"/v1/enrolments/{code}/qr.svg"

    qr = await client.get(created.json()["qr_svg_url"])
    assert qr.status_code == 200 and qr.headers["content-type"] == "image/svg+xml"
    assert b"<svg" in qr.content and b"<path" in qr.content

    stored = (await session.execute(text("SELECT * FROM enrolment"))).one()._mapping
    assert code not in {str(value) for value in stored.values()}

    enrolled = await client.post("/v1/enrol", json={"code": code, "device_name": "Samsung A05"})
    assert enrolled.status_code == 200, enrolled.text
    device = enrolled.json()["key"]
    me = (await client.get("/v1/me", headers=auth(device))).json()
    assert (me["kind"], me["name"], me["role"], me["scope"]) == (
        "device",
        "Samsung A05",
        "operator",
        f"kampung:{kampung_id}",
    )
    assert me["expires_at"] is not None
    assert (
        await put_module(client, device, kampung_id, "kependudukan", "2024-01", kependudukan_payload())
    ).status_code == 201
    assert (
        await put_module(client, device, other, "kependudukan", "2024-01", kependudukan_payload())
    ).status_code == 403
    assert (await client.get(f"/v1/kampung/{other}", headers=auth(device))).status_code == 404

    again = await client.post("/v1/enrol", json={"code": code, "device_name": "another phone"})
    assert again.status_code == 410 and again.headers["content-type"] == "application/problem+json"
    assert (await client.get(created.json()["qr_svg_url"])).status_code == 410
    unknown = await client.post("/v1/enrol", json={"code": "not-a-code", "device_name": "x"})
    assert unknown.status_code == 404


async def test_a_late_code_is_gone(
    client: httpx.AsyncClient, session: AsyncSession, admin: str, kampung_id: int
) -> None:
    created = await client.post("/v1/enrolments", json={"kampung_id": kampung_id, "name": "HP"}, headers=auth(admin))
    valid_for = dt.datetime.fromisoformat(created.json()["expires_at"]) - dt.datetime.now(dt.UTC)
    assert dt.timedelta(hours=23) < valid_for <= dt.timedelta(hours=24)
    await session.execute(text("UPDATE enrolment SET expires_at = now() - interval '1 second'"))
    await session.commit()
    late = await client.post("/v1/enrol", json={"code": created.json()["code"], "device_name": "x"})
    assert late.status_code == 410 and "expired" in late.json()["detail"]


async def test_only_officers_in_scope_enrol(
    client: httpx.AsyncClient, session: AsyncSession, admin: str, kampung_id: int
) -> None:
    body = {"kampung_id": kampung_id, "name": "HP"}
    operator = await make_key(session, Role.OPERATOR, f"kampung:{kampung_id}")
    assert (await client.post("/v1/enrolments", json=body, headers=auth(operator))).status_code == 403
    elsewhere = await make_key(session, Role.KABUPATEN, "99.71")
    assert (await client.post("/v1/enrolments", json=body, headers=auth(elsewhere))).status_code == 404
    assert (await client.post("/v1/enrolments", json=body)).status_code == 401
    kabupaten = await make_key(session, Role.KABUPATEN, "99.01")
    assert (await client.post("/v1/enrolments", json=body, headers=auth(kabupaten))).status_code == 201


async def test_the_access_log_holds_no_code(
    client: httpx.AsyncClient, session: AsyncSession, kampung_id: int, caplog: pytest.LogCaptureFixture
) -> None:
    """The QR image's path holds the code, which redeems a device key for a day: logged by its route's template."""
    officer = await make_key(session, Role.KECAMATAN, "99.01.01")
    with caplog.at_level(logging.INFO, logger="registry_api.access"):
        created = await client.post(
            "/v1/enrolments", json={"kampung_id": kampung_id, "name": "HP"}, headers=auth(officer)
        )
        code = created.json()["code"]
        assert (await client.get(created.json()["qr_svg_url"])).status_code == 200
    logged = [
        (record.method, record.path, record.status) for record in caplog.records if record.name == "registry_api.access"
    ]
    assert logged == [("POST", "/v1/enrolments", 201), ("GET", "/v1/enrolments/{code}/qr.svg", 200)]
    assert all(code not in record.getMessage() and code not in str(record.__dict__) for record in caplog.records)
