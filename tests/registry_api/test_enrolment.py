"""Phone enrolment: an officer's one-time code (and its QR image) gives one phone a device key for one Kampung KB;
a second use, or a late one, is 410, but for the same phone retrying a lost answer soon after; the code is stored
only as a hash."""

import asyncio
import datetime as dt
import logging
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from registry_api.auth.service import Role
from registry_api.main import create_app
from registry_api.settings import Settings
from tests.factories import (
    DEMO_KELURAHAN,
    auth,
    kependudukan_payload,
    load_demo_regions,
    make_kampung,
    make_key,
    put_module,
)
from tests.registry_api.conftest import registry_settings


def _own_count(database_url: str, redis_url: str, classifier_url: str, **fields: object) -> Settings:
    """The registry's settings with a count of requests of its own: `POST /v1/enrol` takes 30 a minute from one
    address, and these tests post it more often than the other tests of the run together."""
    return registry_settings(
        database_url, redis_url, classifier_url, rate_limit_prefix=f"test-{uuid.uuid4().hex}", **fields
    )


@pytest.fixture
def settings(database_url: str, redis_url: str, classifier_url: str) -> Settings:
    return _own_count(database_url, redis_url, classifier_url)


@pytest.fixture
async def live_client(fresh_database_url: str, redis_url: str, classifier_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """As `conftest.live_client`, with a count of requests of its own."""
    app = create_app(_own_count(fresh_database_url, redis_url, classifier_url, db_pool_size=20))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://registry.test", timeout=30) as http:
            yield http


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


async def _code(client: httpx.AsyncClient, key: str, kampung_id: int) -> str:
    created = await client.post("/v1/enrolments", json={"kampung_id": kampung_id, "name": "HP"}, headers=auth(key))
    assert created.status_code == 201, created.text
    return str(created.json()["code"])


async def _enrol(client: httpx.AsyncClient, code: str, device_name: str = "Samsung A05") -> httpx.Response:
    return await client.post("/v1/enrol", json={"code": code, "device_name": device_name})


async def _live_keys(session: AsyncSession) -> list[str]:
    """The prefixes of the device keys in force."""
    rows = await session.execute(
        text("""SELECT k.prefix FROM api_key k JOIN principal p ON p.id = k.principal_id
                 WHERE p.kind = 'device' AND k.revoked_at IS NULL""")
    )
    return [row.prefix for row in rows]


async def test_a_lost_answer_is_asked_again_for_a_new_key(
    client: httpx.AsyncClient, session: AsyncSession, admin: str, kampung_id: int
) -> None:
    """The phone used the code but never got the answer: the same phone asking again soon after gets a new key of
    the same device, and the key it never received stops working."""
    code = await _code(client, admin, kampung_id)
    first = await _enrol(client, code)
    assert first.status_code == 200, first.text
    again = await _enrol(client, code)
    assert again.status_code == 200, again.text
    assert again.headers["cache-control"] == "no-store"
    assert again.json()["kampung_id"] == kampung_id and again.json()["key"] != first.json()["key"]
    assert await _live_keys(session) == [again.json()["key"].split("_")[1]]
    assert (await client.get("/v1/me", headers=auth(first.json()["key"]))).status_code == 401
    third = await _enrol(client, code)  # the second answer lost too
    assert third.status_code == 200, third.text
    assert (await client.get("/v1/me", headers=auth(again.json()["key"]))).status_code == 401
    me = await client.get("/v1/me", headers=auth(third.json()["key"]))
    assert me.status_code == 200 and me.json()["scope"] == f"kampung:{kampung_id}"
    devices = await session.scalar(text("SELECT count(*) FROM principal WHERE kind = 'device'"))
    assert devices == 1  # one phone, one principal: what it wrote stays its own
    # The third answer arrived: the phone used its key. The code is spent now.
    used = await _enrol(client, code)
    assert used.status_code == 410 and used.json()["type"] == "/problems/gone", used.text
    assert (await client.get("/v1/me", headers=auth(third.json()["key"]))).status_code == 200


async def test_a_retry_from_another_phone_or_too_late_is_gone(
    client: httpx.AsyncClient, session: AsyncSession, admin: str, kampung_id: int
) -> None:
    code = await _code(client, admin, kampung_id)
    first = await _enrol(client, code)
    assert first.status_code == 200, first.text
    other = await _enrol(client, code, device_name="another phone")
    assert other.status_code == 410 and "used already" in other.json()["detail"]
    await session.execute(text("UPDATE enrolment SET used_at = now() - interval '121 seconds'"))
    late = await _enrol(client, code)
    assert late.status_code == 410 and "used already" in late.json()["detail"]
    assert await _live_keys(session) == [first.json()["key"].split("_")[1]]


async def test_a_key_revoked_by_the_officer_is_not_given_again(
    client: httpx.AsyncClient, session: AsyncSession, admin: str, kampung_id: int
) -> None:
    code = await _code(client, admin, kampung_id)
    first = await _enrol(client, code)
    prefix = first.json()["key"].split("_")[1]
    assert (await client.delete(f"/v1/keys/{prefix}", headers=auth(admin))).status_code == 204
    retried = await _enrol(client, code)
    assert retried.status_code == 410, retried.text
    assert await _live_keys(session) == []


async def test_retries_at_once_leave_one_key_in_force(
    live_client: httpx.AsyncClient, committed_session: AsyncSession
) -> None:
    """The first use and its retries, all at once (a phone on a link that drops): each answered, one key working."""
    await load_demo_regions(committed_session)
    admin = await make_key(committed_session)
    kampung_id = (await make_kampung(live_client, admin))["id"]
    code = await _code(live_client, admin, kampung_id)
    answers = await asyncio.gather(*(_enrol(live_client, code) for _ in range(6)))
    assert [answer.status_code for answer in answers] == [200] * 6, [answer.text for answer in answers]
    live = await _live_keys(committed_session)
    assert len(live) == 1
    working = [
        answer.json()["key"]
        for answer in answers
        if (await live_client.get("/v1/me", headers=auth(answer.json()["key"]))).status_code == 200
    ]
    assert [key.split("_")[1] for key in working] == live
