"""The registry's OpenAPI document beyond what the routes declare: response headers, conditional reads (every read
answered whole), the 429 of rate-limited operations, the 503 of those on the database, and the constraints of path
and query parameters the services check by hand."""

from collections.abc import Callable
from typing import Any, NamedTuple

from fastapi.dependencies.models import Dependant
from fastapi.responses import StreamingResponse
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import BaseRoute

from kampungkb_shared.openapi import REGION_CODE_PATTERN, constrain
from kampungkb_shared.periods import PERIOD_PATTERN
from registry_api.auth.deps import RATE_LIMITING
from registry_api.db import get_session

_ETAG = {
    "description": "The version of the resource: send it back in `If-Match` to write only over this version, or in "
    "`If-None-Match` to read it again only if it changed (304 otherwise).",
    "schema": {"type": "string", "examples": ['"v3"']},
}
_CONTENT_TAG = {
    "description": "A hash of the answer (none on an answer streamed as it is read, a CSV one): send it back in "
    "`If-None-Match` to read it again only if it changed (304 otherwise).",
    "schema": {"type": "string"},
}
_LOCATION = {
    "description": "The URL of what was created.",
    "schema": {"type": "string", "examples": ["/v1/kampung/42"]},
}
_RETRY_AFTER = {
    "description": "Seconds to wait before trying again.",
    "schema": {"type": "integer", "minimum": 0, "examples": [5]},
}
_RATE_LIMIT_HEADERS = {
    "Retry-After": _RETRY_AFTER,
    "RateLimit-Limit": {
        "description": "The requests the caller's route group may make in a window.",
        "schema": {"type": "integer", "minimum": 0, "examples": [6000]},
    },
    "RateLimit-Remaining": {
        "description": "The requests left in the current window.",
        "schema": {"type": "integer", "minimum": 0, "examples": [0]},
    },
    "RateLimit-Reset": {
        "description": "Seconds until the current window ends.",
        "schema": {"type": "integer", "minimum": 0, "examples": [5]},
    },
    "RateLimit-Policy": {
        "description": "The limit and its window in seconds, `<limit>;w=<seconds>`.",
        "schema": {"type": "string", "examples": ["6000;w=60"]},
    },
}

_NO_STORE = {
    "description": "`no-store`: the answer holds a secret shown only here; no cache keeps it.",
    "schema": {"type": "string", "enum": ["no-store"]},
}

RESPONSE_HEADERS: dict[str, dict[str, dict[str, dict[str, Any]]]] = {
    "createKampung": {"201": {"ETag": _ETAG, "Location": _LOCATION}},
    "getKampung": {"200": {"ETag": _ETAG}},
    "updateKampung": {"200": {"ETag": _ETAG}},
    "setPercontohan": {"200": {"ETag": _ETAG}},
    "cancelPercontohan": {"200": {"ETag": _ETAG}},
    "putProfil": {"200": {"ETag": _ETAG}, "201": {"ETag": _ETAG}},
    "putKependudukan": {"200": {"ETag": _ETAG}, "201": {"ETag": _ETAG}},
    "putKkbpk": {"200": {"ETag": _ETAG}, "201": {"ETag": _ETAG}},
    "getSubmission": {"200": {"ETag": _ETAG}},
    "createKegiatan": {"201": {"Location": _LOCATION}},
    "createImport": {"202": {"Location": _LOCATION}},
    "listCodeLists": {"200": {"ETag": _ETAG}},
    "getCodeList": {"200": {"ETag": _ETAG}},
    "listRulesets": {"503": {"Retry-After": _RETRY_AFTER}},
    "createKey": {"201": {"Cache-Control": _NO_STORE}},
    "rotateKey": {"201": {"Cache-Control": _NO_STORE}},
    "createEnrolment": {"201": {"Cache-Control": _NO_STORE}},
    "enrol": {"200": {"Cache-Control": _NO_STORE}},
    "createWebhook": {"201": {"Cache-Control": _NO_STORE}},
}
"""Headers each operation sends, by operation id and status."""

_PARAMETER_CONSTRAINTS: dict[tuple[str, str], dict[str, Any]] = {
    ("path", "period"): {"pattern": PERIOD_PATTERN},
    ("query", "period"): {"pattern": PERIOD_PATTERN},
    ("path", "code"): {"pattern": REGION_CODE_PATTERN},
    ("query", "wilayah"): {"pattern": REGION_CODE_PATTERN},
    ("query", "parent"): {"pattern": REGION_CODE_PATTERN},
}
"""Patterns of parameters the routes parse themselves: a period is a month unless its type states more (a report
period, `reports.spans.ReportPeriod`: a month, a quarter or a year)."""


