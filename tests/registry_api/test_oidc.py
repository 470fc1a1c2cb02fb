"""OpenID Connect bearer tokens, against a real provider process on loopback: discovery and JWKS fetched and
cached, a key rotation followed without a restart (an unknown key id refetches, at most once per interval), and
expired, wrong-audience, wrong-issuer, not-yet-valid, foreign-signed and unsigned tokens refused; webhooks, which
deliver only while their creator has a key in force, are neither subscribed nor resumed with a token."""

import base64
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kampungkb_local.servers import free_port
from registry_api.settings import Settings
from registry_api.webhooks.models import WebhookSubscription
from tests.factories import auth, kependudukan_payload, put_module
from tests.registry_api.conftest import app_client

AUDIENCE = "kampungkb-registry"


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    """The provider as a process of its own; its URL is the issuer."""
    port = free_port()
    process = subprocess.Popen([sys.executable, str(Path(__file__).with_name("oidc_provider.py")), str(port)])
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                httpx.get(f"{url}/stats", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        else:
            raise AssertionError("the provider did not start")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


class Idp:
    def __init__(self, url: str) -> None:
        self.url = url

    async def token(self, **claims: Any) -> str:
        now = int(time.time())
        body = {
            "iss": self.url,
            "aud": AUDIENCE,
            "sub": "user-1",
            "name": "Petugas Satu",
            "iat": now,
            "exp": now + 300,
            "kampungkb_role": "kabupaten",
            "kampungkb_scope": "99.01",
            **claims,
        }
        async with httpx.AsyncClient() as http:
            return str((await http.post(f"{self.url}/token", json=body)).json()["token"])

    async def rotate(self) -> str:
        async with httpx.AsyncClient() as http:
            return str((await http.post(f"{self.url}/rotate")).json()["kid"])

    async def fetches(self) -> int:
        async with httpx.AsyncClient() as http:
            return int((await http.get(f"{self.url}/stats")).json()["jwks_fetches"])


def _oidc(settings: Settings, issuer: str, **fields: object) -> Settings:
    return settings.model_copy(update={"oidc_issuer": issuer, "oidc_audience": AUDIENCE, **fields})


@pytest.fixture
async def registry(
    settings: Settings, session_factory: async_sessionmaker[AsyncSession], provider: str
) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(_oidc(settings, provider, oidc_jwks_refetch_s=0.0), session_factory) as (_, http):
        yield http


async def test_tokens_of_the_provider_are_accepted_and_its_rotation_followed(
    registry: httpx.AsyncClient, provider: str, admin: str, kampung_id: int
) -> None:
    idp = Idp(provider)
    before = await idp.fetches()
    me = await registry.get("/v1/me", headers=auth(await idp.token()))
    assert me.status_code == 200, me.text
    assert me.json() | {"expires_at": None} == {
        "principal_id": None,
        "subject": "user-1",
        "kind": "person",
        "name": "Petugas Satu",
        "role": "kabupaten",
        "scope": "99.01",
        "key_prefix": None,
        "expires_at": None,
    }
    written = await put_module(
        registry, await idp.token(), kampung_id, "kependudukan", "2024-01", kependudukan_payload()
    )
    assert written.status_code == 201 and written.json()["submitted_by"] == "oidc:user-1"
    assert await idp.fetches() == before + 1  # cached: the second token made no fetch
    imported = await registry.post(
        "/v1/imports",
        params={"module": "kampung"},
        content=b"desa_code,name,formed_on\n99.01.01.2002,X,2020-01-01\n",
        headers={**auth(await idp.token()), "Content-Type": "text/csv"},
    )
    assert imported.status_code == 403  # bulk imports are sent with an integration's API key

    await idp.rotate()
    after_rotation = await registry.get("/v1/me", headers=auth(await idp.token(sub="user-2")))
    assert after_rotation.status_code == 200, after_rotation.text
    assert await idp.fetches() == before + 2


async def test_bad_tokens_are_refused(registry: httpx.AsyncClient, provider: str) -> None:
    idp = Idp(provider)
    now = int(time.time())
    good = await idp.token()
    assert (await registry.get("/v1/me", headers=auth(good))).status_code == 200
    kid = jwt.get_unverified_header(good)["kid"]
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    claims = jwt.decode(good, options={"verify_signature": False})

    def unsigned(payload: dict[str, Any]) -> str:
        def part(data: dict[str, Any]) -> str:
            return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

        return f"{part({'alg': 'none', 'typ': 'JWT', 'kid': kid})}.{part(payload)}."

    bad = {
        "expired": await idp.token(exp=now - 3600, iat=now - 7200),
        "wrong audience": await idp.token(aud="another-app"),
        "wrong issuer": await idp.token(iss="http://127.0.0.1:1"),
        "not yet valid": await idp.token(nbf=now + 3600),
        "unsigned": unsigned(claims),
        "signed by another key": jwt.encode(claims, stranger, algorithm="RS256", headers={"kid": kid}),
        "incoherent role and scope": await idp.token(kampungkb_role="admin", kampungkb_scope="99.01"),
        "no role": await idp.token(kampungkb_role=None),
    }
    for what, token in bad.items():
        response = await registry.get("/v1/me", headers=auth(token))
        assert response.status_code == 401, (what, response.text)
        assert response.headers["content-type"] == "application/problem+json"


async def test_unknown_key_ids_refetch_at_most_once_per_interval(
    settings: Settings, session_factory: async_sessionmaker[AsyncSession], provider: str
) -> None:
    idp = Idp(provider)
    async with app_client(_oidc(settings, provider, oidc_jwks_refetch_s=3600.0), session_factory) as (_, http):
        assert (await http.get("/v1/me", headers=auth(await idp.token()))).status_code == 200
        fetched = await idp.fetches()
        await idp.rotate()
        for _ in range(5):
            assert (await http.get("/v1/me", headers=auth(await idp.token()))).status_code == 401
        assert await idp.fetches() == fetched


async def test_webhooks_are_subscribed_and_resumed_with_an_api_key_not_a_token(
    registry: httpx.AsyncClient, provider: str, session: AsyncSession, admin: str
) -> None:
    """A subscription delivers while its creator has a key in force, checked at every pass; the subject of a token has
    none, and its removal at the provider would be seen nowhere. A token lists and deletes its own subscriptions
    (made before the rule), but neither subscribes nor resumes one."""
    token = await Idp(provider).token()
    refused = await registry.post("/v1/webhooks", json={"url": "https://8.8.8.8/hook"}, headers=auth(token))
    assert refused.status_code == 403, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert "API key" in refused.json()["detail"]

    made = await registry.post("/v1/webhooks", json={"url": "https://8.8.8.8/hook"}, headers=auth(admin))
    assert made.status_code == 201, made.text
    hook = made.json()["id"]
    await session.execute(update(WebhookSubscription).where(WebhookSubscription.id == hook).values(owner="oidc:user-1"))
    await session.commit()
    listed = await registry.get("/v1/webhooks", headers=auth(token))
    assert [w["id"] for w in listed.json()["items"]] == [hook]
    for path, params in (("enable", {}), ("replay", {"after": "0-0"})):
        resumed = await registry.post(f"/v1/webhooks/{hook}/{path}", params=params, headers=auth(token))
        assert resumed.status_code == 403, (path, resumed.text)
        assert "API key" in resumed.json()["detail"]
    assert (await registry.delete(f"/v1/webhooks/{hook}", headers=auth(token))).status_code == 204
