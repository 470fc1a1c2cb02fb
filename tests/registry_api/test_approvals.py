"""Approved months through the API: who approves and reopens, whose writes are refused, the history kept, and months
that close by themselves."""

from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry_api.auth.service import Role
from tests.factories import DEMO_DESA, auth, kependudukan_payload, make_kegiatan, make_key, put_module
from tests.registry_api.conftest import app_client, registry_settings

KECAMATAN = DEMO_DESA[:8]  # 99.01.01
KABUPATEN = DEMO_DESA[:5]  # 99.01
PERIOD = "2024-01"


async def _put(client: httpx.AsyncClient, key: str, kampung_id: int, pus: int) -> httpx.Response:
    return await put_module(client, key, kampung_id, "kependudukan", PERIOD, kependudukan_payload(pus=pus))


async def _status(client: httpx.AsyncClient, code: str) -> dict[str, Any]:
    response = await client.get(f"/v1/approvals/{code}", params={"period": PERIOD})
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_an_approved_month_refuses_operators_until_reopened(
    client: httpx.AsyncClient, session: AsyncSession, admin: str, kampung_id: int
) -> None:
    operator = await make_key(session, Role.OPERATOR, f"kampung:{kampung_id}")
    integration = await make_key(session, Role.INTEGRATION, "99")
    kecamatan = await make_key(session, Role.KECAMATAN, KECAMATAN)
    assert (await _put(client, operator, kampung_id, 100)).status_code == 201

    assert (await client.put(f"/v1/approvals/{KECAMATAN}/{PERIOD}", headers=auth(operator))).status_code == 403
    approved = await client.put(f"/v1/approvals/{KECAMATAN}/{PERIOD}", headers=auth(kecamatan))
    assert approved.status_code == 200, approved.text
    assert approved.json()["state"] == "approved" and approved.json()["approved_in"] == KECAMATAN
    again = await client.put(f"/v1/approvals/{KECAMATAN}/{PERIOD}", headers=auth(kecamatan))
    assert len(again.json()["history"]) == 1  # approving an approved month records nothing

    for key in (operator, integration):
        refused = await _put(client, key, kampung_id, 110)
        assert refused.status_code == 409, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["type"] == "/problems/period-approved"
        assert refused.json()["approved_in"] == KECAMATAN
    # The month before and after stay open.
    other = await put_module(client, operator, kampung_id, "kependudukan", "2024-02", kependudukan_payload())
    assert other.status_code == 201, other.text
    # The approver corrects; so does anyone above.
    assert (await _put(client, kecamatan, kampung_id, 120)).status_code == 200
    assert (await _put(client, admin, kampung_id, 130)).status_code == 200
    stored = await client.get(f"/v1/kampung/{kampung_id}/kependudukan/{PERIOD}", headers=auth(admin))
    assert stored.json()["payload"]["pus"] == 130

    listed = await _status(client, KABUPATEN)
    assert listed["state"] == "open"
    by_child = {child["code"]: child["state"] for child in listed["children"]}
    assert by_child[KECAMATAN] == "approved" and by_child["99.01.02"] == "open"

    assert (await client.delete(f"/v1/approvals/{KECAMATAN}/{PERIOD}", headers=auth(operator))).status_code == 403
    reopened = await client.delete(f"/v1/approvals/{KECAMATAN}/{PERIOD}", headers=auth(kecamatan))
    assert reopened.status_code == 200, reopened.text
    assert reopened.json()["state"] == "open"
    assert [event["action"] for event in reopened.json()["history"]] == ["approved", "reopened"]
    assert {event["role"] for event in reopened.json()["history"]} == {"kecamatan"}
    assert (await _put(client, operator, kampung_id, 140)).status_code == 200


async def test_an_approved_month_refuses_operators_activities_dated_in_it(
    client: httpx.AsyncClient, session: AsyncSession, kampung_id: int
) -> None:
    """An activity counts its partners from its month on, so recording one writes into that month."""
    operator = await make_key(session, Role.OPERATOR, f"kampung:{kampung_id}")
    kecamatan = await make_key(session, Role.KECAMATAN, KECAMATAN)
    recorded = {"title": "Rapat Pokja", "date": f"{PERIOD}-05", "function": "REPRODUKSI", "partners": ["PUSKESMAS"]}
    replayed = {**auth(operator), "Idempotency-Key": "kegiatan-before-approval"}
    before = await client.post(f"/v1/kampung/{kampung_id}/kegiatan", json=recorded, headers=replayed)
    assert before.status_code == 201, before.text
    assert (await client.put(f"/v1/approvals/{KECAMATAN}/{PERIOD}", headers=auth(kecamatan))).status_code == 200

    refused = await make_kegiatan(client, operator, kampung_id, f"{PERIOD}-20", ["BPS"])
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert (refused.json()["type"], refused.json()["approved_in"]) == ("/problems/period-approved", KECAMATAN)
    # A retry of the activity recorded before the approval still gets its answer, and records nothing.
    again = await client.post(f"/v1/kampung/{kampung_id}/kegiatan", json=recorded, headers=replayed)
    assert (again.status_code, again.json()["id"]) == (200, before.json()["id"]), again.text
    assert (await make_kegiatan(client, operator, kampung_id, "2024-02-03", ["BPS"])).status_code == 201
    assert (await make_kegiatan(client, kecamatan, kampung_id, f"{PERIOD}-20", ["BPS"])).status_code == 201
    listed = await client.get(f"/v1/kampung/{kampung_id}/kegiatan", headers=auth(kecamatan))
    assert [item["date"] for item in listed.json()["items"]] == [f"{PERIOD}-05", f"{PERIOD}-20", "2024-02-03"]


