"""The change feed as a client reads it: every kind of change, in order, filtered, in scope, and expired cursors."""

import datetime as dt
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from registry_api.auth.service import Role
from registry_api.changes import feed
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
)


async def follow(client: httpx.AsyncClient, key: str, after: str | None = None, **params: Any) -> tuple[list[Any], str]:
    """Every item after `after`, page by page (small pages, so paging is exercised); returns them and the cursor."""
    items: list[Any] = []
    while True:
        query = {"limit": 3, **params, **({"after": after} if after else {})}
        response = await client.get("/v1/changes", params=query, headers=auth(key))
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["items"]
        if page["next_cursor"] == after or not page["items"]:
            return items, page["next_cursor"]
        after = page["next_cursor"]


async def test_a_write_shows_as_its_submission_its_classifications_and_the_tier(
    client: httpx.AsyncClient, admin: str
) -> None:
    start = (await client.get("/v1/changes/head", headers=auth(admin))).json()["cursor"]
    kampung = await make_kampung(client, admin)
    written = await put_module(client, admin, kampung["id"], "kependudukan", "2024-06", kependudukan_payload())
    assert written.status_code == 201
    items, _ = await follow(client, admin, start)
    seen = [(i["kind"], i["action"], i["module"], i["period"], i["ruleset"]) for i in items]
    assert seen[0] == ("kampung", "created", None, None, None)
    assert ("submission", "created", "kependudukan", "2024-06", None) in seen
    assert {s[4] for s in seen if s[0] == "classification"} == {"bkkbn-web-2021", "kkb-2025"}
    tier_changes = [i for i in items if i["action"] == "tier_changed"]
    assert [(i["kampung_id"], i["tier"]) for i in tier_changes] == [
        (kampung["id"], written.json()["classification"]["tier"])
    ]
    assert all(i["desa_code"] == kampung["desa_code"] for i in items)
    assert [i["cursor"] for i in items] == sorted({i["cursor"] for i in items}, key=feed.decode)


async def test_a_new_tier_gives_the_kampung_a_new_version_and_etag(client: httpx.AsyncClient, admin: str) -> None:
    kampung = await make_kampung(client, admin)
    before = await client.get(f"/v1/kampung/{kampung['id']}", headers=auth(admin))
    await put_module(client, admin, kampung["id"], "kependudukan", "2024-06", kependudukan_payload())
    after = await client.get(f"/v1/kampung/{kampung['id']}", headers=auth(admin))
    assert after.json()["tier"] is not None and before.json()["tier"] is None
    assert after.headers["ETag"] != before.headers["ETag"]
    assert after.json()["version"] == before.json()["version"] + 1
    assert after.json()["updated_at"] > before.json()["updated_at"]
    changed = await client.get(
        "/v1/kampung", params={"updated_since": before.json()["updated_at"]}, headers=auth(admin)
    )
    assert [k["id"] for k in changed.json()["items"]] == [kampung["id"]]


async def test_a_write_that_keeps_the_tier_leaves_the_profile_alone(client: httpx.AsyncClient, admin: str) -> None:
    kampung = await make_kampung(client, admin)
    first = await put_module(client, admin, kampung["id"], "kependudukan", "2024-06", kependudukan_payload())
    before = await client.get(f"/v1/kampung/{kampung['id']}", headers=auth(admin))
    start = (await client.get("/v1/changes/head", headers=auth(admin))).json()["cursor"]
    again = await put_module(
        client, admin, kampung["id"], "kependudukan", "2024-06", kependudukan_payload(families=151)
    )
    assert again.status_code == 200 and again.json()["revision"] == 2
    assert again.json()["classification"]["tier"] == first.json()["classification"]["tier"]
    after = await client.get(f"/v1/kampung/{kampung['id']}", headers=auth(admin))
    assert after.headers["ETag"] == before.headers["ETag"]
    assert after.json()["version"] == before.json()["version"]
    items, _ = await follow(client, admin, start)
    assert {(i["kind"], i["action"]) for i in items} == {("submission", "updated"), ("classification", "classified")}


