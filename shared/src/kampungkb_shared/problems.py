"""FastAPI error handlers of the HTTP services: every error leaves as `application/problem+json` (RFC 9457).

Needs the `http` extra (FastAPI); the workers do not import it.
"""

import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute

from kampungkb_shared.errors import (
    AppError,
    FieldError,
    Forbidden,
    InternalError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    Problem,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
    Unprocessable,
    UnsupportedMediaType,
    problem_kinds,
)

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"

_BY_STATUS: dict[int, type[AppError]] = {
    cls.status: cls
    for cls in (
        AppError,  # 400: a body the framework cannot read (not UTF-8, nested deeper than its decoder goes)
        Unauthorized,
        Forbidden,
        NotFound,
        MethodNotAllowed,
        PayloadTooLarge,
        Unprocessable,
        TooManyRequests,
        ServiceUnavailable,
    )
}


def problem_response(problem: Problem, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        problem.model_dump(exclude_none=True), status_code=problem.status, media_type=PROBLEM_JSON, headers=headers
    )


JSON_MEDIA = "application/json"

_VALUE_ERROR = "Value error, "
"""What pydantic puts before the message of a `ValueError` a validator raises: the message is the service's own."""
_DICT_KEY = "[key]"
"""What pydantic appends to the `loc` of an invalid key of a mapping (`[..., "kb_users", "KB_PILL", "[key]"]`)."""


def field_error(err: Mapping[str, Any]) -> FieldError:
    """One of pydantic's errors as a problem names it: its `loc` (a mapping's invalid key ends it, as a field's name
    would), its message without pydantic's `Value error, ` and its error type."""
    loc = [part if isinstance(part, int) else str(part) for part in err["loc"]]
    if len(loc) >= 2 and loc[-1] == _DICT_KEY and err.get("input") == loc[-2]:
        loc.pop()  # the key itself is wrong (its input), not a value under a key named "[key]"
    return FieldError(loc=loc, msg=str(err["msg"]).removeprefix(_VALUE_ERROR), type=err["type"])


def _field_errors(exc: RequestValidationError) -> list[FieldError]:
    return [field_error(err) for err in exc.errors()]


def _unreadable_body(request: Request, exc: RequestValidationError) -> AppError | None:
    """The error of a JSON body the endpoint could not read at all, if that is what failed: 400 for a body that is
    not JSON, 415 for a body sent as another type (FastAPI hands the endpoint its bytes then, which no model takes)."""
    invalid = next((err for err in exc.errors() if err["type"] == "json_invalid"), None)
    if invalid is not None:
        reason = invalid.get("ctx", {}).get("error", "malformed")
        return AppError(f"the body is not JSON: {reason} at character {invalid['loc'][-1]}")
    if isinstance(exc.body, bytes | bytearray):
        media = request.headers.get("content-type", "").split(";")[0].strip()[:100] or "missing"
        return UnsupportedMediaType(f"Content-Type must be {JSON_MEDIA}, not {media}")
    return None


def _validation_handler(*, strict_json: bool) -> Callable[[Request, Exception], Any]:
    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        if strict_json and (unreadable := _unreadable_body(request, exc)) is not None:
            return problem_response(unreadable.problem())
        return problem_response(validation_problem(exc).problem())

    return validation_error


def validation_problem(exc: RequestValidationError) -> Unprocessable:
    """The 422 of a request its schema refused: every field error, the first five in its detail."""
    errors = _field_errors(exc)
    detail = "; ".join(f"{'.'.join(map(str, e.loc))}: {e.msg}" for e in errors[:5])
    return Unprocessable(detail, errors=errors)


async def _app_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return problem_response(exc.problem(), headers=exc.headers)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    kind = _BY_STATUS.get(exc.status_code)
    problem = Problem(
        type=kind.type_uri() if kind else "about:blank",
        title=kind.title if kind else "Error",
        status=exc.status_code,
        detail=str(exc.detail),
    )
    return problem_response(problem, headers=getattr(exc, "headers", None))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(InternalError("unexpected error, logged").problem())


def install_problem_handlers(app: FastAPI, *, strict_json: bool = False) -> None:
    """Render every error as problem+json. With `strict_json`, a JSON body that is not JSON (malformed, cut short) is
    a 400 `bad-request` rather than a 422 at a character of the body, and a body of another `Content-Type` (or none)
    sent to an endpoint that reads JSON a 415 `unsupported-media-type` rather than a 422 on the body; document them
    with `document_problems(strict_json=True)`."""
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_handler(strict_json=strict_json))
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)


