"""Security headers on every response of the classifier, a real process over HTTP, and HSTS when configured."""

import re

import httpx
from asgi_lifespan import LifespanManager

from classifier.main import create_app
from classifier.settings import Settings
from tests.factories import csp_allows, security_header_problems


async def test_every_response_of_the_running_classifier_carries_the_headers(classifier_url: str) -> None:
    async with httpx.AsyncClient(base_url=classifier_url, timeout=10) as http:
        responses = {
            "ok": await http.get("/healthz"),
            "invalid": await http.post("/v1/classify", json={"profil": "nope"}),
            "not found": await http.get("/v1/nothing-here"),
            "metrics": await http.get("/metrics"),
            "openapi": await http.get("/openapi.json"),
            "docs": await http.get("/docs"),
        }
    assert responses["invalid"].status_code == 422
    assert responses["not found"].status_code == 404
    problems = {name: security_header_problems(r) for name, r in responses.items() if security_header_problems(r)}
    assert problems == {}
    assert "strict-transport-security" not in responses["ok"].headers
    docs = responses["docs"]
    scripts = re.findall(r'<script src="([^"]+)"', docs.text)
    assert scripts and all(csp_allows(docs.headers["content-security-policy"], "script-src", s) for s in scripts)


async def test_hsts_when_configured() -> None:
    app = create_app(Settings(HSTS_MAX_AGE_S=600))  # type: ignore[call-arg]
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=manager.app), base_url="http://classifier") as http,
    ):
        response = await http.get("/healthz")
    assert response.headers["strict-transport-security"] == "max-age=600; includeSubDomains"
    assert security_header_problems(response) == []
