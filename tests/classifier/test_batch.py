"""`POST /v1/classify/batch` with several rule sets (`rulesets`) and as NDJSON (`Accept: application/x-ndjson`)."""

from typing import Any

import httpx
import orjson
import pytest
from pydantic import ValidationError

from kampungkb_shared.classification import BatchRequest
from tests.classifier.classifier_factories import OFFICIAL, STRICT, worked_example

PROBLEM = "application/problem+json"
NDJSON = "application/x-ndjson"
BATCH = "/v1/classify/batch"


def _item(i: int, snapshot: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"id": f"k{i}", "period": "2025-06", "snapshot": worked_example() if snapshot is None else snapshot}


def _items() -> list[dict[str, Any]]:
    """Three valid items (the second one unclassifiable under kkb-2025) around an invalid one."""
    bad = _item(1)
    bad["snapshot"]["kependudukan"]["pus"] = -3
    return [_item(0), bad, _item(2, {**worked_example(), "kkbpk": None}), _item(3, worked_example(5))]


async def _json(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(BATCH, json=body)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


async def _lines(client: httpx.AsyncClient, body: dict[str, Any]) -> tuple[bytes, list[dict[str, Any]]]:
    response = await client.post(BATCH, json=body, headers={"accept": NDJSON})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == NDJSON
    return response.content, [orjson.loads(line) for line in response.content.split(b"\n") if line]


async def test_rulesets_score_each_valid_item_under_each_rule_set_in_the_order_given(
    client: httpx.AsyncClient,
) -> None:
    strict = await _json(client, {"ruleset": STRICT.id, "items": _items()})
    official = await _json(client, {"ruleset": OFFICIAL.id, "items": _items()})
    both = await _json(client, {"rulesets": [STRICT.id, OFFICIAL.id], "items": _items()})
    assert both["results"] == [r for pair in zip(strict["results"], official["results"], strict=True) for r in pair]
    assert [(r["index"], r["ruleset"], r["ruleset_hash"]) for r in both["results"][:2]] == [
        (0, STRICT.id, STRICT.hash),
        (0, OFFICIAL.id, OFFICIAL.hash),
    ]
    assert [(r["id"], r["tier"]) for r in both["results"][2:4]] == [("k2", "belum_terklasifikasi"), ("k2", "dasar")]
    assert both["errors"] == strict["errors"]
    assert [(e["id"], e["index"]) for e in both["errors"]] == [("k1", 1)]


async def test_an_item_of_a_year_the_fast_path_does_not_take_is_scored_with_the_others(
    client: httpx.AsyncClient,
) -> None:
    items = [_item(0), {**_item(1), "period": "2150-06"}, _item(2)]
    answer = await _json(client, {"ruleset": OFFICIAL.id, "explain": False, "items": items})
    assert answer["errors"] == []
    scored = [(r["id"], r["period"]) for r in answer["results"]]
    assert scored == [("k0", "2025-06"), ("k1", "2150-06"), ("k2", "2025-06")]


async def test_one_ruleset_in_rulesets_or_a_null_rulesets_answer_as_before(client: httpx.AsyncClient) -> None:
    single = await _json(client, {"ruleset": STRICT.id, "items": _items()})
    assert await _json(client, {"rulesets": [STRICT.id], "items": _items()}) == single
    default = await _json(client, {"items": _items()})
    assert await _json(client, {"ruleset": None, "rulesets": None, "items": _items()}) == default
    assert {r["ruleset"] for r in default["results"]} == {OFFICIAL.id}


async def test_ruleset_and_rulesets_together_is_a_422_naming_rulesets(client: httpx.AsyncClient) -> None:
    body = {"ruleset": OFFICIAL.id, "rulesets": [STRICT.id], "items": [_item(0)]}
    response = await client.post(BATCH, json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["errors"] == [{"loc": ["body", "rulesets"], "msg": "give either ruleset or rulesets"}]


@pytest.mark.parametrize(
    ("rulesets", "loc"),
    [
        ([], ["body", "rulesets"]),
        (OFFICIAL.id, ["body", "rulesets"]),
        ([OFFICIAL.id, OFFICIAL.id], ["body", "rulesets", 1]),
        ([STRICT.id, "nope"], ["body", "rulesets", 1]),
        (["nope", STRICT.id], ["body", "rulesets", 0]),
        ([STRICT.id, 3], ["body", "rulesets", 1]),
    ],
)
async def test_bad_rulesets_are_a_422_naming_it(client: httpx.AsyncClient, rulesets: Any, loc: list[Any]) -> None:
    response = await client.post(BATCH, json={"rulesets": rulesets, "items": [_item(0)]}, headers={"accept": NDJSON})
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    [error] = response.json()["errors"]
    assert error["loc"] == loc


async def test_ndjson_lines_are_the_json_answer_with_id_first(client: httpx.AsyncClient) -> None:
    body = {"rulesets": [OFFICIAL.id, STRICT.id], "items": _items()}
    answer = await _json(client, body)
    content, lines = await _lines(client, body)
    assert content.endswith(b"}\n") and b"\n\n" not in content
    results = [line for line in lines if "result" in line]
    assert [list(line) for line in results] == [["id", "index", "ruleset", "ruleset_hash", "tier", "result"]] * 6
    assert all(line[key] == line["result"][key] for line in results for key in ("ruleset", "ruleset_hash", "tier"))
    assert [list(line["result"])[:4] for line in results] == [["ruleset", "ruleset_hash", "period", "tier"]] * 6
    assert [{**line["result"], "id": line["id"], "index": line["index"]} for line in results] == answer["results"]
    assert [(line["id"], line["index"]) for line in lines] == [("k0", 0), ("k0", 0), ("k1", 1)] + [
        (f"k{i}", i) for i in (2, 2, 3, 3)
    ]


async def test_ndjson_gives_an_invalid_item_one_errors_line_in_item_order(client: httpx.AsyncClient) -> None:
    items = ["not an object", _item(1), _item(2, {"profil": 3})]
    answer = await _json(client, {"items": items})
    _, lines = await _lines(client, {"items": items})
    errors, result = ["id", "index", "errors"], ["id", "index", "ruleset", "ruleset_hash", "tier", "result"]
    assert [list(line) for line in lines] == [errors, result, errors]
    assert [lines[0], lines[2]] == answer["errors"]
    assert (lines[0]["id"], lines[2]["id"], lines[2]["errors"][0]["loc"][:2]) == (None, "k2", ["snapshot", "profil"])


async def test_ndjson_of_an_empty_batch_is_an_empty_body(client: httpx.AsyncClient) -> None:
    content, lines = await _lines(client, {"rulesets": [OFFICIAL.id, STRICT.id], "items": []})
    assert (content, lines) == (b"", [])


async def test_json_of_a_batch_without_a_valid_item_holds_no_result(client: httpx.AsyncClient) -> None:
    assert await _json(client, {"items": []}) == {"results": [], "errors": []}
    answer = await _json(client, {"rulesets": [OFFICIAL.id, STRICT.id], "items": ["not an object", _item(1, {"x": 1})]})
    assert answer["results"] == [] and [(e["id"], e["index"]) for e in answer["errors"]] == [(None, 0), ("k1", 1)]


async def test_json_stays_the_answer_without_the_ndjson_accept_header(client: httpx.AsyncClient) -> None:
    response = await client.post(BATCH, json={"items": [_item(0)]}, headers={"accept": "application/json, */*"})
    assert response.headers["content-type"] == "application/json"
    assert [r["id"] for r in response.json()["results"]] == ["k0"]


async def test_metrics_count_every_result_under_its_rule_set(client: httpx.AsyncClient) -> None:
    await client.post(BATCH, json={"rulesets": [STRICT.id, OFFICIAL.id], "items": _items()})
    await client.post(BATCH, json={"rulesets": [OFFICIAL.id, STRICT.id], "items": _items()}, headers={"accept": NDJSON})
    text = (await client.get("/metrics")).text
    counted = {
        line.split("{", 1)[1].split("}")[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("classifier_classifications_total{")
    }
    assert counted == {
        f'ruleset="{OFFICIAL.id}",tier="dasar"': 4.0,
        f'ruleset="{OFFICIAL.id}",tier="berkembang"': 2.0,
        f'ruleset="{STRICT.id}",tier="dasar"': 2.0,
        f'ruleset="{STRICT.id}",tier="belum_terklasifikasi"': 2.0,
        f'ruleset="{STRICT.id}",tier="berkembang"': 2.0,
    }


async def test_openapi_documents_rulesets_and_the_ndjson_and_csv_answers(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    ok = schema["paths"][BATCH]["post"]["responses"]["200"]
    assert set(ok["content"]) == {"application/json", NDJSON, "text/csv"}
    assert "Accept: application/x-ndjson" in ok["description"]
    assert "Accept: text/csv" in ok["description"]
    [listed, _] = schema["components"]["schemas"]["BatchRequest"]["properties"]["rulesets"]["anyOf"]
    assert (listed["type"], listed["minItems"], listed["uniqueItems"]) == ("array", 1, True)


@pytest.mark.parametrize(
    "body",
    [
        {"ruleset": OFFICIAL.id, "rulesets": [STRICT.id], "items": []},
        {"rulesets": [STRICT.id, STRICT.id], "items": []},
        {"rulesets": [], "items": []},
    ],
)
def test_batch_request_model_refuses_what_the_endpoint_refuses(body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        BatchRequest.model_validate(body)
