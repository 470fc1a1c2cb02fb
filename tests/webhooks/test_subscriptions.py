"""Subscriptions as a client manages them: create (secret once), list, delete, scope, and the receiver allow-list."""

import asyncio
from collections.abc import Sequence

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry_api.auth.service import Role
from registry_api.changes import feed
from registry_api.settings import Settings
from registry_api.webhooks import service
from registry_api.webhooks.models import WebhookSubscription
from registry_api.webhooks.service import address_allowed, parse_networks
from tests.factories import DEMO_KELURAHAN, auth, errors_of, make_kampung, make_key
from tests.registry_api.conftest import live_client
from tests.webhooks.conftest import app_client

__all__ = ["live_client"]

PUBLIC = "https://8.8.8.8/hooks/kampungkb"
LOOPBACK = "http://127.0.0.1:9/hook"


async def test_create_list_delete_and_the_secret_shown_once(client: httpx.AsyncClient, admin: str) -> None:
    created = await client.post(
        "/v1/webhooks", json={"url": PUBLIC, "kinds": ["submission"], "wilayah": "99.01"}, headers=auth(admin)
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["secret"].startswith("whsec_") and body["enabled"] is True
    assert created.headers["Location"] == f"/v1/webhooks/{body['id']}"
    found = await client.get(created.headers["Location"], headers=auth(admin))
    assert found.status_code == 200, found.text
    assert found.json() == {key: value for key, value in body.items() if key != "secret"}
    head = (await client.get("/v1/changes/head", headers=auth(admin))).json()["cursor"]
    assert body["cursor"] <= head or body["cursor"].split("-")[0] <= head.split("-")[0]
    listed = await client.get("/v1/webhooks", headers=auth(admin))
    assert [(w["id"], w["url"], w["kinds"], w["wilayah"]) for w in listed.json()["items"]] == [
        (body["id"], PUBLIC, ["submission"], "99.01")
    ]
    assert "secret" not in listed.json()["items"][0]
    assert (await client.get(f"/v1/webhooks/{body['id']}/deliveries", headers=auth(admin))).json() == {
        "items": [],
        "next_cursor": None,
    }
    assert (await client.delete(f"/v1/webhooks/{body['id']}", headers=auth(admin))).status_code == 204
    assert (await client.get("/v1/webhooks", headers=auth(admin))).json()["items"] == []
    assert (await client.delete(f"/v1/webhooks/{body['id']}", headers=auth(admin))).status_code == 404


async def test_only_the_owner_sees_and_manages_a_subscription(
    client: httpx.AsyncClient, session: AsyncSession, admin: str
) -> None:
    other = await make_key(session, Role.ADMIN, "00")
    created = (await client.post("/v1/webhooks", json={"url": PUBLIC}, headers=auth(admin))).json()
    assert (await client.get("/v1/webhooks", headers=auth(other))).json()["items"] == []
    for method, path in (
        ("DELETE", ""),
        ("GET", ""),
        ("GET", "/deliveries"),
        ("POST", "/enable"),
    ):
        response = await client.request(method, f"/v1/webhooks/{created['id']}{path}", headers=auth(other))
        assert response.status_code == 404, (method, path)


async def test_a_region_outside_the_scope_is_forbidden(
    client: httpx.AsyncClient, session: AsyncSession, admin: str
) -> None:
    kabupaten = await make_key(session, Role.KABUPATEN, "99.01")
    outside = await client.post("/v1/webhooks", json={"url": PUBLIC, "wilayah": "99.71"}, headers=auth(kabupaten))
    assert outside.status_code == 403, outside.text
    nation = await client.post("/v1/webhooks", json={"url": PUBLIC, "wilayah": "00"}, headers=auth(kabupaten))
    assert nation.status_code == 201 and nation.json()["wilayah"] is None  # `00`: the key's whole scope
    inside = await client.post("/v1/webhooks", json={"url": PUBLIC, "wilayah": "99.01.01"}, headers=auth(kabupaten))
    assert inside.status_code == 201, inside.text
    whole = await client.post("/v1/webhooks", json={"url": PUBLIC}, headers=auth(kabupaten))
    assert whole.status_code == 201 and whole.json()["wilayah"] is None


async def test_a_kampung_key_subscribes_to_its_own_kampung_only(
    client: httpx.AsyncClient, session: AsyncSession, admin: str
) -> None:
    kampung = await make_kampung(client, admin)
    operator = await make_key(session, Role.OPERATOR, f"kampung:{kampung['id']}")
    region = await client.post("/v1/webhooks", json={"url": PUBLIC, "wilayah": "99.01"}, headers=auth(operator))
    assert region.status_code == 403, region.text
    own = await client.post("/v1/webhooks", json={"url": PUBLIC}, headers=auth(operator))
    assert own.status_code == 201, own.text


@pytest.mark.parametrize(
    "url",
    [
        LOOPBACK,
        "http://localhost:8080/hook",
        "http://10.1.2.3/hook",
        "http://192.168.1.1/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://224.0.0.1/hook",
        "http://0.0.0.0/hook",
        "http://[::ffff:127.0.0.1]/hook",
    ],
)
async def test_internal_addresses_are_refused_by_default(client: httpx.AsyncClient, admin: str, url: str) -> None:
    response = await client.post("/v1/webhooks", json={"url": url}, headers=auth(admin))
    assert errors_of(response) == [["body", "url"]]


async def test_bad_input_names_the_field(client: httpx.AsyncClient, admin: str) -> None:
    for body, field in (
        ({"url": "ftp://8.8.8.8/x"}, ["body", "url"]),
        ({"url": PUBLIC, "kinds": ["nothing"]}, ["body", "kinds", 0]),
        ({"url": PUBLIC, "kinds": []}, ["body", "kinds"]),
        ({"url": PUBLIC, "wilayah": "9"}, ["body", "wilayah"]),
    ):
        assert errors_of(await client.post("/v1/webhooks", json=body, headers=auth(admin))) == [field], body
    created = (await client.post("/v1/webhooks", json={"url": PUBLIC}, headers=auth(admin))).json()
    replay = await client.post(f"/v1/webhooks/{created['id']}/replay", params={"after": "1-2-3"}, headers=auth(admin))
    assert errors_of(replay) == [["query", "after"]]


async def test_loopback_is_allowed_by_the_setting(
    settings: Settings, session_factory: async_sessionmaker[AsyncSession], admin: str
) -> None:
    allowing = settings.model_copy(update={"webhook_allowed_networks": ["127.0.0.0/8"]})
    async with app_client(allowing, session_factory) as (_, client):
        allowed = await client.post("/v1/webhooks", json={"url": LOOPBACK}, headers=auth(admin))
        assert allowed.status_code == 201, allowed.text
        private = await client.post("/v1/webhooks", json={"url": "http://10.0.0.1/"}, headers=auth(admin))
        assert errors_of(private) == [["body", "url"]]


def test_the_allow_list_adds_networks_to_public_addresses() -> None:
    allowed = parse_networks(["10.20.0.0/16"])
    assert address_allowed("8.8.8.8", [])
    assert address_allowed("2001:4860:4860::8888", [])
    assert not address_allowed("10.20.1.1", [])
    assert address_allowed("10.20.1.1", allowed)
    assert not address_allowed("10.21.1.1", allowed)
    assert not address_allowed("fe80::1%eth0", allowed)


async def test_enable_and_replay_answer_the_subscription(client: httpx.AsyncClient, admin: str) -> None:
    created = (await client.post("/v1/webhooks", json={"url": PUBLIC}, headers=auth(admin))).json()
    await make_kampung(client, admin, DEMO_KELURAHAN)
    enabled = await client.post(f"/v1/webhooks/{created['id']}/enable", headers=auth(admin))
    assert enabled.status_code == 200 and enabled.json()["enabled"] is True
    replayed = await client.post(f"/v1/webhooks/{created['id']}/replay", params={"after": "0-0"}, headers=auth(admin))
    assert replayed.status_code == 200, replayed.text
    assert replayed.json()["cursor"] == "0-0"


async def test_a_replay_from_before_the_kept_changes_is_410_and_moves_nothing(
    client: httpx.AsyncClient, session: AsyncSession, admin: str
) -> None:
    created = (await client.post("/v1/webhooks", json={"url": PUBLIC}, headers=auth(admin))).json()
    await make_kampung(client, admin)
    await session.execute(text("UPDATE change_log SET changed_at = changed_at - interval '100 days'"))
    await make_kampung(client, admin, DEMO_KELURAHAN)  # a change kept
    assert await feed.prune(session, retention_s=90 * 86_400.0) > 0
    path = f"/v1/webhooks/{created['id']}"
    expired = await client.post(f"{path}/replay", params={"after": created["cursor"]}, headers=auth(admin))
    assert expired.status_code == 410, expired.text
    assert expired.headers["content-type"].startswith("application/problem+json")
    problem = expired.json()
    assert problem["type"] == "/problems/changes-expired" and problem["status"] == 410
    assert created["cursor"] in problem["detail"]
    assert (await client.get(path, headers=auth(admin))).json()["cursor"] == created["cursor"]


async def _subscriptions(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(WebhookSubscription)) or 0)


