"""HTTP endpoints: thin wrappers around `classifier.scoring`."""

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from classifier.batch import Batch, Item, named_ruleset, parse_batch, parse_explain
from classifier.inputs import from_model
from classifier.ruleset import RuleSet
from classifier.scoring import figures, score
from classifier.state import AppState, RuleSetInfo
from kampungkb_shared.classification import BatchResponse, ClassificationResult, ClassifyRequest
from kampungkb_shared.collector import collector_paused
from kampungkb_shared.errors import NotFound, Unprocessable
from kampungkb_shared.result_rows import CSV, HEADER, error_row, figures_rows

router = APIRouter()


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def _state(request: Request) -> AppState:
    state = request.app.state.classifier
    assert isinstance(state, AppState)
    return state


def _ruleset(state: AppState, ruleset_id: str | None) -> RuleSet:
    return named_ruleset(state.rulesets, ruleset_id or state.default, ["body", "ruleset"])


@router.get("/healthz", tags=["ops"])
async def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/readyz", tags=["ops"])
async def readyz(request: Request) -> Response:
    """Readiness: the rule sets are loaded."""
    ready = getattr(request.app.state, "classifier", None) is not None
    return _json({"status": "ready" if ready else "starting"}, 200 if ready else 503)


@router.get("/metrics", tags=["ops"], response_class=Response)
async def metrics(request: Request) -> Response:
    """Prometheus metrics."""
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)


@router.get("/v1/rulesets", tags=["rulesets"], response_model=list[RuleSetInfo])
async def list_rulesets(request: Request) -> list[RuleSetInfo]:
    """The rule sets this classifier knows, with their content hash and which one is the default."""
    state = _state(request)
    return [
        RuleSetInfo(id=r.id, title=r.title, hash=r.hash, default=r.id == state.default) for r in state.rulesets.values()
    ]


@router.get("/v1/rulesets/{ruleset_id}", tags=["rulesets"])
async def get_ruleset(request: Request, ruleset_id: str) -> dict[str, Any]:
    """One rule set as data: bands, rounding, threshold, decision table and policies."""
    ruleset = _state(request).rulesets.get(ruleset_id)
    if ruleset is None:
        raise NotFound(f"no rule set {ruleset_id!r}")
    return ruleset.as_data()


@router.post("/v1/classify", tags=["classify"], response_model=ClassificationResult)
async def classify_one(request: Request, body: ClassifyRequest) -> Response:
    """Classify one snapshot as of a period."""
    state = _state(request)
    ruleset = _ruleset(state, body.ruleset)
    result = score(from_model(body.snapshot), body.period, ruleset)
    request.app.state.metrics.classifications.labels(tier=result["tier"], ruleset=ruleset.id).inc()
    return _json(result)


_NDJSON = "application/x-ndjson"
_BATCH_DOC = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/BatchRequest"}}},
    }
}
_BATCH_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": (
            "`application/json` (the default): `{results, errors}`, each result the item's classification with its "
            "`id` and `index`, one per valid item and rule set. With `Accept: application/x-ndjson`: one JSON object "
            "a line, each ending with a newline, in item order and within an item in rule set order: "
            '`{"id", "index", "ruleset", "ruleset_hash", "tier", "result": ClassificationResult}` per result (the '
            "three fields repeated from the result, so that a consumer files it without parsing it), "
            '`{"id", "index", "errors"}` per invalid item. Under `"explain": false` each result is a `ShortResult`: '
            'the same without `raw`, `missing` and `next_tier`. With `Accept: text/csv` (under `"explain": false` '
            "only): a header, then one record per result and per invalid item, in the same order, the result's "
            "fields flattened (`id`, `index`, `ruleset`, `ruleset_hash`, `tier`, the 12 sub-scores, `index_input`, "
            "`index_proses`, `index_output`, `passed_input`, `passed_proses`, `passed_output`, `threshold`, "
            "`errors`); an invalid item's record holds its `id`, `index` and `errors` (JSON), the rest empty."
        ),
        "content": {
            _NDJSON: {"schema": {"type": "string", "description": "Newline-delimited JSON objects."}},
            CSV: {"schema": {"type": "string", "description": "CSV records (RFC 4180) with a header."}},
        },
    },
    413: {"description": "More items than a batch may hold"},
    422: {
        "description": "Malformed body, or an unknown, repeated or conflicting rule set, or `explain` not a boolean "
        "(or true with `Accept: text/csv`)"
    },
}


@router.post(
    "/v1/classify/batch",
    tags=["classify"],
    response_model=BatchResponse,
    openapi_extra=_BATCH_DOC,
    responses=_BATCH_RESPONSES,
)
async def classify_batch(request: Request) -> Response:
    """Classify up to 10,000 snapshots under one or more rule sets; an invalid item never fails the batch."""
    state = _state(request)
    body = await request.body()  # within `max_body_bytes`: `BodyLimitMiddleware`
    accept = request.headers.get("accept", "").lower()
    media_type = CSV if CSV in accept else _NDJSON if _NDJSON in accept else "application/json"
    # A batch allocates millions of acyclic containers. Collection resumes only once the batch has been built and
    # its containers are freed: a collector enabled while they are still alive would make one pass over all of them.
    with collector_paused():
        rulesets, content, tiers = answer_batch(state, body, media_type=media_type)
    classifications = request.app.state.metrics.classifications
    for position, ruleset in enumerate(rulesets):
        # Results run item by item, each item's in rule set order: every len(rulesets)-th tier is one rule set's.
        for tier, count in Counter(tiers[position :: len(rulesets)]).items():
            classifications.labels(tier=tier, ruleset=ruleset.id).inc(count)
    return Response(content, media_type=media_type)