async def test_only_the_approver_or_a_higher_officer_reopens(
    client: httpx.AsyncClient, session: AsyncSession, admin: str, kampung_id: int
) -> None:
    operator = await make_key(session, Role.OPERATOR, f"kampung:{kampung_id}")
    kecamatan = await make_key(session, Role.KECAMATAN, KECAMATAN)
    colleague = await make_key(session, Role.KECAMATAN, KECAMATAN)
    kabupaten = await make_key(session, Role.KABUPATEN, KABUPATEN)
    other_kabupaten = await make_key(session, Role.KABUPATEN, "99.71")

    assert (await client.put(f"/v1/approvals/{KABUPATEN}/{PERIOD}", headers=auth(kecamatan))).status_code == 403
    assert (await client.put(f"/v1/approvals/{KABUPATEN}/{PERIOD}", headers=auth(other_kabupaten))).status_code == 403
    approved = await client.put(f"/v1/approvals/{KABUPATEN}/{PERIOD}", headers=auth(kabupaten))
    assert approved.status_code == 200, approved.text
    # Below a kabupaten's approval, a kecamatan officer is an operator: no write, no reopening.
    assert (await _put(client, kecamatan, kampung_id, 100)).status_code == 409
    assert (await _put(client, operator, kampung_id, 100)).status_code == 409
    assert (await client.delete(f"/v1/approvals/{KABUPATEN}/{PERIOD}", headers=auth(kecamatan))).status_code == 403
    held = await client.delete(f"/v1/approvals/{KECAMATAN}/{PERIOD}", headers=auth(kecamatan))
    assert held.status_code == 409 and held.json()["approved_in"] == KABUPATEN
    assert (await _status(client, KECAMATAN))["state"] == "approved"
    assert (await client.delete(f"/v1/approvals/{KABUPATEN}/{PERIOD}", headers=auth(kabupaten))).status_code == 200

    assert (await client.put(f"/v1/approvals/{KECAMATAN}/{PERIOD}", headers=auth(kecamatan))).status_code == 200
    refused = await client.delete(f"/v1/approvals/{KECAMATAN}/{PERIOD}", headers=auth(colleague))
    assert refused.status_code == 403, refused.text
    assert (await client.delete(f"/v1/approvals/{KECAMATAN}/{PERIOD}", headers=auth(kabupaten))).status_code == 200
    assert (await _put(client, operator, kampung_id, 100)).status_code == 201


async def test_bad_requests_name_the_field(client: httpx.AsyncClient, session: AsyncSession, admin: str) -> None:
    for code, period, loc in (
        ("99", PERIOD, ["path", "code"]),
        (DEMO_DESA, PERIOD, ["path", "code"]),
        (KECAMATAN, "2024-13", ["path", "period"]),
        (KECAMATAN, "2015-12", ["path", "period"]),
        (KECAMATAN, "2999-01", ["path", "period"]),
    ):
        response = await client.put(f"/v1/approvals/{code}/{period}", headers=auth(admin))
        assert response.status_code == 422, (code, period, response.text)
        assert response.json()["errors"][0]["loc"] == loc
    assert (await client.put(f"/v1/approvals/99.01.99/{PERIOD}", headers=auth(admin))).status_code == 404
    assert (await client.get("/v1/approvals/99.01.99", params={"period": PERIOD})).status_code == 404
    missing = await client.get(f"/v1/approvals/{KECAMATAN}")
    assert missing.status_code == 422 and missing.json()["errors"][0]["loc"] == ["query", "period"]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE period_approval SET actor = 'someone else'",
        "DELETE FROM period_approval",
        f"DELETE FROM period_approval WHERE region_code = '{KECAMATAN}'",
    ],
)
async def test_the_history_is_append_only(
    client: httpx.AsyncClient, session: AsyncSession, admin: str, statement: str
) -> None:
    assert (await client.put(f"/v1/approvals/{KECAMATAN}/{PERIOD}", headers=auth(admin))).status_code == 200
    kept = "SELECT id, region_code, period, action, actor, role, at FROM period_approval ORDER BY id"
    before = (await session.execute(text(kept))).all()
    assert before, "the approval is in the history"
    savepoint = await session.begin_nested()
    with pytest.raises(DBAPIError, match="append-only"):
        await session.execute(text(statement))
    await savepoint.rollback()
    assert (await session.execute(text(kept))).all() == before
    assert (await _status(client, KECAMATAN))["state"] == "approved"


async def test_months_close_by_themselves_after_the_setting(
    database_url: str,
    redis_url: str,
    classifier_url: str,
    session: AsyncSession,
    session_factory: async_sessionmaker[AsyncSession],
    admin: str,
    kampung_id: int,
) -> None:
    operator = await make_key(session, Role.OPERATOR, f"kampung:{kampung_id}")
    kecamatan = await make_key(session, Role.KECAMATAN, KECAMATAN)
    settings = registry_settings(database_url, redis_url, classifier_url, period_closes_after_days=45)
    async with app_client(settings, session_factory) as (_, client):
        refused = await _put(client, operator, kampung_id, 100)
        assert refused.status_code == 409, refused.text
        assert "closed" in refused.json()["detail"]
        assert (await _status(client, KECAMATAN))["state"] == "closed"
        assert (await _put(client, kecamatan, kampung_id, 100)).status_code == 201  # an officer still may
        reopened = await client.delete(f"/v1/approvals/{KECAMATAN}/{PERIOD}", headers=auth(kecamatan))
        assert reopened.status_code == 200 and reopened.json()["state"] == "open"
        assert (await _put(client, operator, kampung_id, 110)).status_code == 200
        # Another kecamatan of the kabupaten stays closed.
        assert (await _status(client, "99.01.02"))["state"] == "closed"