async def test_a_retry_with_its_idempotency_key_answers_the_subscription_and_its_secret(
    client: httpx.AsyncClient, session: AsyncSession, admin: str
) -> None:
    """The 201 answer lost on a bad link: the retry with its key reads the same subscription and secret (200), where
    a retry without a key makes another subscription."""
    body = {"url": PUBLIC, "kinds": ["submission"], "wilayah": "99.01"}
    keyed = {**auth(admin), "Idempotency-Key": "dashboard-subscription-1"}
    first = await client.post("/v1/webhooks", json=body, headers=keyed)
    assert first.status_code == 201, first.text
    retried = await client.post("/v1/webhooks", json=dict(reversed(body.items())), headers=keyed)
    assert retried.status_code == 200, retried.text
    assert retried.json() == first.json()
    assert retried.json()["secret"].startswith("whsec_")
    assert retried.headers["Location"] == first.headers["Location"] == f"/v1/webhooks/{first.json()['id']}"
    assert retried.headers["Cache-Control"] == first.headers["Cache-Control"]
    listed = (await client.get("/v1/webhooks", headers=auth(admin))).json()["items"]
    assert [w["id"] for w in listed] == [first.json()["id"]]
    assert await _subscriptions(session) == 1
    unkeyed = [await client.post("/v1/webhooks", json=body, headers=auth(admin)) for _ in range(2)]
    assert [r.status_code for r in unkeyed] == [201, 201]
    assert len({first.json()["id"], *(r.json()["id"] for r in unkeyed)}) == 3
    assert len({first.json()["secret"], *(r.json()["secret"] for r in unkeyed)}) == 3
    assert await _subscriptions(session) == 3


