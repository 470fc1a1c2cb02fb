"""Results without the explanation (`"explain": false`): the full result minus `raw`, `missing` and `next_tier`,
for any snapshot under either rule set, in process and over HTTP, and the explanation is not built at all."""

import csv
import io
import json
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from classifier import inputs, scoring
from classifier.scoring import score
from kampungkb_shared.classification import BatchResponse, Snapshot
from kampungkb_shared.result_rows import CSV, FIGURES, RESULT_COLUMNS
from tests.classifier.classifier_factories import OFFICIAL, PERIOD, STRICT, snapshots, worked_example

BATCH = "/v1/classify/batch"
NDJSON = "application/x-ndjson"
EXPLANATION = ("raw", "missing", "next_tier")
BOTH = [OFFICIAL.id, STRICT.id]


def without_explanation(result: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in result.items() if key not in EXPLANATION}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(snapshots())
def test_a_short_score_is_the_full_one_without_the_explanation(snap: dict[str, Any]) -> None:
    data = inputs.from_model(Snapshot.model_validate(snap))
    for ruleset in (OFFICIAL, STRICT):
        full = score(data, PERIOD, ruleset)
        short = score(data, PERIOD, ruleset, explain=False)
        assert list(short) == [key for key in full if key not in EXPLANATION]
        assert short == without_explanation(full)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(snapshots())
def test_the_figures_are_the_results_in_column_order(snap: dict[str, Any]) -> None:
    data = inputs.from_model(Snapshot.model_validate(snap))
    for ruleset in (OFFICIAL, STRICT):
        result = score(data, PERIOD, ruleset)
        tier, figures, raw = scoring.figures(data, PERIOD, ruleset)
        named = {**result["scores"], "threshold": result["threshold"]}
        named |= {f"index_{group}": value for group, value in result["indices"].items()}
        named |= {f"passed_{group}": value for group, value in result["passed"].items()}
        assert (tier, raw) == (result["tier"], result["raw"])
        assert dict(zip(FIGURES, figures, strict=True)) == named


def test_a_short_score_builds_no_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any) -> Any:
        raise AssertionError("the explanation was built")

    monkeypatch.setattr(scoring, "plan_next_tier", refuse)
    monkeypatch.setattr(scoring, "missing_data", refuse)
    data = inputs.from_model(Snapshot.model_validate(worked_example()))
    assert score(data, PERIOD, OFFICIAL, explain=False)["tier"] == "dasar"


def _body(snaps: list[dict[str, Any]], bad_at: int | None, *, int_ids: bool = False, **extra: Any) -> dict[str, Any]:
    ids = range(len(snaps)) if int_ids else [f"k{i}" for i in range(len(snaps))]
    items: list[Any] = [{"id": id_, "period": PERIOD, "snapshot": snap} for id_, snap in zip(ids, snaps, strict=True)]
    if bad_at is not None:  # one invalid item: the body is then parsed item by item
        items.insert(bad_at, {"id": "bad", "period": "2025-13", "snapshot": {}})
    return {"rulesets": BOTH, "items": items, **extra}


async def _post(client: httpx.AsyncClient, body: dict[str, Any], accept: str = "application/json") -> bytes:
    response = await client.post(BATCH, content=orjson.dumps(body), headers={"accept": accept})
    assert response.status_code == 200, response.text
    return response.content


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(snaps=st.lists(snapshots(), min_size=1, max_size=12), bad_at=st.none() | st.integers(0, 12))
async def test_a_short_batch_is_the_full_one_without_the_explanation(
    client: httpx.AsyncClient, snaps: list[dict[str, Any]], bad_at: int | None
) -> None:
    full = orjson.loads(await _post(client, _body(snaps, bad_at)))
    short = orjson.loads(await _post(client, _body(snaps, bad_at, explain=False)))
    assert short == {"results": [without_explanation(r) for r in full["results"]], "errors": full["errors"]}
    assert all(r.keys().isdisjoint(EXPLANATION) for r in short["results"])
    assert BatchResponse.model_validate(short).model_dump(exclude_unset=True) == short

    full_lines = (await _post(client, _body(snaps, bad_at), NDJSON)).splitlines()
    short_lines = (await _post(client, _body(snaps, bad_at, explain=False), NDJSON)).splitlines()
    expected = [orjson.loads(line) for line in full_lines]
    for line in expected:
        if "result" in line:
            line["result"] = without_explanation(line["result"])
    assert [orjson.loads(line) for line in short_lines] == expected


def _cell(value: Any) -> str:
    return "" if value is None else ("true" if value else "false") if isinstance(value, bool) else str(value)


