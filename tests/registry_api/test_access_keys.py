"""Principals and keys: roles and scopes that agree, `GET /v1/me`, writes named by their principal, keys given over
the API only at or below the giver's role and inside its scope, expiry, last use written at most once a minute,
rotation and revocation."""

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from registry_api.auth.service import Role
from tests.factories import (
    DEMO_KELURAHAN,
    auth,
    kependudukan_payload,
    load_demo_regions,
    make_kampung,
    make_key,
    put_module,
)


def _key(name: str, role: str, scope: str, *, kind: str = "person", days: int = 30) -> dict[str, object]:
    return {"name": name, "kind": kind, "role": role, "scope": scope, "expires_in_days": days}


async def test_me_and_writes_name_the_principal(client: httpx.AsyncClient, admin: str, kampung_id: int) -> None:
    me = (await client.get("/v1/me", headers=auth(admin))).json()
    assert me["kind"] == "integration" and me["role"] == "admin" and me["scope"] == "00"
    assert me["key_prefix"] == admin.split("_")[1] and me["expires_at"] is None
    written = await put_module(client, admin, kampung_id, "kependudukan", "2024-01", kependudukan_payload())
    assert written.json()["submitted_by"] == f"principal:{me['principal_id']}"
    revisions = await client.get(f"/v1/kampung/{kampung_id}/kependudukan/2024-01/revisions", headers=auth(admin))
    assert [r["submitted_by"] for r in revisions.json()] == [f"principal:{me['principal_id']}"]


async def test_role_and_scope_must_agree(client: httpx.AsyncClient, admin: str) -> None:
    for role, scope in [
        ("admin", "99"),
        ("provinsi", "99.01"),
        ("kabupaten", "99"),
        ("kecamatan", "99.01"),
        ("operator", "99.01.01"),
        ("viewer", "kampung:1"),
        ("viewer", "nowhere"),
        ("operator", "kampung:99999999999999999999"),
        ("operator", "kampung:0"),
    ]:
        response = await client.post("/v1/keys", json=_key("x", role, scope), headers=auth(admin))
        assert response.status_code == 422, (role, scope, response.text)
        assert response.json()["errors"][0]["loc"] == ["body", "scope"]
    device = await client.post("/v1/keys", json=_key("x", "viewer", "99", kind="device"), headers=auth(admin))
    assert device.status_code == 422 and device.json()["errors"][0]["loc"] == ["body", "role"]
    for role, scope in [("operator", "99.01.01.2001"), ("kecamatan", "99.01.01"), ("viewer", "99.71")]:
        response = await client.post("/v1/keys", json=_key("x", role, scope), headers=auth(admin))
        assert response.status_code == 201, (role, scope, response.text)


async def test_keys_are_given_at_or_below_the_role_and_inside_the_scope(
    client: httpx.AsyncClient, session: AsyncSession, admin: str
) -> None:
    inside = (await make_kampung(client, admin))["id"]
    outside = (await make_kampung(client, admin, DEMO_KELURAHAN))["id"]
    officer = await make_key(session, Role.KABUPATEN, "99.01")

    async def give(body: dict[str, object], key: str = officer) -> httpx.Response:
        return await client.post("/v1/keys", json=body, headers=auth(key))

    assert (await give(_key("boss", "provinsi", "99"))).status_code == 403
    assert (await give(_key("peer", "kabupaten", "99.71"))).status_code == 403
    assert (await give(_key("camat", "kecamatan", "99.71.01"))).status_code == 403
    assert (await give(_key("op", "operator", f"kampung:{outside}"))).status_code == 403
    given = await give(_key("Pokja", "operator", f"kampung:{inside}"))
    assert given.status_code == 201, given.text
    assert given.json()["key"].startswith(f"kkb_{given.json()['prefix']}_")
    me = (await client.get("/v1/me", headers=auth(given.json()["key"]))).json()
    assert (me["kind"], me["name"], me["role"], me["scope"]) == ("person", "Pokja", "operator", f"kampung:{inside}")

    too_long = await give(_key("HP", "operator", f"kampung:{inside}", kind="person", days=91))
    assert too_long.status_code == 422 and too_long.json()["errors"][0]["loc"] == ["body", "expires_in_days"]
    assert (await give(_key("HP", "operator", f"kampung:{inside}", kind="device", days=365))).status_code == 201

    viewer = await make_key(session, Role.VIEWER, "00")
    assert (await give(_key("v", "viewer", "99"), viewer)).status_code == 403


