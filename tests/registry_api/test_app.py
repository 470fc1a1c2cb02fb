import httpx

from tests.factories import auth


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "redis": "ok"}


async def test_openapi_docs_and_metrics(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert "/v1/kampung" in spec["paths"] and "/v1/wilayah/import" in spec["paths"]
    assert (await client.get("/docs")).status_code == 200
    await client.get("/healthz")
    await client.get("/v1/wilayah/00")  # no such region here: a 404 of a route that matched
    await client.get("/v1/nothing-here")
    metrics = (await client.get("/metrics")).text
    # By the template of the route that answered, once the router matched it (`none` when none did); probes and
    # scrapes left out.
    assert 'http_request_duration_seconds_count{handler="/v1/wilayah/{code}",method="GET"}' in metrics
    assert 'http_requests_total{handler="/v1/wilayah/{code}",method="GET",status="4xx"}' in metrics
    assert 'http_requests_total{handler="none",method="GET",status="4xx"}' in metrics
    assert 'handler="/healthz"' not in metrics and 'handler="/metrics"' not in metrics


async def test_errors_are_problem_json(client: httpx.AsyncClient, admin: str) -> None:
    missing = await client.get("/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["status"] == 404
    wrong_method = await client.delete("/v1/wilayah")
    assert wrong_method.status_code == 405
    assert wrong_method.headers["content-type"] == "application/problem+json"
    # A body that is not JSON is refused as it is read, before the caller is asked for: with a key or without.
    for headers in ({}, auth(admin)):
        bad_json = await client.post(
            "/v1/kampung", content=b"{not json", headers={"Content-Type": "application/json", **headers}
        )
        assert bad_json.status_code == 400
        assert bad_json.headers["content-type"] == "application/problem+json"
        assert bad_json.json()["type"] == "/problems/bad-request"
    bad_fields = await client.post("/v1/kampung", json={"name": 1})
    assert bad_fields.status_code == 401  # a body that is JSON is checked only once the caller is known


async def test_request_id_is_echoed_or_made(client: httpx.AsyncClient) -> None:
    given = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert given.headers["X-Request-ID"] == "abc-123"
    made = await client.get("/healthz")
    assert len(made.headers["X-Request-ID"]) == 32


async def test_cors_allows_configured_front_ends_only(client: httpx.AsyncClient) -> None:
    preflight = {"Access-Control-Request-Method": "PUT"}
    allowed = await client.options("/v1/kampung", headers={"Origin": "http://localhost:5173", **preflight})
    assert allowed.headers["access-control-allow-origin"] == "http://localhost:5173"
    refused = await client.options("/v1/kampung", headers={"Origin": "http://evil.example", **preflight})
    assert "access-control-allow-origin" not in refused.headers


async def test_body_over_the_limit_is_413_before_it_is_read(client: httpx.AsyncClient) -> None:
    body = b"x" * (1_048_576 + 1)
    response = await client.post("/v1/kampung", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
