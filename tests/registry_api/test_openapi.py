"""The registry's OpenAPI document is one a client can be generated from, and its docs work without internet."""

import httpx

from kampungkb_shared.openapi import REGION_CODE_PATTERN
from kampungkb_shared.periods import PERIOD_PATTERN
from registry_api.db import BIGINT_MAX
from tests.openapi_contract import check_docs_offline, check_document, operations


async def test_the_document_is_valid_and_complete(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    check_document(schema)
    ids = {op["operationId"] for _, _, op in operations(schema)}
    assert {"putKkbpk", "getKampung", "listKampung", "getReport", "createKampung", "getCodeList"} <= ids


async def test_errors_statuses_headers_and_constraints_are_declared(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    by_id = {op["operationId"]: op for _, _, op in operations(schema)}
    put = by_id["putKkbpk"]
    assert {"401", "403", "404", "412", "413", "422"} <= set(put["responses"])
    assert "ETag" in put["responses"]["200"]["headers"] and "ETag" in put["responses"]["201"]["headers"]
    params = {p["name"]: p["schema"] for p in put["parameters"]}
    assert params["period"]["pattern"] == PERIOD_PATTERN
    assert (params["kampung_id"]["minimum"], params["kampung_id"]["maximum"]) == (1, BIGINT_MAX)
    assert by_id["createKampung"]["responses"]["201"]["headers"].keys() >= {"ETag", "Location"}
    assert "409" in by_id["createKampung"]["responses"]
    assert "Retry-After" in by_id["listRulesets"]["responses"]["503"]["headers"]
    # A webhook delivers only while its creator has a key in force: a bearer token neither subscribes nor resumes one.
    for name in ("createWebhook", "enableWebhook", "replayWebhook"):
        assert "bearer token" in by_id[name]["responses"]["403"]["description"], name
    report = {p["name"]: p["schema"] for p in by_id["getReport"]["parameters"]}
    assert report["code"]["pattern"] == REGION_CODE_PATTERN
    # Every read answered whole has its tag and its 304 (`etags.NotModifiedMiddleware`); a streamed one neither.
    reads = {op["operationId"]: op for _, method, op in operations(schema) if method == "get"}
    conditional = {
        name
        for name, op in reads.items()
        if "ETag" in op["responses"]["200"].get("headers", {})
        and "304" in op["responses"]
        and "If-None-Match" in {p["name"] for p in op.get("parameters", [])}
    }
    assert reads.keys() - conditional == {"exportModule"}


async def test_rate_limits_and_the_refusals_of_services_are_declared(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    by_id = {op["operationId"]: op for _, _, op in operations(schema)}
    unlimited = {name for name, op in by_id.items() if "429" not in op["responses"]}
    assert unlimited == {"healthz", "readyz"}
    # Every operation on the database may find it away (`unavailable.py`): a 503 to retry, never a 500.
    assert {name for name, op in by_id.items() if "503" not in op["responses"]} == {
        "healthz",
        "listCodeLists",
        "getCodeList",
    }
    assert all(
        "Retry-After" in op["responses"]["503"].get("headers", {})
        for n, op in by_id.items()
        if n != "readyz" and "503" in op["responses"]
    )
    for name in ("getMe", "enrol", "getEnrolmentQr", "getReport", "putKkbpk", "createImport"):
        assert by_id[name]["responses"]["429"]["headers"].keys() == {
            "Retry-After",
            "RateLimit-Limit",
            "RateLimit-Remaining",
            "RateLimit-Reset",
            "RateLimit-Policy",
        }, name
    declared = {
        "enrol": {"404", "410"},
        "getEnrolmentQr": {"404", "410"},
        "createEnrolment": {"404", "409"},
        "updateKampung": {"409"},
        "putPeriod": {"409"},
        "getClassification": {"503"},
        "getInForce": {"503"},
    }
    for name, statuses in declared.items():
        assert statuses <= by_id[name]["responses"].keys(), name
    for name in ("putPeriod", "putKkbpk", "createKegiatan"):
        assert "/problems/period-approved" in by_id[name]["responses"]["409"]["description"], name
    for name in ("getClassification", "getInForce"):
        assert "Retry-After" in by_id[name]["responses"]["503"]["headers"], name


async def test_problems_carry_their_type(client: httpx.AsyncClient, admin: str) -> None:
    missing = await client.get("/v1/kampung/99999", headers={"X-API-Key": admin})
    assert missing.json()["type"] == "/problems/not-found"
    anonymous = await client.post("/v1/kampung", json={})
    assert anonymous.status_code == 401 and anonymous.json()["type"] == "/problems/unauthorized"
    invalid = await client.post("/v1/kampung", json={"name": ""}, headers={"X-API-Key": admin})
    assert invalid.status_code == 422 and invalid.json()["type"] == "/problems/validation"
    assert invalid.json()["errors"][0]["loc"][0] == "body"
    wrong = await client.delete("/v1/codes")
    assert wrong.status_code == 405 and wrong.json()["type"] == "/problems/method-not-allowed"


async def test_docs_are_served_without_internet(client: httpx.AsyncClient) -> None:
    await check_docs_offline(client)


async def test_links_lead_from_a_kampung_kb_and_a_month_to_every_read_and_write(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    by_id = {op["operationId"]: op for _, _, op in operations(schema)}
    kampung = {op["operationId"] for path, _, op in operations(schema) if path.startswith("/v1/kampung/{kampung_id}")}
    created = by_id["createKampung"]["responses"]["201"]["links"]
    assert by_id["createKampung"]["responses"]["409"]["links"] == created  # the 409 names the one the desa has
    assert created["getKampung"] == {"operationId": "getKampung", "parameters": {"kampung_id": "$response.body#/id"}}
    month = by_id["getInForce"]["responses"]["200"]["links"]
    assert month["putKkbpk"]["parameters"] == {
        "kampung_id": "$response.body#/kampung/id",
        "period": "$response.body#/period",
    }
    recorded = by_id["createKegiatan"]["responses"]["201"]["links"]
    assert recorded == {
        "getKegiatan": {
            "operationId": "getKegiatan",
            "parameters": {"kampung_id": "$response.body#/kampung_id", "kegiatan_id": "$response.body#/id"},
        }
    }
    assert created.keys() | month.keys() | recorded.keys() == kampung
    written = by_id["putKkbpk"]["responses"]["201"]["links"]
    assert written["listRevisions"]["parameters"] == {
        name: f"$response.body#/{name}" for name in ("kampung_id", "module", "period")
    }
    for _, _, op in operations(schema):
        for response in op["responses"].values():
            for link in response.get("links", {}).values():
                taken = {p["name"] for p in by_id[link["operationId"]].get("parameters", [])}
                assert link["parameters"].keys() <= taken, (op["operationId"], link)
    assert "revokeKey" in by_id["createKey"]["responses"]["201"]["links"]
    assert "listKeys" not in {op for op, o in by_id.items() if any("links" in r for r in o["responses"].values())}