async def test_deactivation_and_activities_are_changes_too(client: httpx.AsyncClient, admin: str) -> None:
    kampung = await make_kampung(client, admin)
    start = (await client.get("/v1/changes/head", headers=auth(admin))).json()["cursor"]
    assert (await make_kegiatan(client, admin, kampung["id"], "2024-06-10", ["PUSKESMAS"])).status_code == 201
    patched = await client.patch(f"/v1/kampung/{kampung['id']}", json={"active": False}, headers=auth(admin))
    assert patched.status_code == 200, patched.text
    items, _ = await follow(client, admin, start, kinds="kampung,kegiatan")
    items = [i for i in items if i["action"] != "tier_changed"]  # the activity's partner may move the tier
    assert [(i["kind"], i["action"], i["period"]) for i in items] == [
        ("kegiatan", "created", "2024-06"),
        ("kampung", "deactivated", None),
    ]
    assert items[0]["kegiatan_id"] is not None


async def test_filters_by_region_and_the_key_sees_only_its_scope(
    client: httpx.AsyncClient, admin: str, session: AsyncSession
) -> None:
    start = (await client.get("/v1/changes/head", headers=auth(admin))).json()["cursor"]
    desa = await make_kampung(client, admin)
    kelurahan = await make_kampung(client, admin, desa_code=DEMO_KELURAHAN)
    for kampung in (desa, kelurahan):
        await put_module(client, admin, kampung["id"], "profil", "2024-06", profil_payload())
    in_region, _ = await follow(client, admin, start, wilayah="99.71")
    assert {i["kampung_id"] for i in in_region} == {kelurahan["id"]}
    operator = await make_key(session, Role.OPERATOR, f"kampung:{desa['id']}")
    own, _ = await follow(client, operator, start)
    assert own and {i["kampung_id"] for i in own} == {desa["id"]}
    kabupaten = await make_key(session, Role.KABUPATEN, "99.71")
    theirs, _ = await follow(client, kabupaten, start, wilayah="99.01")
    assert theirs == []


async def test_a_cursor_older_than_the_kept_changes_is_410(
    client: httpx.AsyncClient, admin: str, session: AsyncSession
) -> None:
    first = (await client.get("/v1/changes/head", headers=auth(admin))).json()["cursor"]
    kampung = await make_kampung(client, admin)
    await put_module(client, admin, kampung["id"], "kependudukan", "2024-06", kependudukan_payload())
    await session.execute(text("UPDATE change_log SET changed_at = changed_at - interval '100 days'"))
    await make_kampung(client, admin, desa_code=DEMO_KELURAHAN)  # a change kept
    assert await feed.prune(session, retention_s=90 * 86_400.0) > 0
    expired = await client.get("/v1/changes", params={"after": first}, headers=auth(admin))
    assert expired.status_code == 410
    assert expired.headers["content-type"].startswith("application/problem+json")
    kept, _ = await follow(client, admin)
    assert [(i["kind"], i["desa_code"]) for i in kept] == [("kampung", DEMO_KELURAHAN)]


async def test_a_cursor_this_api_did_not_give_is_422_naming_it(client: httpx.AsyncClient, admin: str) -> None:
    for bad in ("abc", "1-", "99999999999999999999-1", "9223372036854775808-1"):
        response = await client.get("/v1/changes", params={"after": bad}, headers=auth(admin))
        assert response.status_code == 422, bad
        assert response.json()["errors"][0]["loc"] == ["query", "after"]
    response = await client.get("/v1/changes", params={"kinds": "kampung,nope"}, headers=auth(admin))
    assert response.status_code == 422 and response.json()["errors"][0]["loc"] == ["query", "kinds"]


async def test_the_feed_needs_a_key(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/changes")).status_code == 401


async def test_a_kkbpk_and_a_back_dated_kependudukan_reach_the_feed_with_their_revisions(
    client: httpx.AsyncClient, admin: str
) -> None:
    kampung = await make_kampung(client, admin)
    start = (await client.get("/v1/changes/head", headers=auth(admin))).json()["cursor"]
    await put_module(client, admin, kampung["id"], "kependudukan", "2024-06", kependudukan_payload())
    await put_module(client, admin, kampung["id"], "kkbpk", "2024-06", kkbpk_payload())
    await put_module(client, admin, kampung["id"], "kkbpk", "2024-06", kkbpk_payload(users=60, non_users=40))
    await put_module(client, admin, kampung["id"], "kependudukan", "2024-03", kependudukan_payload())
    items, _ = await follow(client, admin, start, kinds="submission")
    assert [(i["module"], i["period"], i["revision"]) for i in items] == [
        ("kependudukan", "2024-06", 1),
        ("kkbpk", "2024-06", 1),
        ("kkbpk", "2024-06", 2),
        ("kependudukan", "2024-03", 1),
    ]
    assert all(dt.datetime.fromisoformat(i["changed_at"]).tzinfo is not None for i in items)
