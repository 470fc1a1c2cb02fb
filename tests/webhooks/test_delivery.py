"""Delivery end to end: the registry in-process with its dispatcher, a receiver process on loopback that answers 500,
then times out, then is down, then recovers; every change arrives, signed, in feed order, inside the region."""

import asyncio
import json
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from standardwebhooks.webhooks import Webhook

from kampungkb_local.servers import free_port
from registry_api.changes import feed
from registry_api.main import create_app
from tests.factories import (
    DEMO_KELURAHAN,
    auth,
    kependudukan_payload,
    kkbpk_payload,
    load_demo_regions,
    make_kampung,
    make_key,
    put_module,
)
from tests.registry_api.conftest import registry_settings

RECEIVER = Path(__file__).with_name("receiver.py")
REGION = "99.01"


class Receiver:
    """The receiver process, stopped and started again on the same port, its answers switched by a mode file."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hooks"
        self.mode_file = directory / "mode"
        self.log_file = directory / "received.jsonl"
        self.log_file.touch()
        self.process: subprocess.Popen[bytes] | None = None

    def mode(self, mode: str) -> None:
        self.mode_file.write_text(mode)

    def start(self) -> None:
        argv = [sys.executable, str(RECEIVER), str(self.port), str(self.mode_file), str(self.log_file)]
        self.process = subprocess.Popen(argv)
        for _ in range(200):
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            if self.process.poll() is not None:
                raise RuntimeError("the receiver exited")
            subprocess.run([sys.executable, "-c", "import time; time.sleep(0.05)"], check=True)
        raise RuntimeError("the receiver did not listen")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def received(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log_file.read_text().splitlines()]


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    receiver = Receiver(tmp_path)
    receiver.mode("fail")
    receiver.start()
    yield receiver
    receiver.stop()


@asynccontextmanager
async def registry(
    database_url: str, redis_url: str, classifier_url: str, **fields: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """The registry in-process with its webhook dispatcher, loopback allowed, short timeouts and retries."""
    settings = registry_settings(
        database_url,
        redis_url,
        classifier_url,
        **{
            "webhooks_in_api": True,
            "webhook_allowed_networks": ["127.0.0.0/8"],
            "webhook_batch": 5,
            "webhook_timeout_s": 0.5,
            "webhook_poll_s": 0.05,
            "webhook_retry_base_s": 0.05,
            "webhook_retry_max_s": 0.3,
            **fields,
        },
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://registry.test", timeout=30) as http:
            yield http


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Wait until `check` holds (the dispatcher works in the background); fail naming `what` after a long while."""
    for _ in range(1200):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


async def follow(http: httpx.AsyncClient, key: str, after: str) -> list[dict[str, Any]]:
    """Every change of the region after `after`, as `GET /v1/changes` serves it."""
    items: list[dict[str, Any]] = []
    while True:
        page = (await http.get("/v1/changes", params={"after": after, "wilayah": REGION}, headers=auth(key))).json()
        items += page["items"]
        if not page["items"]:
            return items
        after = page["next_cursor"]


def delivered_items(records: list[dict[str, Any]], secret: str) -> list[dict[str, Any]]:
    """The items of every batch the receiver took (answered 2xx), in arrival order, each signature verified."""
    verifier = Webhook(secret)
    items: list[dict[str, Any]] = []
    for record in records:
        payload = verifier.verify(record["body"], record["headers"])  # raises on a bad signature
        assert set(payload) == {"items", "next_cursor"}
        if 200 <= record["status"] < 300:
            items += payload["items"]
    return items


async def test_every_change_arrives_signed_in_order_through_500s_timeouts_and_an_outage(
    fresh_database_url: str,
    redis_url: str,
    classifier_url: str,
    committed_session: AsyncSession,
    receiver: Receiver,
) -> None:
    await load_demo_regions(committed_session)
    admin = await make_key(committed_session)
    async with registry(fresh_database_url, redis_url, classifier_url) as http:
        created = await http.post("/v1/webhooks", json={"url": receiver.url, "wilayah": REGION}, headers=auth(admin))
        assert created.status_code == 201, created.text
        hook = created.json()
        deliveries_url = f"/v1/webhooks/{hook['id']}/deliveries"

        async def attempts() -> list[dict[str, Any]]:
            return list((await http.get(deliveries_url, headers=auth(admin))).json()["items"])

        inside = [await make_kampung(http, admin), await make_kampung(http, admin, "99.01.01.2002")]
        outside = await make_kampung(http, admin, DEMO_KELURAHAN)
        for kampung in (*inside, outside):
            written = await put_module(http, admin, kampung["id"], "kependudukan", "2024-01", kependudukan_payload())
            assert written.status_code == 201, written.text

        async def answered_500() -> bool:
            return sum(a["status_code"] == 500 for a in await attempts()) >= 2

        await eventually(answered_500, "two attempts answered 500")
        receiver.mode("slow")

        async def timed_out() -> bool:
            return any(a["status_code"] is None and "no answer" in (a["error"] or "") for a in await attempts())

        await eventually(timed_out, "an attempt timed out")
        receiver.stop()
        receiver.mode("ok")

        async def refused() -> bool:
            return any(a["error"] and a["error"].startswith("ConnectError") for a in await attempts())

        await eventually(refused, "an attempt met a receiver that is down")
        for kampung in (*inside, outside):
            written = await put_module(http, admin, kampung["id"], "kkbpk", "2024-01", kkbpk_payload())
            assert written.status_code == 201, written.text
        failures = await attempts()
        assert all(a["next_retry_at"] is not None for a in failures if a["status_code"] != 204)
        receiver.start()
        expected = await follow(http, admin, hook["cursor"])
        expected_cursors = [item["cursor"] for item in expected]
        assert {item["kampung_id"] for item in expected} == {k["id"] for k in inside}

        async def caught_up() -> bool:
            got = {i["cursor"] for i in delivered_items(receiver.received(), hook["secret"])}
            return got >= set(expected_cursors)

        await eventually(caught_up, "every change delivered")
        records = receiver.received()
        assert {r["mode"] for r in records} >= {"fail", "slow", "ok"}
        items = delivered_items(records, hook["secret"])
        assert all(item["desa_code"].startswith(REGION + ".") for item in items), "delivered outside the region"
        for kampung in inside:
            seen: list[str] = []
            for item in items:
                if item["kampung_id"] == kampung["id"] and item["cursor"] not in seen:
                    seen.append(item["cursor"])
            assert seen == sorted(seen, key=feed.decode), "out of feed order"
            assert seen == [c for c in expected_cursors if c in set(seen)]
        log = await attempts()
        assert log[0]["status_code"] == 204 and log[0]["next_retry_at"] is None

        # Replay from the subscription's first cursor: everything again.
        before = len(records)
        replayed = await http.post(
            f"/v1/webhooks/{hook['id']}/replay", params={"after": hook["cursor"]}, headers=auth(admin)
        )
        assert replayed.status_code == 200, replayed.text

        async def redelivered() -> bool:
            again = delivered_items(receiver.received()[before:], hook["secret"])
            return {i["cursor"] for i in again} >= set(expected_cursors)

        await eventually(redelivered, "every change delivered again after a replay")


