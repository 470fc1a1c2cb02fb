"""Delivery end to end: the registry in-process with its dispatcher, a receiver process on loopback that answers 500,
then times out, then is down, then recovers; every change arrives, signed, in feed order, inside the region. A name
that answers another address after the receiver check (DNS rebinding) cannot lead a batch there, and over HTTPS the
certificate is still checked against the name. A redirect is a failed delivery, never followed, and no cookie is
kept; two dispatchers on one database never have two batches in flight to a receiver and send each change once; a
replay drops the lease, so the batch in flight moves nothing; a subscription behind the kept changes is disabled; a
dead receiver's backlog age grows while nothing is delivered."""

import asyncio
import datetime as dt
import itertools
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
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from standardwebhooks.webhooks import Webhook

from kampungkb_local.servers import free_port
from registry_api import main
from registry_api.background.webhook_metrics import BACKLOG_AGE
from registry_api.changes import feed
from tests.factories import (
    DEMO_DESA,
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
    """The receiver process, stopped and started again on the same port, its answers switched by a mode file; on
    another loopback address and with TLS when asked."""

    def __init__(
        self,
        directory: Path,
        *,
        address: str = "127.0.0.1",
        port: int | None = None,
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.address = address
        self.port = port or free_port()
        self.url = f"http://{address}:{self.port}/hooks"
        self.tls = tls
        self.mode_file = directory / "mode"
        self.log_file = directory / "received.jsonl"
        self.log_file.touch()
        self.process: subprocess.Popen[bytes] | None = None

    def mode(self, mode: str) -> None:
        """Switch the answers; the file is replaced whole, so the receiver never reads it half written."""
        written = self.mode_file.with_suffix(".new")
        written.write_text(mode)
        written.replace(self.mode_file)

    def start(self) -> None:
        argv = [sys.executable, str(RECEIVER), str(self.port), str(self.mode_file), str(self.log_file), self.address]
        argv += [str(path) for path in self.tls or ()]
        self.process = subprocess.Popen(argv)
        for _ in range(200):
            with socket.socket() as probe:
                if probe.connect_ex((self.address, self.port)) == 0:
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
    app = main.create_app(settings)
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


async def disabled(session: AsyncSession, subscription_id: int) -> bool:
    """Whether the subscription is disabled now (read in a transaction of its own)."""
    query = text("SELECT disabled_at IS NOT NULL FROM webhook_subscription WHERE id = :id")
    row = (await session.execute(query, {"id": subscription_id})).scalar_one()
    await session.rollback()
    return bool(row)


async def logged_errors(session: AsyncSession, subscription_id: int) -> list[str]:
    """The errors of the subscription's deliveries log, newest first."""
    query = text(
        "SELECT error FROM webhook_delivery WHERE subscription_id = :id AND error IS NOT NULL ORDER BY id DESC"
    )
    return list((await session.execute(query, {"id": subscription_id})).scalars())


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

        await eventually(lambda: disabled(committed_session, hook["id"]), "disabled once its creator's key is revoked")
        later = await make_kampung(http, admin, "99.01.01.2002")
        after_revoke = len(receiver.received())
        await asyncio.sleep(1.0)  # several dispatcher passes (poll 0.05 s): none may deliver
        assert not await delivered(later["id"]), "delivered to a subscription whose creator lost every key"
        assert len(receiver.received()) == after_revoke
        assert any("no key in force" in reason for reason in await logged_errors(committed_session, hook["id"]))


async def test_a_subscription_owned_by_a_bearer_token_subject_is_disabled(
    fresh_database_url: str, redis_url: str, classifier_url: str, committed_session: AsyncSession, receiver: Receiver
) -> None:
    """A subscription whose owner is a subject of the identity provider (made with a bearer token, before subscribing
    needed a key) has no key to check: the next pass disables it, and it delivers nothing."""
    await load_demo_regions(committed_session)
    admin = await make_key(committed_session)
    receiver.mode("ok")
    async with registry(fresh_database_url, redis_url, classifier_url) as http:
        hook = (await http.post("/v1/webhooks", json={"url": receiver.url}, headers=auth(admin))).json()
        await committed_session.execute(
            text("UPDATE webhook_subscription SET owner = 'oidc:user-1' WHERE id = :id"), {"id": hook["id"]}
        )
        await committed_session.commit()
        await make_kampung(http, admin)

        await eventually(
            lambda: disabled(committed_session, hook["id"]), "the subscription of a token's subject disabled"
        )
        await asyncio.sleep(1.0)  # several dispatcher passes (poll 0.05 s): none may deliver
        assert receiver.received() == [], "delivered to a subscription whose owner has no key"
        assert any("bearer token" in reason for reason in await logged_errors(committed_session, hook["id"]))


class Resolver:
    """The event loop's resolver, which both the receiver check and httpx's connections ask, answering some names as
    a test says: each question takes the next answer of the name's cycle, as a name with a TTL of 0 may."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        loop = asyncio.get_running_loop()
        self._real = loop.getaddrinfo
        self._answers: dict[str, Iterator[str]] = {}
        monkeypatch.setattr(loop, "getaddrinfo", self._getaddrinfo)

    def answer(self, name: str, *addresses: str) -> None:
        self._answers[name] = itertools.cycle(addresses)

    async def _getaddrinfo(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name in self._answers:
            address = next(self._answers[name])
            return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, int(port or 0)))]
        return await self._real(host, port, *args, **kwargs)


async def test_a_batch_goes_to_the_address_its_check_approved_never_to_one_resolved_after(
    fresh_database_url: str,
    redis_url: str,
    classifier_url: str,
    committed_session: AsyncSession,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """DNS rebinding: the receiver's name answers an allowed address (127.0.0.2, the allow-list's only one) and then
    loopback, in turn. Each batch goes to the address the check approved, with the name as `Host`, or is refused by
    the check; the receiver listening on 127.0.0.1 gets nothing."""
    approved = Receiver(tmp_path / "approved", address="127.0.0.2")
    internal = Receiver(tmp_path / "internal", port=approved.port)
    resolver = Resolver(monkeypatch)
    resolver.answer("rebind.test", "127.0.0.2", "127.0.0.1")
    await load_demo_regions(committed_session)
    admin = await make_key(committed_session)
    try:
        for receiver in (approved, internal):
            receiver.mode("ok")
            receiver.start()
        async with registry(
            fresh_database_url, redis_url, classifier_url, webhook_allowed_networks=["127.0.0.2/32"]
        ) as http:
            url = f"http://rebind.test:{approved.port}/hooks"
            created = await http.post("/v1/webhooks", json={"url": url}, headers=auth(admin))  # answered 127.0.0.2
            assert created.status_code == 201, created.text
            hook = created.json()
            kampung = await make_kampung(http, admin)

            async def sent() -> bool:
                return bool(approved.received() or internal.received())

            await eventually(sent, "a batch sent")
            await asyncio.sleep(0.5)
            assert internal.received() == [], "sent to the address the name answered after the check"
            records = approved.received()
            assert {record["host"] for record in records} == {f"rebind.test:{approved.port}"}
            assert delivered_items(records, hook["secret"])[0]["kampung_id"] == kampung["id"]
            log = (await http.get(f"/v1/webhooks/{hook['id']}/deliveries", headers=auth(admin))).json()["items"]
            assert [a["status_code"] for a in log] == [204, None]  # the first check met 127.0.0.1 and refused it
            assert "127.0.0.1" in log[1]["error"] and "outside the allowed networks" in log[1]["error"]
    finally:
        approved.stop()
        internal.stop()


def issue_certificate(directory: Path, name: str) -> tuple[Path, Path, Path]:
    """A certificate authority and a server certificate for `name` it signed: the authority's, the server's and its
    key's files."""
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    authority_key = ec.generate_private_key(ec.SECP256R1())
    authority_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "webhook tests authority")])
    authority = (
        x509.CertificateBuilder()
        .subject_name(authority_name)
        .issuer_name(authority_name)
        .public_key(authority_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(authority_key.public_key()), critical=False)
        .sign(authority_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(authority_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(authority_key.public_key()), critical=False)
        .sign(authority_key, hashes.SHA256())
    )
    files = (directory / "authority.pem", directory / "server.pem", directory / "server.key")
    files[0].write_bytes(authority.public_bytes(serialization.Encoding.PEM))
    files[1].write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    files[2].write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return files


async def test_over_https_the_certificate_is_checked_against_the_name_at_the_approved_address(
    fresh_database_url: str,
    redis_url: str,
    classifier_url: str,
    committed_session: AsyncSession,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The batch goes to the approved address with the name as SNI, and the certificate must be the name's: one for
    `hooks.test` delivers to `https://hooks.test`, and not to `https://impostor.test` at the same address, even right
    after a delivery to `hooks.test` left a connection there (each delivery has a connection of its own)."""
    authority, certificate, key = issue_certificate(tmp_path / "tls", "hooks.test")
    receiver = Receiver(tmp_path / "receiver", address="127.0.0.2", tls=(certificate, key))
    resolver = Resolver(monkeypatch)
    resolver.answer("hooks.test", "127.0.0.2")
    resolver.answer("impostor.test", "127.0.0.2")
    await load_demo_regions(committed_session)
    admin = await make_key(committed_session)
    try:
        receiver.mode("ok")
        receiver.start()
        async with registry(
            fresh_database_url,
            redis_url,
            classifier_url,
            webhook_allowed_networks=["127.0.0.2/32"],
            webhook_ca_file=str(authority),  # the receivers' authority, beside the public ones
        ) as http:

            async def subscribe(name: str) -> dict[str, Any]:
                url = f"https://{name}:{receiver.port}/hooks"
                created = await http.post("/v1/webhooks", json={"url": url}, headers=auth(admin))
                assert created.status_code == 201, created.text
                return dict(created.json())

            async def attempts(hook: dict[str, Any]) -> list[dict[str, Any]]:
                path = f"/v1/webhooks/{hook['id']}/deliveries"
                return list((await http.get(path, headers=auth(admin))).json()["items"])

            named = await subscribe("hooks.test")
            first = await make_kampung(http, admin)

            async def delivered() -> bool:
                return any(a["status_code"] == 204 for a in await attempts(named))

            await eventually(delivered, "a delivery to https://hooks.test")
            assert (await http.delete(f"/v1/webhooks/{named['id']}", headers=auth(admin))).status_code == 204
            impostor = await subscribe("impostor.test")
            await make_kampung(http, admin, "99.01.01.2002")

            async def failed() -> bool:
                return bool(await attempts(impostor))

            await eventually(failed, "an attempt at https://impostor.test")
            error = (await attempts(impostor))[-1]["error"]
            assert error and error.startswith("ConnectError") and "CERTIFICATE_VERIFY_FAILED" in error, error
            records = receiver.received()
            assert {record["host"] for record in records} == {f"hooks.test:{receiver.port}"}
            assert delivered_items(records, named["secret"])[0]["kampung_id"] == first["id"]
    finally:
        receiver.stop()


async def attempts_of(http: httpx.AsyncClient, key: str, hook: dict[str, Any]) -> list[dict[str, Any]]:
    """The subscription's deliveries log, newest first."""
    response = await http.get(f"/v1/webhooks/{hook['id']}/deliveries", headers=auth(key))
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def test_a_redirect_is_a_failed_delivery_never_followed_and_no_cookie_is_kept(
    fresh_database_url: str, redis_url: str, classifier_url: str, committed_session: AsyncSession, tmp_path: Path
) -> None:
    """Each kind of redirect, to a second receiver that records whatever reaches it, is logged as a failure and
    retried, and the second receiver gets nothing; then a receiver that sets a cookie with every answer never gets
    one back."""
    elsewhere = Receiver(tmp_path / "elsewhere")
    receiver = Receiver(tmp_path / "receiver")
    await load_demo_regions(committed_session)
    admin = await make_key(committed_session)
    try:
        elsewhere.mode("ok")
        elsewhere.start()
        receiver.mode(f"redirect 301 {elsewhere.url}")
        receiver.start()
        # Every attempt here is answered at once; a busy machine must not turn one into a timeout, which the log
        # below would hold beside the redirects (the 0.5 s of the other tests).
        async with registry(fresh_database_url, redis_url, classifier_url, webhook_timeout_s=10.0) as http:
            hook = (await http.post("/v1/webhooks", json={"url": receiver.url}, headers=auth(admin))).json()
            first = await make_kampung(http, admin)
            statuses = (301, 302, 303, 307, 308)
            for status in statuses:
                receiver.mode(f"redirect {status} {elsewhere.url}")

                async def answered(status: int = status) -> bool:
                    return any(a["status_code"] == status for a in await attempts_of(http, admin, hook))

                await eventually(answered, f"an attempt answered {status}")
            log = await attempts_of(http, admin, hook)
            assert {a["status_code"] for a in log} == set(statuses)
            for attempt in log:
                assert attempt["error"] == f"answered {attempt['status_code']}", attempt
                assert attempt["next_retry_at"] is not None, "a redirect is retried, as a failure"
            current = (await http.get(f"/v1/webhooks/{hook['id']}", headers=auth(admin))).json()
            assert current["last_delivered_at"] is None and current["failing_since"] is not None
            assert elsewhere.received() == [], "a redirect was followed"

            receiver.mode("cookie")

            async def delivered(kampung_id: int) -> bool:
                items = delivered_items(receiver.received(), hook["secret"])
                return any(item["kampung_id"] == kampung_id for item in items)

            await eventually(lambda: delivered(first["id"]), "a delivery answered with a cookie")
            second = await make_kampung(http, admin, "99.01.01.2002")
            await eventually(lambda: delivered(second["id"]), "the next delivery, after the cookie was set")
        answered_with_a_cookie = [r for r in receiver.received() if r["mode"] == "cookie"]
        assert len(answered_with_a_cookie) >= 2, "the second batch went after the first one set a cookie"
        assert [r["cookie"] for r in receiver.received()] == [None] * len(receiver.received())
        assert elsewhere.received() == []
    finally:
        receiver.stop()
        elsewhere.stop()


async def test_two_dispatchers_send_one_batch_at_a_time_to_a_receiver_and_each_change_once(
    fresh_database_url: str, redis_url: str, classifier_url: str, committed_session: AsyncSession, receiver: Receiver
) -> None:
    """Two registry processes' dispatchers (two apps on one database) polling the same subscription: the receiver,
    holding each batch a while, never has two in flight, and every change arrives exactly once."""
    await load_demo_regions(committed_session)
    admin = await make_key(committed_session)
    receiver.mode("hold")
    async with (
        registry(fresh_database_url, redis_url, classifier_url, webhook_timeout_s=30.0) as one,
        registry(fresh_database_url, redis_url, classifier_url, webhook_timeout_s=30.0) as other,
    ):
        created = await one.post("/v1/webhooks", json={"url": receiver.url, "wilayah": REGION}, headers=auth(admin))
        assert created.status_code == 201, created.text
        hook = created.json()
        for n in range(5):
            http = (one, other)[n % 2]
            kampung = await make_kampung(http, admin, f"99.01.01.200{n + 1}")
            written = await put_module(http, admin, kampung["id"], "kependudukan", "2024-01", kependudukan_payload())
            assert written.status_code == 201, written.text
        expected = [item["cursor"] for item in await follow(one, admin, hook["cursor"])]
        assert len(expected) > 2 * 5, "several batches of 5"

        async def caught_up() -> bool:
            log = await attempts_of(other, admin, hook)
            return sum(a["items"] for a in log if a["status_code"] == 204) >= len(expected)

        await eventually(caught_up, "every change delivered, each batch answered and logged")
        log = await attempts_of(one, admin, hook)
    records = receiver.received()
    assert [r["in_flight"] for r in records] == [1] * len(records), "two batches in flight to one receiver at once"
    delivered = [item["cursor"] for item in delivered_items(records, hook["secret"])]
    assert delivered == expected, "each change once, in feed order"
    assert [r["status"] for r in records] == [204] * len(records)
    assert len(log) == len(records) and all(a["status_code"] == 204 for a in log)


async def lease_of(session: AsyncSession, subscription_id: int) -> tuple[Any, Any]:
    """The subscription's `leased_until` and `lease_token` now (read in a transaction of its own)."""
    query = text("SELECT leased_until, lease_token FROM webhook_subscription WHERE id = :id")
    row = (await session.execute(query, {"id": subscription_id})).one()
    await session.rollback()
    return row.leased_until, row.lease_token


async def test_a_replay_drops_the_lease_and_the_batch_in_flight_moves_nothing(
    fresh_database_url: str, redis_url: str, classifier_url: str, committed_session: AsyncSession, receiver: Receiver
) -> None:
    """A batch is in flight (the receiver holds it) when the subscription is replayed from before the batch it
    delivered first: the lease is gone at once, the batch in flight, answered 204 after, moves nothing and is not
    logged as delivered, and the subscription sends everything after the replay's cursor again."""
    await load_demo_regions(committed_session)
    admin = await make_key(committed_session)
    receiver.mode("ok")
    async with registry(fresh_database_url, redis_url, classifier_url, webhook_timeout_s=30.0) as http:
        hook = (await http.post("/v1/webhooks", json={"url": receiver.url}, headers=auth(admin))).json()
        first = await make_kampung(http, admin)

        async def logged() -> bool:
            return any(a["status_code"] == 204 for a in await attempts_of(http, admin, hook))

        await eventually(logged, "the first Kampung KB delivered")
        (delivered_first,) = await attempts_of(http, admin, hook)
        receiver.mode("wait")
        second = await make_kampung(http, admin, "99.01.01.2002")

        async def in_flight() -> bool:
            return any(record["mode"] == "wait" for record in receiver.received())

        await eventually(in_flight, "the second Kampung KB's batch in flight")
        (held,) = [record for record in receiver.received() if record["mode"] == "wait"]
        held_id = held["headers"]["webhook-id"]
        held_items = Webhook(hook["secret"]).verify(held["body"], held["headers"])["items"]
        assert {item["kampung_id"] for item in held_items} == {second["id"]}
        leased_until, token = await lease_of(committed_session, hook["id"])
        assert leased_until is not None and token is not None, "a batch in flight holds the lease"

        replayed = await http.post(
            f"/v1/webhooks/{hook['id']}/replay", params={"after": delivered_first["cursor_from"]}, headers=auth(admin)
        )
        assert replayed.status_code == 200, replayed.text
        assert await lease_of(committed_session, hook["id"]) == (None, None), "the replay left the lease"
        receiver.mode("ok")  # the batch in flight is answered 204 now

        async def sent_again() -> bool:
            again = [a for a in await attempts_of(http, admin, hook) if a["id"] != delivered_first["id"]]
            return any(a["status_code"] == 204 for a in again)

        await eventually(sent_again, "a delivery after the replay")
        log = await attempts_of(http, admin, hook)
        assert held_id not in {a["message_id"] for a in log}, "the batch in flight was logged as delivered"
        assert [(a["status_code"], a["cursor_from"]) for a in log] == [(204, delivered_first["cursor_from"])] * 2
        records = receiver.received()
        after_replay = records[records.index(held) + 1 :]
        # A replay's batches are messages of their own: under the first delivery's id, a receiver that drops repeats
        # by `webhook-id` would drop the whole replay (issue #16).
        before_replay = {record["headers"]["webhook-id"] for record in records[: records.index(held) + 1]}
        assert after_replay and after_replay[0]["headers"]["webhook-id"] != delivered_first["message_id"]
        assert not before_replay & {record["headers"]["webhook-id"] for record in after_replay}
        items = delivered_items(after_replay, hook["secret"])
        kampung_ids = list(dict.fromkeys(item["kampung_id"] for item in items))
        assert kampung_ids == [first["id"], second["id"]], "everything after the replay's cursor again"


def taken_once(records: list[dict[str, Any]], secret: str) -> list[dict[str, Any]]:
    """The items a receiver that drops repeats by `webhook-id` takes: a message's the first time its id comes, whatever
    it answered (one that took a batch and then answered 500, or too late, has taken it), each signature verified."""
    verifier = Webhook(secret)
    seen: set[str] = set()
    items: list[dict[str, Any]] = []
    for record in records:
        payload = verifier.verify(record["body"], record["headers"])
        if record["headers"]["webhook-id"] not in seen:
            seen.add(record["headers"]["webhook-id"])
            items += payload["items"]
    return items


def bodies_by_id(records: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Each `webhook-id` the receiver got, with every body it came with."""
    bodies: dict[str, set[str]] = {}
    for record in records:
        bodies.setdefault(record["headers"]["webhook-id"], set()).add(record["body"])
    return bodies


async def every_attempt(http: httpx.AsyncClient, key: str, hook: dict[str, Any]) -> list[dict[str, Any]]:
    """The subscription's whole deliveries log, oldest first (every page of it)."""
    attempts: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 1000}
    while True:
        response = await http.get(f"/v1/webhooks/{hook['id']}/deliveries", params=params, headers=auth(key))
        assert response.status_code == 200, response.text
        attempts += response.json()["items"]
        if response.json()["next_cursor"] is None:
            return attempts[::-1]
        params["cursor"] = response.json()["next_cursor"]


async def write_changes(http: httpx.AsyncClient, key: str, *desa_codes: str) -> None:
    """A Kampung KB in each desa and its kependudukan for a month: several changes of the region each."""
    for desa_code in desa_codes:
        kampung = await make_kampung(http, key, desa_code)
        written = await put_module(http, key, kampung["id"], "kependudukan", "2024-01", kependudukan_payload())
        assert written.status_code == 201, written.text


@pytest.mark.parametrize("answer", ["fail", "slow"])
async def test_a_receiver_dropping_repeats_by_id_takes_the_changes_that_came_between_two_attempts(
    fresh_database_url: str,
    redis_url: str,
    classifier_url: str,
    committed_session: AsyncSession,
    receiver: Receiver,
    answer: str,
) -> None:
    """The receiver takes each batch but its answer is lost (500, or too late), and more changes are written before the
    next attempt, which reads them with the ones before: that attempt is another message, under an id the receiver
    has not seen, so one dropping repeats by `webhook-id` takes every change. Issue #16: the id was the batch's first
    cursor alone, the same for both attempts, and the changes written between them were dropped and never sent
    again. Each attempt's log line holds the id it was sent with."""
    await load_demo_regions(committed_session)
    admin = await make_key(committed_session)
    receiver.mode(answer)
    async with registry(fresh_database_url, redis_url, classifier_url) as http:
        hook = (
            await http.post("/v1/webhooks", json={"url": receiver.url, "wilayah": REGION}, headers=auth(admin))
        ).json()
        first = await make_kampung(http, admin)

        async def failed() -> bool:
            return any(a["next_retry_at"] is not None for a in await attempts_of(http, admin, hook))

        await eventually(failed, f"an attempt at the first Kampung KB's batch answered {answer}")
        assert {item["kampung_id"] for item in taken_once(receiver.received(), hook["secret"])} == {first["id"]}
        later = await make_kampung(http, admin, "99.01.01.2002")
        expected = [item["cursor"] for item in await follow(http, admin, hook["cursor"])]
        assert len(expected) < 5, "one batch (of 5) holds every change: the next attempt reads them all"

        receiver.mode("ok")

        async def caught_up() -> bool:
            got = {i["cursor"] for i in delivered_items(receiver.received(), hook["secret"])}
            return got >= set(expected)

        await eventually(caught_up, "every change answered with a 2xx")
        records = receiver.received()
        taken = {item["cursor"] for item in taken_once(records, hook["secret"])}
        assert taken >= set(expected), "a change sent only under an id the receiver had seen"
        assert any(i["kampung_id"] == later["id"] for i in taken_once(records, hook["secret"]))
        sent = {record["headers"]["webhook-id"]: json.loads(record["body"]) for record in records}
        for attempt in await every_attempt(http, admin, hook):
            assert sent[attempt["message_id"]]["next_cursor"] == attempt["cursor_to"], "logged under another id"
            assert len(sent[attempt["message_id"]]["items"]) == attempt["items"]


async def test_every_attempt_at_one_page_has_one_id_through_a_disable_and_an_enable(
    fresh_database_url: str, redis_url: str, classifier_url: str, committed_session: AsyncSession, receiver: Receiver
) -> None:
    """One `webhook-id` is one message: the attempts at a page that did not change (a full batch: its last change is
    its end) keep its id, also the first attempt after the subscription was disabled and enabled again (enabling
    resumes the same batch), and a receiver that took it drops the repeats; an attempt that read another page after
    the same cursor (more changes came) has another id. The id was the batch's first cursor alone (issue #16)."""
    await load_demo_regions(committed_session)
    admin = await make_key(committed_session)
    async with registry(fresh_database_url, redis_url, classifier_url) as http:
        hook = (
            await http.post("/v1/webhooks", json={"url": receiver.url, "wilayah": REGION}, headers=auth(admin))
        ).json()
        await make_kampung(http, admin)

        async def failed() -> bool:
            return any(a["status_code"] == 500 for a in await attempts_of(http, admin, hook))

        await eventually(failed, "an attempt at the first Kampung KB's batch answered 500")
        await write_changes(http, admin, "99.01.01.2002", "99.01.01.2003", "99.01.01.2004")
        expected = [item["cursor"] for item in await follow(http, admin, hook["cursor"])]
        assert len(expected) > 5, "the first batch (of 5) is full"

        async def full_page_retried() -> bool:
            return sum(a["items"] == 5 for a in await attempts_of(http, admin, hook)) >= 2

        await eventually(full_page_retried, "two attempts at the full first batch")
        # Disabled as the retry window does it: the lease dropped, so an attempt in flight moves nothing.
        await committed_session.execute(
            text(
                "UPDATE webhook_subscription SET disabled_at = now(), leased_until = NULL, lease_token = NULL"
                " WHERE id = :id"
            ),
            {"id": hook["id"]},
        )
        await committed_session.commit()
        receiver.mode("ok")
        enabled = await http.post(f"/v1/webhooks/{hook['id']}/enable", headers=auth(admin))
        assert enabled.status_code == 200 and enabled.json()["enabled"] is True, enabled.text

        async def caught_up() -> bool:
            got = {i["cursor"] for i in delivered_items(receiver.received(), hook["secret"])}
            return got >= set(expected)

        await eventually(caught_up, "every change answered with a 2xx after enabling")
        log = await every_attempt(http, admin, hook)
    records = receiver.received()
    assert all(len(bodies) == 1 for bodies in bodies_by_id(records).values()), "one id sent with two bodies"
    assert {item["cursor"] for item in taken_once(records, hook["secret"])} >= set(expected)
    pages: dict[tuple[str, str], set[str]] = {}
    for attempt in log:
        pages.setdefault((attempt["cursor_from"], attempt["cursor_to"]), set()).add(attempt["message_id"])
    assert all(len(ids) == 1 for ids in pages.values()), "one page sent under two ids"
    ids = [next(iter(page_ids)) for page_ids in pages.values()]
    assert len(set(ids)) == len(ids), "two pages sent under one id"
    at_first = [a for a in log if a["cursor_from"] == hook["cursor"]]
    assert len({a["cursor_to"] for a in at_first}) >= 2, "another page after the first cursor"
    full = [a for a in at_first if a["items"] == 5]
    assert [a["status_code"] for a in full][-1] == 204 and len(full) >= 3, full
    assert len({a["message_id"] for a in full}) == 1, "the full batch's id changed over its retries or an enable"


async def test_a_replay_sends_messages_the_receiver_has_not_seen_even_when_their_content_was_sent_before(
    fresh_database_url: str, redis_url: str, classifier_url: str, committed_session: AsyncSession, receiver: Receiver
) -> None:
    """Two replays from the subscription's first cursor send the same full first batch (same changes, same end) the
    second time as the first: each time under ids the receiver has not seen, so one that drops repeats by
    `webhook-id` takes every change of each replay. With the ids of the first time (issue #16) it took none."""
    await load_demo_regions(committed_session)
    admin = await make_key(committed_session)
    receiver.mode("ok")
    async with registry(fresh_database_url, redis_url, classifier_url) as http:
        hook = (
            await http.post("/v1/webhooks", json={"url": receiver.url, "wilayah": REGION}, headers=auth(admin))
        ).json()
        await write_changes(http, admin, DEMO_DESA, "99.01.01.2002", "99.01.01.2003")
        expected = [item["cursor"] for item in await follow(http, admin, hook["cursor"])]
        assert len(expected) > 5, "the first batch (of 5) is full"
        passes: list[list[dict[str, Any]]] = []
        for replays in range(3):
            before = len(receiver.received()) if replays else 0
            if replays:
                replayed = await http.post(
                    f"/v1/webhooks/{hook['id']}/replay", params={"after": hook["cursor"]}, headers=auth(admin)
                )
                assert replayed.status_code == 200, replayed.text

            async def delivered(before: int = before) -> bool:
                got = {i["cursor"] for i in delivered_items(receiver.received()[before:], hook["secret"])}
                return got >= set(expected)

            await eventually(delivered, f"every change delivered after {replays} replays")
            passes.append(receiver.received()[before:])
    seen: set[str] = set()
    for replays, records in enumerate(passes):
        ids = {record["headers"]["webhook-id"] for record in records}
        assert not ids & seen, f"replay {replays} sent an id the receiver had seen"
        taken = {item["cursor"] for item in taken_once(records, hook["secret"])}
        assert taken >= set(expected), f"replay {replays}: a change the receiver took as a repeat"
        seen |= ids
    first, second = (
        next(r for r in records if json.loads(r["body"])["items"][0]["cursor"] == expected[0]) for records in passes[1:]
    )
    assert first["body"] == second["body"], "the two replays' first batches are the same full page"
    assert first["headers"]["webhook-id"] != second["headers"]["webhook-id"]


async def test_a_subscription_behind_the_kept_changes_is_disabled_saying_why(
    fresh_database_url: str, redis_url: str, classifier_url: str, committed_session: AsyncSession, receiver: Receiver
) -> None:
    """The receiver fails, so the subscription's cursor stays before its first change; the feed is then pruned past
    it (as the relay's housekeeping does after `REGISTRY_CHANGES_RETENTION_DAYS`): the next attempt disables it, its
    log says the cursor is older than the changes kept, and a replay from a newer cursor enables it again."""
    await load_demo_regions(committed_session)
    admin = await make_key(committed_session)
    async with registry(fresh_database_url, redis_url, classifier_url) as http:
        hook = (await http.post("/v1/webhooks", json={"url": receiver.url}, headers=auth(admin))).json()
        await make_kampung(http, admin)

        async def failing() -> bool:
            return any(a["status_code"] == 500 for a in await attempts_of(http, admin, hook))

        await eventually(failing, "an attempt answered 500")
        await committed_session.execute(text("UPDATE change_log SET changed_at = changed_at - interval '100 days'"))
        assert await feed.prune(committed_session, retention_s=90 * 86_400.0) > 0
        await committed_session.commit()

        await eventually(lambda: disabled(committed_session, hook["id"]), "disabled behind the kept changes")
        newest = (await attempts_of(http, admin, hook))[0]
        assert newest["status_code"] is None and newest["next_retry_at"] is None and newest["items"] == 0
        assert "older than the changes kept" in newest["error"], newest
        current = (await http.get(f"/v1/webhooks/{hook['id']}", headers=auth(admin))).json()
        assert current["enabled"] is False and current["disabled_at"] is not None
        assert all(a["status_code"] == 500 for a in (await attempts_of(http, admin, hook))[1:])

        head = (await http.get("/v1/changes/head", headers=auth(admin))).json()["cursor"]
        replayed = await http.post(f"/v1/webhooks/{hook['id']}/replay", params={"after": head}, headers=auth(admin))
        assert replayed.status_code == 200 and replayed.json()["enabled"] is True, replayed.text


def backlog_age(subscription_id: int) -> float | None:
    """`registry_webhook_backlog_age_seconds` of the subscription, as this process exports it (None: not exported)."""
    return REGISTRY.get_sample_value("registry_webhook_backlog_age_seconds", {"subscription": str(subscription_id)})


async def test_a_dead_receivers_backlog_age_grows_while_nothing_is_delivered(
    fresh_database_url: str, redis_url: str, classifier_url: str, committed_session: AsyncSession, receiver: Receiver
) -> None:
    """The lag of a delivery is set only by a delivery, so a receiver that is down never raised its alert: each pass
    reads from the database how long the oldest change a subscription is owed has waited, which grows while nothing
    is delivered, is 0 once it is caught up, and is no longer exported once the subscription is disabled, which is
    counted instead."""
    BACKLOG_AGE.clear()  # what dispatchers of earlier tests exported (subscription ids start again in each database)
    await load_demo_regions(committed_session)
    admin = await make_key(committed_session)
    receiver.stop()  # down: every attempt is refused
    receiver.mode("ok")
    async with registry(fresh_database_url, redis_url, classifier_url) as http:
        hook = (await http.post("/v1/webhooks", json={"url": receiver.url}, headers=auth(admin))).json()
        await make_kampung(http, admin)

        async def behind() -> bool:
            return (backlog_age(hook["id"]) or 0.0) > 0

        await eventually(behind, "a backlog age")
        first = backlog_age(hook["id"])
        assert first is not None

        async def growing() -> bool:
            return (backlog_age(hook["id"]) or 0.0) > first

        await eventually(growing, "the backlog age to grow")
        log = (await http.get(f"/v1/webhooks/{hook['id']}/deliveries", headers=auth(admin))).json()["items"]
        assert log and all(a["status_code"] is None and a["error"].startswith("ConnectError") for a in log), log
        assert receiver.received() == [], "nothing was delivered"

        receiver.start()

        async def caught_up() -> bool:
            return backlog_age(hook["id"]) == 0.0

        await eventually(caught_up, "the backlog age back to 0 once delivered")
        assert [r["status"] for r in receiver.received()] == [204]

        disabled_before = REGISTRY.get_sample_value("registry_webhook_subscriptions_disabled")
        assert disabled_before == 0.0
        await committed_session.execute(
            text("UPDATE webhook_subscription SET disabled_at = now() WHERE id = :id"), {"id": hook["id"]}
        )
        await committed_session.commit()

        async def counted_disabled() -> bool:
            disabled = REGISTRY.get_sample_value("registry_webhook_subscriptions_disabled")
            return disabled == 1.0 and backlog_age(hook["id"]) is None

        await eventually(counted_disabled, "the subscription counted disabled, its backlog age no longer exported")
