"""FastAPI error handlers of the HTTP services: every error leaves as `application/problem+json` (RFC 9457).

Needs the `http` extra (FastAPI); the workers do not import it.
"""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from kampungkb_shared.errors import AppError, FieldError, Problem

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


def problem_response(problem: Problem, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        problem.model_dump(exclude_none=True), status_code=problem.status, media_type=PROBLEM_JSON, headers=headers
    )


def _field_errors(exc: RequestValidationError) -> list[FieldError]:
    return [
        FieldError(loc=[part if isinstance(part, int) else str(part) for part in err["loc"]], msg=err["msg"])
        for err in exc.errors()
    ]


async def _app_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return problem_response(exc.problem(), headers=exc.extra.get("headers"))


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = _field_errors(exc)
    detail = "; ".join(f"{'.'.join(map(str, e.loc))}: {e.msg}" for e in errors[:5])
    return problem_response(Problem(title="Unprocessable entity", status=422, detail=detail, errors=errors))


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    title = {404: "Not found", 405: "Method not allowed", 401: "Unauthorized"}.get(exc.status_code, "Error")
    return problem_response(
        Problem(title=title, status=exc.status_code, detail=str(exc.detail)), headers=getattr(exc, "headers", None)
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(Problem(title="Internal server error", status=500, detail="unexpected error, logged"))


def install_problem_handlers(app: FastAPI) -> None:
    """Render every error as problem+json."""
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)


def document_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """Describe the errors in an OpenAPI document as they are sent: `422` and every other error status
    (`default`) are `application/problem+json` bodies of the `Problem` schema."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(problem.pop("$defs", {}))
    components["Problem"] = problem
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    content = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            responses = operation.setdefault("responses", {})
            for status, response in list(responses.items()):
                if status == "422" or (status[:1] in "45" and "content" not in response):
                    responses[status] = {"description": response.get("description", "Problem"), "content": content}
            responses.setdefault("default", {"description": "Problem (RFC 9457)", "content": content})
    return schema


def install_problem_docs(app: FastAPI) -> None:
    """Generate the app's OpenAPI document with its errors described by `document_problems`."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_problems(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
