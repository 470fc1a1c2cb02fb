"""HTTP endpoints: thin wrappers around `classifier.scoring`."""

import gc
from collections import Counter
from operator import itemgetter
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from classifier.batch import parse_batch
from classifier.ruleset import RuleSet
from classifier.scoring import score
from classifier.state import AppState, RuleSetInfo
from kampungkb_shared.classification import BatchResponse, ClassificationResult, ClassifyRequest
from kampungkb_shared.errors import NotFound, PayloadTooLarge, Unprocessable

router = APIRouter()


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def _state(request: Request) -> AppState:
    state = request.app.state.classifier
    assert isinstance(state, AppState)
    return state


def _ruleset(state: AppState, ruleset_id: str | None) -> RuleSet:
    ruleset = state.rulesets.get(ruleset_id or state.default)
    if ruleset is None:
        raise Unprocessable.field(["body", "ruleset"], f"unknown rule set {ruleset_id!r}; see GET /v1/rulesets")
    return ruleset


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
    result = score(body.snapshot.model_dump(mode="json"), body.period, ruleset)
    request.app.state.metrics.classifications.labels(tier=result["tier"], ruleset=ruleset.id).inc()
    return _json(result)


_BATCH_DOC = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/BatchRequest"}}},
    }
}


@router.post(
    "/v1/classify/batch",
    tags=["classify"],
    response_model=BatchResponse,
    openapi_extra=_BATCH_DOC,
    responses={413: {"description": "More items than a batch may hold"}, 422: {"description": "Malformed body"}},
)
async def classify_batch(request: Request) -> Response:
    """Classify up to 10,000 snapshots; an invalid item is reported in `errors` and never fails the batch."""
    state = _state(request)
    settings = state.settings
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > settings.max_body_bytes:
        raise PayloadTooLarge(f"body over {settings.max_body_bytes} bytes")
    body = await request.body()
    if len(body) > settings.max_body_bytes:
        raise PayloadTooLarge(f"body over {settings.max_body_bytes} bytes")
    # A batch allocates millions of acyclic containers; generational GC passes over them would cost
    # more than the scoring, and refcounting frees them anyway. Nothing awaits inside this block.
    # Collection resumes only once `_classify_batch` has returned and its containers are freed: a
    # collector enabled while they are still alive would make one pass over all of them.
    collecting = gc.isenabled()
    gc.disable()
    try:
        ruleset, content, tiers = _classify_batch(state, body)
    finally:
        if collecting:
            gc.enable()
    for tier, count in tiers.items():
        request.app.state.metrics.classifications.labels(tier=tier, ruleset=ruleset.id).inc(count)
    return Response(content, media_type="application/json")


_TIER = itemgetter("tier")


def _classify_batch(state: AppState, body: bytes) -> tuple[RuleSet, bytes, Counter[str]]:
    """The rule set used, the response body and the count of results by tier."""
    ruleset_id, items, errors = parse_batch(body, state.settings.max_batch_items)
    ruleset = _ruleset(state, ruleset_id)
    results: list[dict[str, Any]] = []
    append = results.append
    for index, item_id, period, snapshot in items:
        result = score(snapshot, period, ruleset)
        result["id"] = item_id
        result["index"] = index
        append(result)
    return ruleset, orjson.dumps({"results": results, "errors": errors}), Counter(map(_TIER, results))
