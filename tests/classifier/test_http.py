import json
import logging
from typing import Any

import httpx
import orjson
import pytest
from asgi_lifespan import LifespanManager

from classifier.main import create_app
from classifier.settings import Settings
from kampungkb_shared.observability import RequestIdFilter, json_formatter
from tests.classifier.classifier_factories import OFFICIAL, STRICT, worked_example

PROBLEM = "application/problem+json"


def _item(i: int, **extra: Any) -> dict[str, Any]:
    return {"id": f"k{i}", "period": "2025-06", "snapshot": worked_example(), **extra}


async def test_classify_uses_the_default_rule_set(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/classify", json={"period": "2025-06", "snapshot": worked_example()})
    assert response.status_code == 200
    body = response.json()
    assert (body["ruleset"], body["ruleset_hash"], body["tier"]) == ("bkkbn-web-2021", OFFICIAL.hash, "dasar")
    assert body["indices"] == {"input": 3.0, "proses": 2.67, "output": 2.5}
    assert body["next_tier"]["actions"][0]["indicator"] == "p_lintas_sektor"


async def test_classify_with_a_named_rule_set(client: httpx.AsyncClient) -> None:
    snap = {**worked_example(), "kkbpk": None}
    response = await client.post("/v1/classify", json={"ruleset": "kkb-2025", "period": "2025-06", "snapshot": snap})
    assert response.status_code == 200
    assert response.json()["tier"] == "belum_terklasifikasi"
    assert response.json()["ruleset_hash"] == STRICT.hash


async def test_bad_body_is_a_422_problem_naming_the_field(client: httpx.AsyncClient) -> None:
    snap = worked_example()
    snap["profil"]["funding_sources"] = ["APBN", "NOT_A_SOURCE"]
    response = await client.post("/v1/classify", json={"period": "2025-13", "snapshot": snap})
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["status"] == 422 and problem["title"]
    locs = [e["loc"] for e in problem["errors"]]
    assert ["body", "period"] in locs
    assert ["body", "snapshot", "profil", "funding_sources", 1] in locs


async def test_unknown_rule_set_is_a_422_on_the_ruleset_field(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/classify", json={"ruleset": "nope", "period": "2025-06", "snapshot": {}})
    assert response.status_code == 422
    assert response.json()["errors"] == [{"loc": ["body", "ruleset"], "msg": response.json()["errors"][0]["msg"]}]


async def test_malformed_json_is_a_422_not_a_500(client: httpx.AsyncClient) -> None:
    for path in ("/v1/classify", "/v1/classify/batch"):
        response = await client.post(path, content=b"{not json", headers={"content-type": "application/json"})
        assert response.status_code == 422, path
        assert response.headers["content-type"] == PROBLEM


async def test_batch_reports_a_bad_item_without_failing_the_others(client: httpx.AsyncClient) -> None:
    bad = _item(1)
    bad["snapshot"]["kependudukan"]["pus"] = -3
    items = [_item(0), bad, _item(2, snapshot={**worked_example(5)}), "not an object"]
    response = await client.post("/v1/classify/batch", json={"items": items})
    assert response.status_code == 200
    body = response.json()
    assert [(r["id"], r["index"], r["tier"]) for r in body["results"]] == [("k0", 0, "dasar"), ("k2", 2, "berkembang")]
    assert [(e["id"], e["index"]) for e in body["errors"]] == [("k1", 1), (None, 3)]
    assert body["errors"][0]["errors"][0]["loc"] == ["snapshot", "kependudukan", "pus"]


async def test_batch_results_match_single_classification(client: httpx.AsyncClient) -> None:
    single = (await client.post("/v1/classify", json={"period": "2025-06", "snapshot": worked_example()})).json()
    batch = (await client.post("/v1/classify/batch", json={"items": [_item(0)]})).json()
    [result] = batch["results"]
    assert {k: v for k, v in result.items() if k not in ("id", "index")} == single


async def test_batch_item_coerced_by_the_models_is_still_scored(client: httpx.AsyncClient) -> None:
    item = _item(7)
    item["snapshot"]["kependudukan"]["pus"] = "10000"  # lax JSON a model accepts, the strict inputs do not
    body = (await client.post("/v1/classify/batch", json={"ruleset": "kkb-2025", "items": [item]})).json()
    assert body["errors"] == []
    assert body["results"][0]["raw"]["pus"] == 10000


async def test_batch_over_ten_thousand_items_is_413(client: httpx.AsyncClient) -> None:
    items = [{"id": i, "period": "2025-06", "snapshot": {}} for i in range(10_001)]
    response = await client.post("/v1/classify/batch", content=orjson.dumps({"items": items}))
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM
    ok = await client.post("/v1/classify/batch", content=orjson.dumps({"items": items[:10_000]}))
    assert ok.status_code == 200 and len(ok.json()["results"]) == 10_000


@pytest.mark.parametrize("path", ["/v1/classify", "/v1/classify/batch", "/v1/explain"])
async def test_every_body_over_the_limit_is_413_declared_or_streamed(path: str) -> None:
    """The limit holds on every body, counted as it streams: a chunked body declares no length."""
    app = create_app(Settings(max_body_bytes=1000))

    async def chunks() -> Any:
        for _ in range(10):
            yield b" " * 200

    transport = httpx.ASGITransport(app=app)
    async with LifespanManager(app), httpx.AsyncClient(transport=transport, base_url="http://c") as c:
        declared = await c.post(path, content=b" " * 1001, headers={"content-type": "application/json"})
        streamed = await c.post(path, content=chunks(), headers={"content-type": "application/json"})
        within = await c.post(path, json={"period": "2025-06", "snapshot": {}, "items": []})
    for response in (declared, streamed):
        assert (response.status_code, response.headers["content-type"]) == (413, PROBLEM), response.text
    assert within.status_code in (200, 422), within.text


async def test_batch_body_shape_errors_name_the_field(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/classify/batch", json={"items": {"a": 1}})
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "items"]


async def test_rulesets_list_and_get(client: httpx.AsyncClient) -> None:
    listed = (await client.get("/v1/rulesets")).json()
    assert {r["id"]: (r["hash"], r["default"]) for r in listed} == {
        "bkkbn-web-2021": (OFFICIAL.hash, True),
        "kkb-2025": (STRICT.hash, False),
    }
    one = (await client.get("/v1/rulesets/kkb-2025")).json()
    assert one["policies"]["partners"]["window_months"] == 12
    assert sorted(one["policies"]["partners"]["exclude"]) == ["OPD_PPKB", "PERWAKILAN_BKKBN"]
    assert one["bands"]["o_unmet"]["edges"][0] == [6, 4]
    missing = await client.get("/v1/rulesets/nope")
    assert missing.status_code == 404 and missing.headers["content-type"] == PROBLEM


async def test_metrics_count_classifications_and_latency(client: httpx.AsyncClient) -> None:
    await client.post("/v1/classify/batch", json={"items": [_item(0), _item(1)]})
    text = (await client.get("/metrics")).text
    assert 'classifier_classifications_total{ruleset="bkkbn-web-2021",tier="dasar"} 2.0' in text
    assert 'classifier_request_duration_seconds_count{method="POST",route="/v1/classify/batch"} 1.0' in text


async def test_request_id_is_echoed_and_logged(client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="classifier.access"):
        response = await client.get("/v1/rulesets", headers={"x-request-id": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    [record] = [r for r in caplog.records if r.name == "classifier.access"]
    assert RequestIdFilter().filter(record)  # as the process's log handler does: the id is the request's
    line = json.loads(json_formatter().format(record))
    assert (line["request_id"], line["status"], line["path"]) == ("abc-123", 200, "/v1/rulesets")
    assert (await client.get("/healthz")).headers["x-request-id"]


async def test_probes_and_scrapes_are_neither_logged_nor_timed(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="classifier.access"):
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        assert (await client.get("/readyz")).status_code == 200
        assert (await client.get("/metrics")).status_code == 200
        metrics = (await client.get("/metrics")).text
    assert [r for r in caplog.records if r.name == "classifier.access"] == []
    assert "classifier_request_duration_seconds_count{" not in metrics


async def test_openapi_documents_the_batch_body(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    batch = schema["paths"]["/v1/classify/batch"]["post"]
    assert batch["requestBody"]["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/BatchRequest"
    assert "BatchItem" in schema["components"]["schemas"]
    assert "BatchResponse" in schema["components"]["schemas"]


async def test_default_rule_set_is_a_setting() -> None:
    app = create_app(Settings(default_ruleset="kkb-2025"))
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://c") as http:
            body = (await http.post("/v1/classify", json={"period": "2025-06", "snapshot": worked_example()})).json()
            assert body["ruleset"] == "kkb-2025"


async def test_unknown_default_rule_set_fails_start_up() -> None:
    app = create_app(Settings(default_ruleset="nope"))
    with pytest.raises(RuntimeError, match="CLASSIFIER_DEFAULT_RULESET"):
        async with LifespanManager(app):
            pass


def test_default_rule_set_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLASSIFIER_DEFAULT_RULESET", "kkb-2025")
    assert Settings().default_ruleset == "kkb-2025"
