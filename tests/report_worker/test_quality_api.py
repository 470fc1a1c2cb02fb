"""The flags over HTTP: listed under a region within a key's scope, paged, checked with who and a note, counted in
reports by kind; a check survives the recomputation of the same values."""

import datetime as dt

import asyncpg
import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from kampungkb_local.demo import demo_regions
from registry_api.auth.service import Role
from report_worker.aggregates import rebuild_period
from tests.factories import auth, make_key
from tests.report_worker.data import RULESETS, insert_kampung, insert_regions, upsert_submission
from tests.report_worker.test_quality import people

PERIOD = dt.date(2025, 6, 1)
MONTH = "2025-06"


async def flagged(pg: asyncpg.Connection) -> dict[str, int]:
    """A jump in a kabupaten and in a kota of province 95, and a CPR of 100 % in the kabupaten; Kampung KB ids."""
    await insert_regions(pg, demo_regions(provinsi="95"))
    ids = {}
    for name, desa in (("kab", "95.01.01.2001"), ("kota", "95.71.01.1001")):
        ids[name] = await insert_kampung(pg, desa, formed_on=dt.date(2020, 1, 1))
        await upsert_submission(pg, ids[name], "kependudukan", dt.date(2025, 5, 1), people(100))
        await upsert_submission(pg, ids[name], "kependudukan", PERIOD, people(300))
    full = {"poktan_participants": {}, "kb_users": {"KB_PIL": 20, "KB_SUNTIK": 10}, "non_users": {}}
    await upsert_submission(pg, ids["kab"], "kkbpk", PERIOD, full)
    await rebuild_period(pg, period=PERIOD, rulesets=RULESETS)
    return ids


async def test_list_page_and_scope(client: httpx.AsyncClient, session: AsyncSession, pg: asyncpg.Connection) -> None:
    ids = await flagged(pg)
    admin = await make_key(session)
    listed = await client.get("/v1/quality/95", params={"period": MONTH}, headers=auth(admin))
    assert listed.status_code == 200, listed.text
    items = listed.json()["items"]
    assert {(i["kampung_id"], i["kind"], i["subject"]) for i in items} == {
        (ids["kab"], "jump", "pus"),
        (ids["kab"], "implausible_ratio", "cpr_100"),
        (ids["kota"], "jump", "pus"),
    }
    assert [i["id"] for i in items] == sorted(i["id"] for i in items)
    jump = next(i for i in items if i["kind"] == "jump")
    assert (
        jump["value"] == 300
        and jump["evidence"]["previous"] == 100
        and jump["evidence"]["previous_period"] == "2025-05"
    )
    assert jump["status"] == "open" and jump["period"] == MONTH and jump["kampung_name"] and jump["desa_code"]
    first = (await client.get("/v1/quality/95", params={"period": MONTH, "limit": 2}, headers=auth(admin))).json()
    rest = await client.get(
        "/v1/quality/95", params={"period": MONTH, "cursor": first["next_cursor"]}, headers=auth(admin)
    )
    assert [i["id"] for i in first["items"] + rest.json()["items"]] == [i["id"] for i in items]
    assert rest.json()["next_cursor"] is None
    only_jumps = await client.get("/v1/quality/95", params={"period": MONTH, "kind": "jump"}, headers=auth(admin))
    assert len(only_jumps.json()["items"]) == 2

    kabupaten = await make_key(session, Role.KABUPATEN, "95.01")
    mine = await client.get("/v1/quality/95", params={"period": MONTH}, headers=auth(kabupaten))
    assert {i["kampung_id"] for i in mine.json()["items"]} == {ids["kab"]}
    assert (await client.get("/v1/quality/95.71", params={"period": MONTH}, headers=auth(kabupaten))).status_code == 404
    other = next(i["id"] for i in items if i["kampung_id"] == ids["kota"])
    refused = await client.put(f"/v1/quality/flags/{other}/check", json={"note": "x"}, headers=auth(kabupaten))
    assert refused.status_code == 404
    device = await make_key(session, Role.OPERATOR, f"kampung:{ids['kota']}")
    own = await client.get("/v1/quality/00", params={"period": MONTH}, headers=auth(device))
    assert [i["id"] for i in own.json()["items"]] == [other]

    assert (await client.get("/v1/quality/95", params={"period": MONTH})).status_code == 401
    assert (await client.get("/v1/quality/94", params={"period": MONTH}, headers=auth(admin))).status_code == 404
    bad = await client.get("/v1/quality/95", params={"period": "2025-13"}, headers=auth(admin))
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"][-1] == "period"


