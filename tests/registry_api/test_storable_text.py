"""Text PostgreSQL cannot store (a NUL, half of a surrogate pair) is a 422 naming the field, wherever it comes in,
and nothing is written; a whole surrogate pair is an ordinary character."""

import json
import tracemalloc
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from registry_api.storable_text import MESSAGE, unstorable
from tests.factories import auth
from tests.imports.files import DESA
from tests.openapi_contract import operations


def _refused(response: httpx.Response, loc: list[Any]) -> None:
    assert response.status_code == 422, response.text
    problem = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert problem["type"] == "/problems/validation"
    assert problem["errors"] == [{"loc": loc, "msg": MESSAGE}]


def _kampung_body(name: str, desa: str = DESA[0]) -> bytes:
    """A registration's JSON as a client may write it, escapes left as they are."""
    return b'{"name": "%s", "desa_code": "%s", "formed_on": "2021-03-15"}' % (name.encode(), desa.encode())


@pytest.mark.parametrize(
    ("escaped", "why"), [("a\\u0000b", "NUL"), ("a\\ud800b", "a leading half"), ("\\udc00", "a trailing half")]
)
async def test_a_name_that_cannot_be_stored_is_refused_and_nothing_written(
    client: httpx.AsyncClient, admin: str, session: AsyncSession, escaped: str, why: str
) -> None:
    headers = {**auth(admin), "Content-Type": "application/json"}
    _refused(await client.post("/v1/kampung", headers=headers, content=_kampung_body(escaped)), ["body", "name"])
    assert await session.scalar(text("SELECT count(*) FROM kampung")) == 0


async def test_a_surrogate_pair_is_one_character_and_stored(client: httpx.AsyncClient, admin: str) -> None:
    headers = {**auth(admin), "Content-Type": "application/json"}
    created = await client.post("/v1/kampung", headers=headers, content=_kampung_body("Mawar \\ud83c\\udf38"))
    assert created.status_code == 201, created.text
    assert created.json()["name"] == "Mawar \U0001f338"


async def test_nested_fields_and_updates_are_named(client: httpx.AsyncClient, admin: str, kampung_id: int) -> None:
    _refused(
        await client.patch(f"/v1/kampung/{kampung_id}", headers=auth(admin), json={"name": "x\x00"}), ["body", "name"]
    )
    kegiatan = {"date": "2024-06-01", "title": "Posyandu", "function": "REPRODUKSI", "partners": ["PUSKESMAS", "\x00"]}
    response = await client.post(f"/v1/kampung/{kampung_id}/kegiatan", headers=auth(admin), json=kegiatan)
    _refused(response, ["body", "partners", 1])


@pytest.mark.parametrize(
    ("url", "loc"),
    [
        ("/v1/wilayah?level=kecamatan&cursor=%00", ["query", "cursor"]),
        ("/v1/kampung?wilayah=99%00", ["query", "wilayah"]),
        ("/v1/reports/99%00?period=2024-06", ["path"]),
    ],
)
async def test_in_the_path_or_the_query(client: httpx.AsyncClient, admin: str, url: str, loc: list[str]) -> None:
    _refused(await client.get(url, headers=auth(admin)), loc)


async def test_in_a_form(client: httpx.AsyncClient) -> None:
    _refused(await client.post("/dashboard/login", data={"key": "kkb_\x00_x", "next": "/dashboard/"}), ["body", "key"])


def test_the_first_place_is_named() -> None:
    assert unstorable({"a": ["ok", {"b": "\U0001f338", "c": "\x00"}]}) == ["a", 1, "c"]
    assert unstorable({"\x00": 1}) == ["\x00"]
    assert unstorable(["\ud83c\udf38"]) == [0]  # two halves written apart, as Python keeps them
    assert unstorable({"a": [1, 2.5, None, True, "Mawar \U0001f338"]}) is None
    deep: object = "\x00"
    for _ in range(5_000):  # deeper than Python recurses
        deep = [deep]
    assert unstorable(deep) == [0] * 5_000


def test_the_walk_holds_only_the_way_down() -> None:
    """A small body of many items under a deep nest once cost each item a copy of its path: 80 MB for 41 KB, ~2 GB
    within the body limit, before any key was asked for. The walk now holds the containers on its way down."""
    nested = json.loads("[" * 500 + "0," * 20_000 + '"\\u0000"' + "]" * 500)
    flat = json.loads("[" + "{}," * 300_000 + '"\\u0000"]')
    for data, loc in ((nested, [0] * 499 + [20_000]), (flat, [300_000])):
        tracemalloc.start()
        try:
            assert unstorable(data) == loc
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 1_000_000, peak


async def test_an_import_body_is_left_to_the_import(client: httpx.AsyncClient, admin: str) -> None:
    """Up to hundreds of megabytes, checked row by row as they are read: never buffered and parsed at the door."""
    response = await client.post(
        "/v1/imports?module=kampung",
        headers={**auth(admin), "Content-Type": "application/json"},
        content=b'{"name": "\\u0000"}',
    )
    assert response.status_code == 415, response.text


@pytest.mark.parametrize(("depth", "answered"), [(900, 422), (5_000, 400)])
async def test_deep_bodies_are_refused_not_failed(
    client: httpx.AsyncClient, admin: str, depth: int, answered: int
) -> None:
    body = b'{"name":' * depth + b'"\\u0000"' + b"}" * depth
    response = await client.post(
        "/v1/kampung", headers={**auth(admin), "Content-Type": "application/json"}, content=body
    )
    assert response.status_code == answered, response.text  # deeper than the decoder reads: the endpoint's 400


async def test_every_operation_documents_the_422(client: httpx.AsyncClient) -> None:
    # A path or a query is checked before routing, so even an operation without parameters may answer it.
    schema = (await client.get("/openapi.json")).json()
    assert all("422" in op["responses"] for _, _, op in operations(schema))
    assert (await client.get("/healthz?x=%00")).status_code == 422


async def test_a_body_that_is_not_utf8_is_a_typed_problem(client: httpx.AsyncClient, admin: str) -> None:
    body = b'{"name": "\xff\xfe", "desa_code": "99.01.01.2001", "formed_on": "2021-03-15"}'
    response = await client.post(
        "/v1/kampung", headers={**auth(admin), "Content-Type": "application/json"}, content=body
    )
    assert response.status_code == 400, response.text
    assert response.json()["type"] == "/problems/bad-request"
    # ...and every operation that takes a JSON body says so.
    schema = (await client.get("/openapi.json")).json()
    with_json = [
        op for _, _, op in operations(schema) if "application/json" in op.get("requestBody", {}).get("content", {})
    ]
    assert with_json and all("/problems/bad-request" in op["responses"]["400"]["description"] for op in with_json)
