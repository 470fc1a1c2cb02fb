"""What a phone meets when its request cannot be taken: a body that is not JSON is a 400, one of another type a 415,
and each invalid field is named by `loc` at the field (a mapping's key included), with pydantic's error `type` and
the service's own message."""

import uuid
from typing import Any

import httpx
import pytest

from registry_api.settings import Settings
from tests.factories import auth, kependudukan_payload, kkbpk_payload, profil_payload, put_module
from tests.openapi_contract import operations
from tests.registry_api.conftest import registry_settings

PROBLEM = "application/problem+json"
TRUNCATED = b'{"name": "Kampung KB Mel'


@pytest.fixture
def settings(database_url: str, redis_url: str, classifier_url: str) -> Settings:
    """A count of requests of its own: `POST /v1/enrol`, called here too, takes 30 a minute from one address."""
    return registry_settings(database_url, redis_url, classifier_url, rate_limit_prefix=f"test-{uuid.uuid4().hex}")


def _targets(kampung_id: int) -> list[tuple[str, str]]:
    return [
        ("POST", "/v1/kampung"),
        ("PUT", f"/v1/kampung/{kampung_id}/kependudukan/2024-01"),
        ("POST", f"/v1/kampung/{kampung_id}/kegiatan"),
        ("POST", "/v1/enrol"),
    ]


@pytest.mark.parametrize("body", [TRUNCATED, b"{not json", b'{"pus": 1,}', b"\x00\x01"], ids=repr)
async def test_a_body_that_is_not_json_is_a_bad_request(
    client: httpx.AsyncClient, admin: str, kampung_id: int, body: bytes
) -> None:
    for method, path in _targets(kampung_id):
        response = await client.request(
            method, path, content=body, headers={**auth(admin), "Content-Type": "application/json"}
        )
        assert response.status_code == 400, (path, response.text)
        assert response.headers["content-type"] == PROBLEM
        problem = response.json()
        assert problem["type"] == "/problems/bad-request" and "not JSON" in problem["detail"], problem
        assert "errors" not in problem


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
async def test_a_body_of_another_type_is_unsupported(
    client: httpx.AsyncClient, admin: str, kampung_id: int, content_type: str | None
) -> None:
    body = b'{"pus": 100}'
    headers = auth(admin) | ({"Content-Type": content_type} if content_type else {})
    for method, path in _targets(kampung_id):
        response = await client.request(method, path, content=body, headers=headers)
        assert response.status_code == 415, (path, response.text)
        problem = response.json()
        assert problem["type"] == "/problems/unsupported-media-type"
        assert problem["detail"] == f"Content-Type must be application/json, not {content_type or 'missing'}"


async def test_json_by_any_of_its_names_is_read(client: httpx.AsyncClient, admin: str, kampung_id: int) -> None:
    path = f"/v1/kampung/{kampung_id}/kependudukan/2024-01"
    for content_type in ("application/json; charset=utf-8", "APPLICATION/JSON"):
        response = await client.put(
            path,
            content=httpx.Request("PUT", "/", json=kependudukan_payload()).content,
            headers={**auth(admin), "Content-Type": content_type},
        )
        assert response.status_code in (200, 201), (content_type, response.text)
    # With no body at all the body is missing, as before: a 422 naming it.
    empty = await client.put(path, headers={**auth(admin), "Content-Type": "text/plain"})
    assert empty.status_code == 422 and empty.json()["errors"][0] == {
        "loc": ["body"],
        "msg": "Field required",
        "type": "missing",
    }


async def test_imports_read_their_own_types(client: httpx.AsyncClient, admin: str) -> None:
    csv = await client.post(
        "/v1/imports?module=kampung&dry_run=true",
        headers={**auth(admin), "Content-Type": "text/csv"},
        content=b"desa_code,name,formed_on\n",
    )
    assert csv.status_code == 202, csv.text
    plain = await client.post(
        "/v1/imports?module=kampung", headers={**auth(admin), "Content-Type": "text/plain"}, content=b"x"
    )
    assert plain.status_code == 415
    assert plain.json()["detail"] == "Content-Type must be text/csv or application/x-ndjson, not text/plain"


async def test_the_document_declares_the_400_and_415_of_every_json_body(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    with_json = [
        op for _, _, op in operations(schema) if "application/json" in op.get("requestBody", {}).get("content", {})
    ]
    assert with_json
    for op in with_json:
        assert "/problems/bad-request" in op["responses"]["400"]["description"], op["operationId"]
        assert "/problems/unsupported-media-type" in op["responses"]["415"]["description"], op["operationId"]
    by_id = {op["operationId"]: op for _, _, op in operations(schema)}
    assert "text/csv" in by_id["createImport"]["responses"]["415"]["description"]
    assert "/problems/unsupported-media-type" in {t["type"] for t in schema["x-problem-types"]}


@pytest.mark.parametrize(
    ("module", "body", "error"),
    [
        ("kependudukan", kependudukan_payload(pus=-1), (["body", "pus"], "greater_than_equal")),
        ("kkbpk", kkbpk_payload(kb_users={"KB_PILL": 3}), (["body", "kb_users", "KB_PILL"], "enum")),
        ("kkbpk", kkbpk_payload(kb_users={"KB_PIL": -3}), (["body", "kb_users", "KB_PIL"], "greater_than_equal")),
        ("profil", profil_payload(poktan=["BKB", "BKB"]), (["body", "poktan"], "value_error")),
        ("profil", {k: v for k, v in profil_payload().items() if k != "pokja"}, (["body", "pokja"], "missing")),
        ("kependudukan", {**kependudukan_payload(), "extra": 1}, (["body", "extra"], "extra_forbidden")),
    ],
    ids=["minimum", "unknown-key", "negative-in-map", "validator", "missing", "unknown-field"],
)
async def test_each_field_error_names_the_field_and_its_type(
    client: httpx.AsyncClient, admin: str, kampung_id: int, module: str, body: dict[str, Any], error: tuple[Any, str]
) -> None:
    response = await put_module(client, admin, kampung_id, module, "2024-02", body)
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert error in [(e["loc"], e["type"]) for e in errors], errors
    assert all(set(e) == {"loc", "msg", "type"} for e in errors)
    assert not any(e["msg"].startswith("Value error") for e in errors)
    assert "Value error" not in response.json()["detail"]


async def test_a_validators_message_is_its_own(client: httpx.AsyncClient, admin: str, kampung_id: int) -> None:
    response = await put_module(client, admin, kampung_id, "profil", "2024-02", profil_payload(poktan=["BKB", "BKB"]))
    assert response.json()["errors"] == [
        {"loc": ["body", "poktan"], "msg": "duplicate code BKB", "type": "value_error"}
    ]
    assert response.json()["detail"] == "body.poktan: duplicate code BKB"


async def test_a_rule_of_the_registrys_own_has_no_type(client: httpx.AsyncClient, admin: str, kampung_id: int) -> None:
    response = await put_module(client, admin, kampung_id, "kkbpk", "2024-02", kkbpk_payload())
    assert response.status_code == 422, response.text
    assert [set(e) for e in response.json()["errors"]] == [{"loc", "msg"}]


async def test_the_document_declares_the_error_type(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    field_error = schema["components"]["schemas"]["FieldError"]
    assert field_error["properties"]["type"]["type"] == "string"
    assert "default" not in field_error["properties"]["type"]
    assert field_error["required"] == ["loc", "msg"]