async def test_check_counts_and_survives_recomputation(
    client: httpx.AsyncClient, session: AsyncSession, pg: asyncpg.Connection
) -> None:
    ids = await flagged(pg)
    admin = await make_key(session)
    viewer = await make_key(session, Role.VIEWER, "95")
    report = (await client.get("/v1/reports/95", params={"period": MONTH})).json()
    assert report["quality"] == {
        "open": 3,
        "checked": 0,
        "open_by_kind": {"kkbpk_outlier": 0, "jump": 2, "implausible_ratio": 1},
    }
    flags = (await client.get("/v1/quality/95", params={"period": MONTH}, headers=auth(admin))).json()["items"]
    jump = next(f for f in flags if f["kampung_id"] == ids["kota"])
    url = f"/v1/quality/flags/{jump['id']}/check"
    assert (await client.put(url, json={"note": "x"}, headers=auth(viewer))).status_code == 403
    empty = await client.put(url, json={"note": ""}, headers=auth(admin))
    assert empty.status_code == 422 and empty.json()["errors"][0]["loc"][-1] == "note"
    checked = await client.put(url, json={"note": "a new housing estate"}, headers=auth(admin))
    assert checked.status_code == 200, checked.text
    body = checked.json()
    assert body["status"] == "checked" and body["note"] == "a new housing estate"
    assert body["checked_by"].startswith("principal:") and body["checked_at"]
    kota = (await client.get("/v1/reports/95.71", params={"period": MONTH})).json()["quality"]
    assert (kota["open"], kota["checked"]) == (0, 1)
    assert (await client.get("/v1/reports/95", params={"period": MONTH})).json()["quality"]["open_by_kind"]["jump"] == 1

    await rebuild_period(pg, period=PERIOD, rulesets=RULESETS)  # the same values: still checked
    again = (await client.get("/v1/quality/95.71", params={"period": MONTH}, headers=auth(admin))).json()["items"]
    assert [(f["id"], f["status"], f["note"]) for f in again] == [(jump["id"], "checked", "a new housing estate")]

    reopened = await client.delete(url, headers=auth(admin))
    assert reopened.json()["status"] == "open" and reopened.json()["checked_by"] is None
    assert (await client.get("/v1/reports/95.71", params={"period": MONTH})).json()["quality"]["open"] == 1


async def test_only_officers_check_flags(
    client: httpx.AsyncClient, session: AsyncSession, pg: asyncpg.Connection
) -> None:
    """A phone or an operator never silences its own Kampung KB's flags (they count against it in the ranking); a
    kecamatan officer whose scope holds the flag checks and reopens it."""
    ids = await flagged(pg)
    admin = await make_key(session)
    flags = (await client.get("/v1/quality/95.71", params={"period": MONTH}, headers=auth(admin))).json()["items"]
    assert [f["kampung_id"] for f in flags] == [ids["kota"]]
    url = f"/v1/quality/flags/{flags[0]['id']}/check"

    officer = await make_key(session, Role.KECAMATAN, "95.71.01")
    created = await client.post(
        "/v1/enrolments", json={"kampung_id": ids["kota"], "name": "HP kader"}, headers=auth(officer)
    )
    assert created.status_code == 201, created.text
    enrolled = await client.post("/v1/enrol", json={"code": created.json()["code"], "device_name": "Samsung A05"})
    assert enrolled.status_code == 200, enrolled.text
    phone = enrolled.json()["key"]
    assert (await client.get("/v1/me", headers=auth(phone))).json()["kind"] == "device"
    operator = await make_key(session, Role.OPERATOR, "95.71.01.1001")
    for key in (phone, operator):
        refused = await client.put(url, json={"note": "sudah benar"}, headers=auth(key))
        assert refused.status_code == 403, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert (await client.delete(url, headers=auth(key))).status_code == 403
    quality = (await client.get("/v1/reports/95.71", params={"period": MONTH})).json()["quality"]
    assert (quality["open"], quality["checked"]) == (1, 0)

    elsewhere = await make_key(session, Role.KECAMATAN, "95.01.01")
    assert (await client.put(url, json={"note": "x"}, headers=auth(elsewhere))).status_code == 404
    checked = await client.put(url, json={"note": "perumahan baru"}, headers=auth(officer))
    assert checked.status_code == 200, checked.text
    me = (await client.get("/v1/me", headers=auth(officer))).json()
    body = checked.json()
    assert (body["status"], body["note"]) == ("checked", "perumahan baru")
    assert body["checked_by"] == f"principal:{me['principal_id']}"
    quality = (await client.get("/v1/reports/95.71", params={"period": MONTH})).json()["quality"]
    assert (quality["open"], quality["checked"]) == (0, 1)
    reopened = await client.delete(url, headers=auth(officer))
    assert reopened.status_code == 200 and reopened.json()["status"] == "open"