async def test_an_integration_gives_no_officer_keys(client: httpx.AsyncClient, session: AsyncSession) -> None:
    """Ranked beside a kabupaten officer, an integration approves nothing, enrols no phone: nor may its keys."""
    await load_demo_regions(session)
    integration = await make_key(session, Role.INTEGRATION, "00")
    for role, scope in (("kabupaten", "99.01"), ("kecamatan", "99.01.01"), ("provinsi", "99")):
        refused = await client.post("/v1/keys", json=_key("x", role, scope), headers=auth(integration))
        assert refused.status_code == 403, (role, refused.text)
    for role, scope in (("integration", "99.01"), ("operator", "99.01.01.2001"), ("viewer", "99")):
        given = await client.post("/v1/keys", json=_key("x", role, scope), headers=auth(integration))
        assert given.status_code == 201, (role, given.text)


async def test_a_peer_s_key_is_managed_only_by_whoever_gave_it(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    """Rotating a key hands its holder's identity to the one who rotates: an officer may not take a colleague's."""
    await load_demo_regions(session)
    officer, colleague = (
        await make_key(session, Role.KABUPATEN, "99.01"),
        await make_key(session, Role.KABUPATEN, "99.01"),
    )
    colleague_prefix = colleague.split("_")[1]
    for method, path in (("POST", f"/v1/keys/{colleague_prefix}/rotate"), ("DELETE", f"/v1/keys/{colleague_prefix}")):
        response = await client.request(method, path, json={} if method == "POST" else None, headers=auth(officer))
        assert response.status_code == 404, (method, response.text)
    listed = (await client.get("/v1/keys", headers=auth(officer))).json()["items"]
    assert colleague_prefix not in {item["prefix"] for item in listed}
    # A colleague's key the officer gave is the officer's to manage.
    deputy = (await client.post("/v1/keys", json=_key("deputy", "kabupaten", "99.01"), headers=auth(officer))).json()
    rotated = await client.post(f"/v1/keys/{deputy['prefix']}/rotate", json={}, headers=auth(officer))
    assert rotated.status_code == 201, rotated.text
    assert (await client.delete(f"/v1/keys/{deputy['prefix']}", headers=auth(officer))).status_code == 204
    assert (await client.get("/v1/me", headers=auth(colleague))).status_code == 200


async def test_listing_shows_the_managed_keys_without_secrets(
    client: httpx.AsyncClient, session: AsyncSession, admin: str
) -> None:
    officer = await make_key(session, Role.KABUPATEN, "99.01")
    mine = (await client.post("/v1/keys", json=_key("a", "viewer", "99.01.01"), headers=auth(officer))).json()
    await make_key(session, Role.VIEWER, "99.71")  # another kabupaten's: not the officer's to manage
    listed = (await client.get("/v1/keys", headers=auth(officer))).json()
    prefixes = {item["prefix"] for item in listed["items"]}
    assert prefixes == {officer.split("_")[1], mine["prefix"]}
    assert all("key" not in item and "secret_hash" not in item for item in listed["items"])
    everything = (await client.get("/v1/keys", params={"limit": 2}, headers=auth(admin))).json()
    assert len(everything["items"]) == 2 and everything["next_cursor"] is not None


async def test_a_key_is_stored_hashed_never_as_given(
    client: httpx.AsyncClient, session: AsyncSession, admin: str
) -> None:
    """A database dump or a read replica holds no key anyone could present: neither the key nor its secret part."""
    given = (await client.post("/v1/keys", json=_key("dump", "viewer", "99"), headers=auth(admin))).json()
    secret = given["key"].rsplit("_", 1)[1]
    rows = (await session.execute(text("SELECT * FROM api_key WHERE prefix = :p"), {"p": given["prefix"]})).all()
    assert len(rows) == 1
    stored = {str(value) for value in rows[0]._mapping.values()}
    assert not any(secret in value or given["key"] in value for value in stored)
    assert (await client.get("/v1/me", headers=auth(given["key"]))).status_code == 200


async def test_expired_keys_are_refused(client: httpx.AsyncClient, session: AsyncSession, admin: str) -> None:
    given = (await client.post("/v1/keys", json=_key("a", "viewer", "99"), headers=auth(admin))).json()
    assert (await client.get("/v1/me", headers=auth(given["key"]))).status_code == 200
    await session.execute(
        text("UPDATE api_key SET expires_at = now() - interval '1 second' WHERE prefix = :p"), {"p": given["prefix"]}
    )
    await session.commit()
    refused = await client.get("/v1/me", headers=auth(given["key"]))
    assert refused.status_code == 401 and "expired" in refused.json()["detail"]


async def test_last_use_is_written_at_most_once_a_minute(
    client: httpx.AsyncClient, session: AsyncSession, admin: str
) -> None:
    prefix = admin.split("_")[1]
    last_used = text("SELECT last_used_at, now() AS now FROM api_key WHERE prefix = :p")
    assert (await client.get("/v1/me", headers=auth(admin))).status_code == 200
    row = (await session.execute(last_used, {"p": prefix})).one()
    assert row.last_used_at == row.now  # the test's one transaction: now() is its start
    set_back = text("UPDATE api_key SET last_used_at = now() - :age * interval '1 second' WHERE prefix = :p")
    await session.execute(set_back, {"p": prefix, "age": 30})
    await session.commit()
    await client.get("/v1/me", headers=auth(admin))
    row = (await session.execute(last_used, {"p": prefix})).one()
    assert (row.now - row.last_used_at).total_seconds() == 30  # used again within the minute: not written
    await session.execute(set_back, {"p": prefix, "age": 61})
    await session.commit()
    await client.get("/v1/me", headers=auth(admin))
    row = (await session.execute(last_used, {"p": prefix})).one()
    assert row.last_used_at == row.now


async def test_rotation_and_revocation(client: httpx.AsyncClient, session: AsyncSession) -> None:
    await load_demo_regions(session)
    officer = await make_key(session, Role.PROVINSI, "99")
    old = await client.post("/v1/keys", json=_key("app", "viewer", "99", kind="integration"), headers=auth(officer))
    old_key, old_prefix = old.json()["key"], old.json()["prefix"]
    rotated = await client.post(f"/v1/keys/{old_prefix}/rotate", json={}, headers=auth(old_key))
    assert rotated.status_code == 201, rotated.text
    new_key = rotated.json()["key"]
    old_me = (await client.get("/v1/me", headers=auth(old_key))).json()
    new_me = (await client.get("/v1/me", headers=auth(new_key))).json()
    assert old_me["principal_id"] == new_me["principal_id"] and old_me["key_prefix"] != new_me["key_prefix"]

    assert (await client.delete(f"/v1/keys/{old_prefix}", headers=auth(officer))).status_code == 204
    refused = await client.get("/v1/me", headers=auth(old_key))
    assert refused.status_code == 401 and refused.headers["content-type"] == "application/problem+json"
    assert (await client.get("/v1/me", headers=auth(new_key))).status_code == 200
    listed = (await client.get("/v1/keys", headers=auth(officer))).json()["items"]
    revoked = {item["prefix"]: item["revoked_at"] is not None for item in listed}
    assert revoked[old_prefix] and not revoked[rotated.json()["prefix"]]
    outsider = await make_key(session, Role.KABUPATEN, "99.71")
    assert (await client.delete(f"/v1/keys/{rotated.json()['prefix']}", headers=auth(outsider))).status_code == 404


async def test_lists_hold_only_what_the_scope_covers(
    client: httpx.AsyncClient, session: AsyncSession, admin: str
) -> None:
    inside = (await make_kampung(client, admin))["id"]
    outside = (await make_kampung(client, admin, DEMO_KELURAHAN))["id"]
    expected = {
        await make_key(session, Role.KABUPATEN, "99.01"): {inside},
        await make_key(session, Role.KECAMATAN, "99.71.01"): {outside},
        await make_key(session, Role.OPERATOR, f"kampung:{outside}"): {outside},
        await make_key(session, Role.OPERATOR, "99.01.01.2001"): {inside},
        await make_key(session, Role.VIEWER, "98"): set(),
        admin: {inside, outside},
    }
    for key, ids in expected.items():
        listed = await client.get("/v1/kampung", params={"wilayah": "99"}, headers=auth(key))
        assert {item["id"] for item in listed.json()["items"]} == ids
