"""The registry's OpenAPI document beyond what the routes declare: response headers, conditional reads and the
constraints of path and query parameters the services check by hand."""

from typing import Any

from kampungkb_shared.openapi import PERIOD_PATTERN, REGION_CODE_PATTERN, constrain

_ETAG = {
    "description": "The version of the resource: send it back in `If-Match` to write only over this version, or in "
    "`If-None-Match` to read it again only if it changed (304 otherwise).",
    "schema": {"type": "string", "examples": ['"v3"']},
}
_LOCATION = {
    "description": "The URL of what was created.",
    "schema": {"type": "string", "examples": ["/v1/kampung/42"]},
}
_RETRY_AFTER = {
    "description": "Seconds to wait before trying again.",
    "schema": {"type": "integer", "minimum": 0, "examples": [5]},
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
}
"""Headers each operation sends, by operation id and status."""

_PARAMETER_CONSTRAINTS: dict[tuple[str, str], dict[str, Any]] = {
    ("path", "period"): {"pattern": PERIOD_PATTERN},
    ("query", "period"): {"pattern": PERIOD_PATTERN},
    ("query", "from"): {"pattern": PERIOD_PATTERN},
    ("query", "to"): {"pattern": PERIOD_PATTERN},
    ("path", "code"): {"pattern": REGION_CODE_PATTERN},
    ("query", "wilayah"): {"pattern": REGION_CODE_PATTERN},
    ("query", "parent"): {"pattern": REGION_CODE_PATTERN},
}
"""Patterns of parameters the routes parse themselves; a date-typed `from`/`to` (activities) keeps its format."""

_KAMPUNG_ID = {"kampung_id": "$response.body#/id"}
LINKS: dict[str, tuple[str, dict[str, dict[str, Any]]]] = {
    "createKampung": (
        "201",
        {
            target: {"operationId": target, "parameters": _KAMPUNG_ID}
            for target in (
                "getKampung",
                "updateKampung",
                "putProfil",
                "putKependudukan",
                "putKkbpk",
                "createKegiatan",
                "listKegiatan",
                "listSubmissions",
                "getClassification",
            )
        },
    ),
    "createImport": (
        "202",
        {"getImport": {"operationId": "getImport", "parameters": {"job_id": "$response.body#/id"}}},
    ),
}
"""OpenAPI links from a create to the reads and writes of what it created, by operation id and status."""

_IF_NONE_MATCH = {
    "name": "If-None-Match",
    "in": "header",
    "required": False,
    "description": "The `ETag` of the version the client has: 304 without a body if it is still the current one.",
    "schema": {"type": "string"},
}


ERRORS: dict[str, dict[str, str]] = {
    "createKampung": {"409": "The desa already has an active Kampung KB"},
    "setPercontohan": {"409": "The region already has a percontohan at that level"},
}
"""Error statuses an operation answers beyond those its shape implies (see `document_problems`)."""


def prepare_document(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the response headers, the links, the 304 of conditional reads, the parameter constraints and the errors of
    `ERRORS`; `document_problems` then gives every error its problem schema."""
    for item in schema.get("paths", {}).values():
        for method, operation in item.items():
            responses = operation.get("responses", {})
            if link := LINKS.get(operation.get("operationId", "")):
                status, links = link
                responses[status]["links"] = links
            for status, description in ERRORS.get(operation.get("operationId", ""), {}).items():
                responses.setdefault(status, {"description": description})
            for status, headers in RESPONSE_HEADERS.get(operation.get("operationId", ""), {}).items():
                responses.setdefault(status, {"description": "Problem"}).setdefault("headers", {}).update(headers)
            for parameter in operation.get("parameters", []):
                constraints = _PARAMETER_CONSTRAINTS.get((parameter["in"], parameter["name"]))
                if constraints:
                    constrain(parameter["schema"], **constraints)
            if method == "get" and "ETag" in responses.get("200", {}).get("headers", {}):
                operation.setdefault("parameters", []).append(_IF_NONE_MATCH)
                responses["304"] = {
                    "description": "Not modified: `If-None-Match` names the current version; no body.",
                    "headers": {"ETag": _ETAG},
                }
    return schema