async def test_the_key_with_another_request_is_refused_at_the_header(
    client: httpx.AsyncClient, session: AsyncSession, admin: str
) -> None:
    keyed = {**auth(admin), "Idempotency-Key": "k-1"}
    first = await client.post("/v1/webhooks", json={"url": PUBLIC}, headers=keyed)
    assert first.status_code == 201, first.text
    for other in ({"url": "https://8.8.4.4/hooks"}, {"url": PUBLIC, "kinds": ["submission"]}, {"url": LOOPBACK}):
        refused = await client.post("/v1/webhooks", json=other, headers=keyed)
        assert errors_of(refused) == [["header", "Idempotency-Key"]], other
    assert await _subscriptions(session) == 1
    empty = await client.post("/v1/webhooks", json={"url": PUBLIC}, headers={**keyed, "Idempotency-Key": ""})
    assert errors_of(empty) == [["header", "Idempotency-Key"]]


async def test_another_principal_with_the_same_key_makes_its_own(
    client: httpx.AsyncClient, session: AsyncSession, admin: str
) -> None:
    other = await make_key(session, Role.ADMIN, "00")
    mine = await client.post("/v1/webhooks", json={"url": PUBLIC}, headers={**auth(admin), "Idempotency-Key": "k"})
    theirs = await client.post("/v1/webhooks", json={"url": PUBLIC}, headers={**auth(other), "Idempotency-Key": "k"})
    assert (mine.status_code, theirs.status_code) == (201, 201), theirs.text
    assert mine.json()["id"] != theirs.json()["id"] and mine.json()["secret"] != theirs.json()["secret"]
    for key, own in ((other, theirs), (admin, mine)):  # each one's retry answers its own subscription
        retried = await client.post("/v1/webhooks", json={"url": PUBLIC}, headers={**auth(key), "Idempotency-Key": "k"})
        assert retried.status_code == 200 and retried.json() == own.json(), retried.text
    assert [w["id"] for w in (await client.get("/v1/webhooks", headers=auth(other))).json()["items"]] == [
        theirs.json()["id"]
    ]
    assert await _subscriptions(session) == 2


async def test_concurrent_requests_with_one_key_make_one_subscription(
    live_client: httpx.AsyncClient, committed_session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Retries sent at once: the later ones wait on the unique index for the first and answer its subscription."""
    check_receiver = service.check_receiver

    async def slow_check(url: str, *, allowed: Sequence[service.Network]) -> list[str]:
        await asyncio.sleep(0.3)  # every request past its look-up of the key before the first one inserts
        return await check_receiver(url, allowed=allowed)

    monkeypatch.setattr(service, "check_receiver", slow_check)
    key = await make_key(committed_session)
    headers = {**auth(key), "Idempotency-Key": "race"}
    responses = await asyncio.gather(
        *(live_client.post("/v1/webhooks", json={"url": PUBLIC}, headers=headers) for _ in range(6))
    )
    assert sorted(r.status_code for r in responses) == [200] * 5 + [201], [r.text for r in responses]
    assert len({(r.json()["id"], r.json()["secret"]) for r in responses}) == 1
    assert await _subscriptions(committed_session) == 1