def _flattened(line: dict[str, Any]) -> dict[str, str]:
    """An NDJSON line of a short batch as the CSV answer's record holds it."""
    if "errors" in line:
        empty = dict.fromkeys(RESULT_COLUMNS, "")
        errors = orjson.dumps(line["errors"]).decode()
        return {**empty, "id": _cell(line["id"]), "index": str(line["index"]), "errors": errors}
    result = line["result"]
    fields = [
        line["id"],
        line["index"],
        line["ruleset"],
        line["ruleset_hash"],
        line["tier"],
        *result["scores"].values(),
        *result["indices"].values(),
        *result["passed"].values(),
        result["threshold"],
        None,
    ]
    return dict(zip(RESULT_COLUMNS, map(_cell, fields), strict=True))


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    snaps=st.lists(snapshots(), min_size=1, max_size=12), bad_at=st.none() | st.integers(0, 12), int_ids=st.booleans()
)
async def test_a_csv_batch_holds_the_short_results_and_errors_in_the_same_order(
    client: httpx.AsyncClient, snaps: list[dict[str, Any]], bad_at: int | None, int_ids: bool
) -> None:
    # Integer ids (the registry's) take the records' fast path, text ids the record-at-a-time one.
    body = _body(snaps, bad_at, int_ids=int_ids, explain=False)
    lines = [orjson.loads(line) for line in (await _post(client, body, NDJSON)).splitlines()]
    response = await client.post(BATCH, content=orjson.dumps(body), headers={"accept": CSV})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(CSV)
    reader = csv.DictReader(io.StringIO(response.text))
    assert tuple(reader.fieldnames or ()) == RESULT_COLUMNS
    assert list(reader) == [_flattened(line) for line in lines]


@pytest.mark.parametrize("accept", [CSV, NDJSON, "application/json"])
async def test_an_integer_id_beyond_64_bits_is_the_items_error_naming_it(
    client: httpx.AsyncClient, accept: str
) -> None:
    ids = [2**63 - 1, 2**100, -(2**63)]
    items = [{"id": id_, "period": PERIOD, "snapshot": worked_example()} for id_ in ids]
    body = {"rulesets": BOTH, "explain": False, "items": items}
    response = await client.post(BATCH, content=json.dumps(body), headers={"accept": accept})
    assert response.status_code == 200, response.text
    if accept == CSV:
        records = list(csv.DictReader(io.StringIO(response.text)))
        assert [record["index"] for record in records] == ["0", "0", "1", "2", "2"]
        assert [record["id"] for record in records if record["index"] != "1"] == [str(ids[0])] * 2 + [str(ids[2])] * 2
        errors = json.loads(records[2]["errors"])
    elif accept == NDJSON:
        lines = [json.loads(line) for line in response.text.splitlines()]
        assert [line["index"] for line in lines] == [0, 0, 1, 2, 2]
        errors = lines[2]["errors"]
    else:
        answer = response.json()
        assert [result["id"] for result in answer["results"]] == [ids[0], ids[0], ids[2], ids[2]]
        errors = answer["errors"][0]["errors"]
    assert errors and all(error["loc"][0] == "id" for error in errors)


async def test_a_csv_batch_with_the_explanation_is_a_422_naming_explain(client: httpx.AsyncClient) -> None:
    for body in (_body([worked_example()], None), _body([worked_example()], None, explain=True)):
        response = await client.post(BATCH, content=orjson.dumps(body), headers={"accept": CSV})
        assert response.status_code == 422
        assert response.json()["errors"][0]["loc"] == ["body", "explain"]


async def test_explain_true_answers_as_a_body_without_it(client: httpx.AsyncClient) -> None:
    snaps = [worked_example(), {}]
    assert await _post(client, _body(snaps, None, explain=True)) == await _post(client, _body(snaps, None))


@pytest.mark.parametrize("value", ["false", None, 0, 1, [], {"explain": False}])
@pytest.mark.parametrize("accept", ["application/json", NDJSON])
async def test_an_explain_that_is_not_a_boolean_is_a_422_naming_it(
    client: httpx.AsyncClient, value: Any, accept: str
) -> None:
    body = _body([worked_example()], None, explain=value)
    response = await client.post(BATCH, content=orjson.dumps(body), headers={"accept": accept})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"] == [{"loc": ["body", "explain"], "msg": "must be true or false"}]


async def test_the_openapi_document_names_explain_and_the_short_result(client: httpx.AsyncClient) -> None:
    schemas = (await client.get("/openapi.json")).json()["components"]["schemas"]
    explain = schemas["BatchRequest"]["properties"]["explain"]
    assert (explain["type"], explain["default"]) == ("boolean", True)
    assert set(schemas["ShortBatchResult"]["required"]).isdisjoint(EXPLANATION)
    assert {"raw", "next_tier"} <= set(schemas["BatchResult"]["required"])
    results = schemas["BatchResponse"]["properties"]["results"]["items"]["anyOf"]
    assert results == [{"$ref": "#/components/schemas/BatchResult"}, {"$ref": "#/components/schemas/ShortBatchResult"}]
