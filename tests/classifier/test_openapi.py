"""The classifier's OpenAPI document is one a client can be generated from, and its docs work without internet."""

import httpx

from tests.openapi_contract import check_docs_offline, check_document, operations


async def test_the_document_is_valid_and_complete(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    check_document(schema)
    ids = {op["operationId"] for _, _, op in operations(schema)}
    assert {"classifyOne", "classifyBatch", "listRulesets", "getRuleset"} <= ids


async def test_docs_are_served_without_internet(client: httpx.AsyncClient) -> None:
    await check_docs_offline(client)