def _doc(cls: type[AppError]) -> str:
    return " ".join((cls.__doc__ or cls.title).split("\n\n")[0].split())


def problem_types() -> list[dict[str, Any]]:
    """Every problem `type` the services send, with its status, title and when it happens."""
    return [
        {"type": cls.type_uri(), "status": cls.status, "title": cls.title, "description": _doc(cls)}
        for cls in problem_kinds()
    ]


def _problem_table(types: list[dict[str, Any]]) -> str:
    rows = "\n".join(f"| `{t['type']}` | {t['status']} | {t['title']} | {t['description']} |" for t in types)
    return (
        "\n\n## Problem types\n\nEvery error is `application/problem+json` (RFC 9457) whose `type` names its kind; "
        "branch on `type`, not on `detail`. The same list is in `x-problem-types`.\n\n"
        "| type | status | title | when |\n|---|---|---|---|\n" + rows + "\n"
    )


def _response_description(status: int, types: list[dict[str, Any]], given: str | None) -> str:
    kinds = "; ".join(f"`{t['type']}`" for t in types if t["status"] == status)
    summary = given if given and given not in {"Problem", "Validation Error"} else None
    if summary is None:
        summary = next((t["title"] for t in types if t["status"] == status), "Problem")
    return f"{summary}. Problem `type`: {kinds}." if kinds else summary


def _own_content(response: dict[str, Any]) -> bool:
    content = response.get("content", {})
    return bool(content) and PROBLEM_JSON not in content and "HTTPValidationError" not in repr(content)


_PATH_PARAM = re.compile(r"\{[^}]+\}")


def document_problems(
    schema: dict[str, Any],
    *,
    every_body_limited: bool = False,
    every_target_checked: bool = False,
    strict_json: bool = False,
) -> dict[str, Any]:
    """Describe the errors in an OpenAPI document as they are sent: each error status an operation can answer is an
    `application/problem+json` body of the `Problem` schema, and the problem types are listed.

    The statuses follow from the operation: 422 with parameters or a body, or on every operation when
    `every_target_checked` (a path or query the app refuses before routing), 400 with a JSON body (and 415 with one
    when `strict_json`: `install_problem_handlers`), 401 and 403 with security, 404 with path parameters, 412 with
    `If-Match`, 413 with a body when `every_body_limited`; those declared by the route stay."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(problem.pop("$defs", {}))
    components["Problem"] = problem
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    types = problem_types()
    schema["x-problem-types"] = types
    info = schema.setdefault("info", {})
    info["description"] = info.get("description", "") + _problem_table(types)
    content = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, item in schema.get("paths", {}).items():
        for operation in item.values():
            responses = operation.setdefault("responses", {})
            responses.pop("default", None)
            statuses = {int(status) for status in responses if status[:1] in "45"}
            parameters = operation.get("parameters", [])
            if parameters or "requestBody" in operation or every_target_checked:
                statuses.add(422)
            if "requestBody" in operation and every_body_limited:
                statuses.add(413)
            if JSON_MEDIA in operation.get("requestBody", {}).get("content", {}):
                statuses.add(400)  # a JSON body the framework cannot read: not UTF-8, or nested deeper than it goes
                if strict_json:
                    statuses.add(415)  # a body of another type than JSON
            if operation.get("security"):
                statuses |= {401, 403}
            if _PATH_PARAM.search(path):
                statuses.add(404)
            if any(p.get("in") == "header" and p.get("name", "").lower() == "if-match" for p in parameters):
                statuses.add(412)
            for status in sorted(statuses):
                given = responses.get(str(status), {})
                if _own_content(given):
                    continue  # a non-problem answer the route documents itself (a readiness report)
                documented = {"description": _response_description(status, types, given.get("description"))}
                documented |= {kept: given[kept] for kept in ("headers", "links") if kept in given}
                responses[str(status)] = {**documented, "content": content}
    return schema


def install_problem_docs(
    app: FastAPI,
    *,
    every_body_limited: bool = False,
    every_target_checked: bool = False,
    strict_json: bool = False,
    prepare: Callable[[dict[str, Any], list[BaseRoute]], dict[str, Any]] | None = None,
) -> None:
    """Generate the app's OpenAPI document, let `prepare` add to it (given the app's routes too), then describe its
    errors (`document_problems`)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            app.openapi_schema = document_problems(
                prepare(schema, app.routes) if prepare else schema,
                every_body_limited=every_body_limited,
                every_target_checked=every_target_checked,
                strict_json=strict_json,
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