@router.post(
    "/v1/explain",
    tags=["classify"],
    response_model=BatchResponse,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ExplainRequest"}}},
        }
    },
    responses={413: {"description": "More items than a batch may hold"}, 422: {"description": "Malformed body"}},
)
async def explain(request: Request) -> Response:
    """Score snapshots again under a rule set given by its content (an older version too): results as the batch's."""
    state = _state(request)
    body = await request.body()  # within `max_body_bytes`: `BodyLimitMiddleware`
    with collector_paused():
        ruleset, items = parse_explain(body, max_items=state.settings.max_batch_items, known=state.rulesets)
        content, _ = _json_answer(Batch([ruleset], items, [], explain=True))
    return Response(content, media_type="application/json")


def answer_batch(state: AppState, body: bytes, *, media_type: str) -> tuple[list[RuleSet], bytes, list[str]]:
    """The rule sets used, the response body (as `media_type`) and the results' tiers, in the order of the results."""
    batch = parse_batch(body, max_items=state.settings.max_batch_items, known=state.rulesets, default=state.default)
    answer = {CSV: _csv_answer, _NDJSON: _ndjson_answer}.get(media_type, _json_answer)
    content, tiers = answer(batch)
    return batch.rulesets, content, tiers


def _json_answer(batch: Batch) -> tuple[bytes, list[str]]:
    """`{results, errors}` and the results' tiers."""
    rulesets, items, errors, explain = batch
    # Each result is serialised as soon as it is scored, while it is still in the processor's cache, and freed at
    # once: the list of all of them, kept until one `dumps`, cost more to walk and free than the serialising itself.
    content = bytearray(b'{"results":[')
    write = content.extend
    dumps = orjson.dumps
    tiers: list[str] = []
    tier = tiers.append
    for index, item_id, period, snapshot in items:
        for ruleset in rulesets:
            result = score(snapshot, period, ruleset, explain=explain)
            result["id"] = item_id
            result["index"] = index
            tier(result["tier"])
            write(dumps(result))
            write(b",")
    if tiers:
        del content[-1]  # the last result's comma
    write(b'],"errors":')
    write(dumps(errors))
    write(b"}")
    return bytes(content), tiers


def _between_errors(
    items: list[Item], errors: list[dict[str, Any]], write_error: Callable[[dict[str, Any]], None]
) -> Iterator[Item]:
    """The valid items, each once the invalid items before it are written (`write_error`); the invalid items after
    the last one are written when the items run out. Both lists are in item order."""
    pending = iter(errors)
    error = next(pending, None)
    for item in items:
        while error is not None and error["index"] < item[0]:
            write_error(error)
            error = next(pending, None)
        yield item
    while error is not None:
        write_error(error)
        error = next(pending, None)


def _ndjson_answer(batch: Batch) -> tuple[bytes, list[str]]:
    """One line per result and per invalid item, in item order, every line ending with a newline; the tiers."""
    rulesets, items, errors, explain = batch
    # Lines go straight into one buffer: orjson's outputs, kept until a join, would each hold
    # several times their length and cost more to allocate than the serialising itself.
    content = bytearray()
    write = content.extend
    dumps = orjson.dumps
    line = orjson.OPT_APPEND_NEWLINE
    tiers: list[str] = []
    tier = tiers.append
    # The three fields a consumer files a result by come before it, so that it need not parse the result for them.
    # Their text is made once per rule set and the line written around the result, not around a copy of it.
    heads = [
        (ruleset, b',"ruleset":' + dumps(ruleset.id) + b',"ruleset_hash":' + dumps(ruleset.hash) + b',"tier":')
        for ruleset in rulesets
    ]
    for index, item_id, period, snapshot in _between_errors(items, errors, lambda e: write(dumps(e, option=line))):
        item = b'{"id":' + dumps(item_id) + b',"index":' + dumps(index)
        for ruleset, head in heads:
            result = score(snapshot, period, ruleset, explain=explain)
            tier(result["tier"])
            write(item)
            write(head)
            write(dumps(result["tier"]))
            write(b',"result":')
            write(dumps(result))
            write(b"}\n")
    return bytes(content), tiers


def _csv_answer(batch: Batch) -> tuple[bytes, list[str]]:
    """A header, then one record per result and per invalid item, in item order (`kampungkb_shared.result_rows`);
    the tiers. Results only without their explanation: a 422 for a batch that asks for it."""
    rulesets, items, errors, explain = batch
    if explain:
        raise Unprocessable.field(["body", "explain"], "must be false for a text/csv answer (results without it)")
    content = bytearray(HEADER + b"\n")
    write = content.extend
    tiers: list[str] = []
    tier = tiers.append
    # Each record is made from the scoring's figures, never built into a result and read back out of it; the records
    # between two invalid items are written together (`figures_rows`).
    rows: list[tuple[Any, ...]] = []
    row = rows.append

    def write_error(error: dict[str, Any]) -> None:
        write(figures_rows(rows))
        rows.clear()
        write(error_row(error["id"], error["index"], error["errors"]) + b"\n")

    heads = [(ruleset, ruleset.id, ruleset.hash) for ruleset in rulesets]
    for index, item_id, period, snapshot in _between_errors(items, errors, write_error):
        for ruleset, ruleset_id, ruleset_hash in heads:
            result_tier, values, _ = figures(snapshot, period, ruleset)
            tier(result_tier)
            # Concatenated, not unpacked: one C call where unpacking builds a list first (a third longer).
            row((item_id, index, ruleset_id, ruleset_hash, result_tier) + values)  # noqa: RUF005
    write(figures_rows(rows))
    return bytes(content), tiers