class LinkSource(NamedTuple):
    """Responses that give the values of the path parameters of the operations at or under a path."""

    operations: tuple[str, ...]
    statuses: tuple[str, ...]
    under: str
    values: dict[str, str]
    """Runtime expressions by parameter name."""


def _body(fields: dict[str, str], at: str = "") -> dict[str, str]:
    """Runtime expressions of response body members, by parameter name: `{"id": "id"}` gives `$response.body#/id`."""
    return {parameter: f"$response.body#{at}/{member}" for parameter, member in fields.items()}


_KAMPUNG = "/v1/kampung/{kampung_id}"
_SUBMISSION = {"kampung_id": "kampung_id", "module": "module", "period": "period"}
LINK_SOURCES = (
    LinkSource(("createKampung",), ("201", "409"), _KAMPUNG, _body({"kampung_id": "id"})),
    LinkSource(("listKampung",), ("200",), _KAMPUNG, _body({"kampung_id": "id"}, "/items/0")),
    LinkSource(
        ("getInForce",), ("200",), _KAMPUNG, _body({"kampung_id": "id"}, "/kampung") | _body({"period": "period"})
    ),
    LinkSource(("putProfil", "putKependudukan", "putKkbpk"), ("200", "201"), _KAMPUNG, _body(_SUBMISSION)),
    LinkSource(("getSubmission",), ("200",), _KAMPUNG, _body(_SUBMISSION)),
    LinkSource(("listSubmissions",), ("200",), _KAMPUNG, _body(_SUBMISSION, "/items/0")),
    LinkSource(("putPeriod",), ("200",), _KAMPUNG, _body({"kampung_id": "kampung_id", "period": "period"})),
    LinkSource(
        ("createKegiatan",),
        ("200", "201"),
        f"{_KAMPUNG}/kegiatan",
        _body({"kampung_id": "kampung_id", "kegiatan_id": "id"}),
    ),
    LinkSource(
        ("listKegiatan",),
        ("200",),
        f"{_KAMPUNG}/kegiatan",
        _body({"kampung_id": "kampung_id", "kegiatan_id": "id"}, "/items/0"),
    ),
    LinkSource(
        ("setPercontohan",),
        ("200",),
        f"{_KAMPUNG}/percontohan",
        {"kampung_id": "$request.path.kampung_id", "level": "$request.body#/level"},
    ),
    LinkSource(("createImport",), ("200", "202"), "/v1/imports/{job_id}", _body({"job_id": "id"})),
    LinkSource(("createKey",), ("201",), "/v1/keys/{prefix}", _body({"prefix": "prefix"})),
    LinkSource(("createEnrolment",), ("201",), "/v1/enrolments/{code}", _body({"code": "code"})),
    LinkSource(("createWebhook",), ("201",), "/v1/webhooks/{webhook_id}", _body({"webhook_id": "id"})),
    LinkSource(("listFlags",), ("200",), "/v1/quality/flags/{flag_id}", _body({"flag_id": "id"}, "/items/0")),
)
"""Where the values of path parameters come from. A source links to each operation at or under its path that takes
every value it gives and needs no other but codes (which a client picks from a list): a new or listed Kampung KB to
its reads and writes, a month in force or written to the writes and reads of that month, a written submission to
its reads, an activity recorded or listed to its read. Keys link from the ones just made, never from `listKeys`
(whose first key may be the caller's own)."""

_IF_NONE_MATCH = {
    "name": "If-None-Match",
    "in": "header",
    "required": False,
    "description": "The `ETag` of the version the client has: 304 without a body if it is still the current one.",
    "schema": {"type": "string"},
}


ERRORS: dict[str, dict[str, str]] = {
    "createKampung": {"409": "The desa already has an active Kampung KB"},
    "updateKampung": {"409": "Made active in a desa that has another active Kampung KB"},
    "setPercontohan": {"409": "The region already has a percontohan at that level"},
}
"""Error statuses an operation answers beyond those its shape implies (see `document_problems`)."""

_DATABASE_AWAY = (
    "The database cannot be reached (restarting, failing over): nothing was done; retry after `Retry-After`"
)
_TOO_MANY_REQUESTS = "Over the rate limit of the caller's route group: wait for the seconds `Retry-After` says"


def _depends_on(dependant: Dependant, calls: tuple[Callable[..., Any], ...]) -> bool:
    """Whether one of `calls` is among the dependencies of a route, at any depth."""
    pending = [dependant]
    while pending:
        current = pending.pop()
        if current.call in calls:
            return True
        pending.extend(current.dependencies)
    return False


