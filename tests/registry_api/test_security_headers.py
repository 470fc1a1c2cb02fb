"""Security headers on every response of the registry, error responses and the documentation included."""

import re

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry_api.settings import Settings
from tests.factories import auth, csp_allows, security_header_problems
from tests.registry_api.conftest import app_client


async def test_every_kind_of_response_carries_the_headers(
    settings: Settings, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    async with app_client(settings, session_factory) as (app, _):
        unexpected = "/test-only/unexpected"

        async def fail() -> None:
            raise RuntimeError("an unexpected failure")

        app.add_api_route(unexpected, fail)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://registry.test") as http:
            responses = {
                "ok": await http.get("/healthz"),
                "not found": await http.get("/v1/nothing-here"),
                "unauthorised": await http.post("/v1/kampung", json={}),
                "too large": await http.post("/v1/kampung", content=b"x" * 1_048_577),
                "preflight": await http.options(
                    "/v1/kampung",
                    headers={"Origin": "http://localhost:5173", "Access-Control-Request-Method": "PUT"},
                ),
                "openapi": await http.get("/openapi.json"),
                "metrics": await http.get("/metrics"),
                "docs": await http.get("/docs"),
                "unexpected": await http.get(unexpected),
            }
    assert responses["unexpected"].status_code == 500
    assert responses["too large"].status_code == 413
    problems = {name: security_header_problems(r) for name, r in responses.items() if security_header_problems(r)}
    assert problems == {}
    assert "strict-transport-security" not in responses["ok"].headers, "off by default: TLS ends at the Ingress"
    assert responses["ok"].headers["content-security-policy"].startswith("default-src 'none'")


async def test_docs_policy_lets_the_swagger_page_load(client: httpx.AsyncClient) -> None:
    docs = await client.get("/docs")
    assert docs.status_code == 200
    policy = docs.headers["content-security-policy"]
    scripts = re.findall(r'<script src="([^"]+)"', docs.text)
    styles = re.findall(r'<link type="text/css" rel="stylesheet" href="([^"]+)"', docs.text)
    assert scripts and styles and "<script>" in docs.text
    assert all(csp_allows(policy, "script-src", url) for url in scripts), (policy, scripts)
    assert all(csp_allows(policy, "style-src", url) for url in styles), (policy, styles)
    assert csp_allows(policy, "script-src", "'unsafe-inline'"), "Swagger UI starts from an inline script"
    assert "connect-src 'self'" in policy, "it fetches /openapi.json from the same origin"
    api_policy = (await client.get("/openapi.json")).headers["content-security-policy"]
    assert not csp_allows(api_policy, "script-src", scripts[0]), "API responses load nothing"


async def test_responses_to_credentials_are_not_stored(client: httpx.AsyncClient, admin: str) -> None:
    anonymous = await client.get("/v1/wilayah/99")
    assert anonymous.status_code == 200
    assert anonymous.headers.get("cache-control") != "no-store"
    for headers in (auth(admin), {"X-API-Key": admin}, {"Authorization": "Bearer not-a-key"}):
        response = await client.get("/v1/wilayah/99", headers=headers)
        assert response.headers["cache-control"] == "no-store", headers


async def test_answers_showing_a_secret_once_are_never_stored(
    client: httpx.AsyncClient, admin: str, kampung_id: int
) -> None:
    """A key, an enrolment code, a webhook's signing secret: `no-store` whether or not the request carried
    credentials (`POST /v1/enrol` carries none), and the document says so."""
    key = {"name": "PLKB", "kind": "person", "role": "viewer", "scope": "99", "expires_in_days": 30}
    given = await client.post("/v1/keys", json=key, headers=auth(admin))
    assert given.status_code == 201, given.text
    rotated = await client.post(f"/v1/keys/{given.json()['prefix']}/rotate", json={}, headers=auth(admin))
    enrolment = await client.post("/v1/enrolments", json={"kampung_id": kampung_id, "name": "HP"}, headers=auth(admin))
    enrolled = await client.post("/v1/enrol", json={"code": enrolment.json()["code"], "device_name": "Samsung A05"})
    webhook = await client.post("/v1/webhooks", json={"url": "https://8.8.8.8/hooks/kampungkb"}, headers=auth(admin))
    answers = {"createKey": given, "rotateKey": rotated, "createEnrolment": enrolment, "enrol": enrolled}
    answers["createWebhook"] = webhook
    for name, response in answers.items():
        assert response.status_code in (200, 201), (name, response.text)
        assert response.headers.get("cache-control") == "no-store", name
    schema = (await client.get("/openapi.json")).json()
    by_id = {op["operationId"]: op for item in schema["paths"].values() for op in item.values()}
    for name, response in answers.items():
        declared = by_id[name]["responses"][str(response.status_code)].get("headers", {})
        assert declared.get("Cache-Control", {}).get("schema") == {"type": "string", "enum": ["no-store"]}, name


async def test_hsts_when_configured(settings: Settings, session_factory: async_sessionmaker[AsyncSession]) -> None:
    hardened = settings.model_copy(update={"hsts_max_age_s": 31_536_000})
    async with app_client(hardened, session_factory) as (_, http):
        response = await http.get("/healthz")
    assert response.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"


def test_hsts_setting_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HSTS_MAX_AGE_S", "600")
    assert Settings(DATABASE_URL="postgresql://x/y").hsts_max_age_s == 600  # type: ignore[call-arg]