async def test_a_receiver_failing_for_the_whole_window_is_disabled_until_enabled(
    fresh_database_url: str, redis_url: str, classifier_url: str, committed_session: AsyncSession, receiver: Receiver
) -> None:
    await load_demo_regions(committed_session)
    admin = await make_key(committed_session)
    async with registry(fresh_database_url, redis_url, classifier_url, webhook_retry_window_s=0.5) as http:
        hook = (await http.post("/v1/webhooks", json={"url": receiver.url}, headers=auth(admin))).json()
        await make_kampung(http, admin)

        async def disabled() -> bool:
            listed = (await http.get("/v1/webhooks", headers=auth(admin))).json()["items"]
            return listed[0]["enabled"] is False

        await eventually(disabled, "the subscription disabled")
        log = (await http.get(f"/v1/webhooks/{hook['id']}/deliveries", headers=auth(admin))).json()["items"]
        assert log[0]["next_retry_at"] is None and len(log) >= 2
        assert all(a["status_code"] == 500 for a in log)
        receiver.mode("ok")
        enabled = await http.post(f"/v1/webhooks/{hook['id']}/enable", headers=auth(admin))
        assert enabled.status_code == 200 and enabled.json()["enabled"] is True

        async def delivered() -> bool:
            return any(r["status"] == 204 for r in receiver.received())

        await eventually(delivered, "a delivery after enabling")
        items = delivered_items(receiver.received(), hook["secret"])
        assert items[0]["kind"] == "kampung" and items[0]["action"] == "created"


async def test_a_subscription_stops_when_its_creator_has_no_key_in_force(
    fresh_database_url: str, redis_url: str, classifier_url: str, committed_session: AsyncSession, receiver: Receiver
) -> None:
    await load_demo_regions(committed_session)
    admin = await make_key(committed_session)
    receiver.mode("ok")
    async with registry(fresh_database_url, redis_url, classifier_url) as http:
        given = await http.post(
            "/v1/keys",
            json={
                "name": "kabupaten feed",
                "kind": "integration",
                "role": "kabupaten",
                "scope": REGION,
                "expires_in_days": 30,
            },
            headers=auth(admin),
        )
        assert given.status_code == 201, given.text
        officer = given.json()
        hook = (await http.post("/v1/webhooks", json={"url": receiver.url}, headers=auth(officer["key"]))).json()
        first = await make_kampung(http, admin)

        async def delivered(kampung_id: int) -> bool:
            items = delivered_items(receiver.received(), hook["secret"])
            return any(item["kampung_id"] == kampung_id for item in items)

        await eventually(lambda: delivered(first["id"]), "a delivery while the creator's key is in force")
        revoked = await http.delete(f"/v1/keys/{officer['prefix']}", headers=auth(admin))
        assert revoked.status_code == 204, revoked.text

        async def disabled() -> bool:
            row = (
                await committed_session.execute(
                    text("SELECT disabled_at IS NOT NULL FROM webhook_subscription WHERE id = :id"), {"id": hook["id"]}
                )
            ).scalar_one()
            await committed_session.rollback()
            return bool(row)

        await eventually(disabled, "the subscription disabled once its creator's only key is revoked")
        later = await make_kampung(http, admin, "99.01.01.2002")
        after_revoke = len(receiver.received())
        await asyncio.sleep(1.0)  # several dispatcher passes (poll 0.05 s): none may deliver
        assert not await delivered(later["id"]), "delivered to a subscription whose creator lost every key"
        assert len(receiver.received()) == after_revoke
        reason = (
            await committed_session.execute(
                text("SELECT error FROM webhook_delivery WHERE subscription_id = :id ORDER BY id DESC LIMIT 1"),
                {"id": hook["id"]},
            )
        ).scalar_one()
        assert "no key in force" in reason