def _depending_on(routes: list[BaseRoute], calls: tuple[Callable[..., Any], ...]) -> set[str]:
    """The operations with one of `calls` among their dependencies: the rate-limited ones (`auth.deps.RATE_LIMITING`),
    those that read or write the database (`db.get_session`)."""
    return {
        route.operation_id or route.unique_id
        for route in iter_route_contexts(routes)
        if isinstance(route.original_route, APIRoute) and _depends_on(route.dependant, calls)
    }


def _streamed(routes: list[BaseRoute]) -> set[str]:
    """The operations that answer a stream, never tagged by its content (`etags.NotModifiedMiddleware`)."""
    return {
        route.operation_id or route.unique_id
        for route in iter_route_contexts(routes)
        if isinstance(route.original_route, APIRoute)
        and isinstance(route.original_route.response_class, type)  # a route's own, not the app's default
        and issubclass(route.original_route.response_class, StreamingResponse)
    }


def _is_code(schema: dict[str, Any], parameter: dict[str, Any]) -> bool:
    """Whether a parameter takes a code of a list (an enum), which a client picks rather than learns from a response."""
    target = parameter["schema"]
    if "$ref" in target:
        target = schema["components"]["schemas"][target["$ref"].rsplit("/", 1)[1]]
    return "enum" in target


def _links(schema: dict[str, Any], source: str) -> dict[str, dict[str, dict[str, Any]]]:
    """The OpenAPI links of an operation's responses by status, from `LINK_SOURCES`."""
    links: dict[str, dict[str, dict[str, Any]]] = {}
    for link_source in LINK_SOURCES:
        if source not in link_source.operations:
            continue
        for path, item in schema.get("paths", {}).items():
            if path != link_source.under and not path.startswith(f"{link_source.under}/"):
                continue
            for target in item.values():
                parameters = target.get("parameters", [])
                if not link_source.values.keys() <= {p["name"] for p in parameters}:
                    continue
                if any(
                    p["in"] == "path" and p["name"] not in link_source.values and not _is_code(schema, p)
                    for p in parameters
                ):
                    continue
                for status in link_source.statuses:
                    links.setdefault(status, {})[target["operationId"]] = {
                        "operationId": target["operationId"],
                        "parameters": link_source.values,
                    }
    return links


def prepare_document(schema: dict[str, Any], routes: list[BaseRoute]) -> dict[str, Any]:
    """Add the response headers, the links, the 304 of conditional reads, the parameter constraints, the errors of
    `ERRORS`, the 429 of rate-limited operations and the 503 of those on the database; `document_problems` then gives
    every error its problem schema."""
    rate_limited = _depending_on(routes, RATE_LIMITING)
    on_database = _depending_on(routes, (get_session,))
    streamed = _streamed(routes)
    for item in schema.get("paths", {}).values():
        for method, operation in item.items():
            responses = operation.get("responses", {})
            for status, description in ERRORS.get(operation.get("operationId", ""), {}).items():
                responses.setdefault(status, {"description": description})
            if operation.get("operationId") in rate_limited:
                responses["429"] = {"description": _TOO_MANY_REQUESTS, "headers": dict(_RATE_LIMIT_HEADERS)}
            if operation.get("operationId") in on_database:  # `unavailable.py`: never a 500 for it
                responses.setdefault("503", {"description": _DATABASE_AWAY})
                responses["503"].setdefault("headers", {})["Retry-After"] = _RETRY_AFTER
            for status, headers in RESPONSE_HEADERS.get(operation.get("operationId", ""), {}).items():
                responses.setdefault(status, {"description": "Problem"}).setdefault("headers", {}).update(headers)
            for status, links in _links(schema, operation.get("operationId", "")).items():
                responses[status]["links"] = links
            for parameter in operation.get("parameters", []):
                constraints = _PARAMETER_CONSTRAINTS.get((parameter["in"], parameter["name"]))
                if constraints:
                    constrain(parameter["schema"], **constraints)
            if method == "get" and "200" in responses and operation.get("operationId") not in streamed:
                responses["200"].setdefault("headers", {}).setdefault("ETag", _CONTENT_TAG)
            if method == "get" and "ETag" in responses.get("200", {}).get("headers", {}):
                operation.setdefault("parameters", []).append(_IF_NONE_MATCH)
                responses["304"] = {
                    "description": "Not modified: `If-None-Match` names the current version; no body.",
                    "headers": {"ETag": _ETAG},
                }
    return schema
