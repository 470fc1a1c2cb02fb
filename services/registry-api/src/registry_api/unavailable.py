"""A database that cannot be reached (down, restarting, shutting down, the connection lost), or no connection free
in time, answers 503 with `Retry-After`, never 500: the request did not happen, and the client retries."""

import logging

import asyncpg
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from kampungkb_shared.errors import InternalError, ServiceUnavailable
from kampungkb_shared.problems import problem_response
from kampungkb_shared.unreachable import database_unreachable

log = logging.getLogger(__name__)

RETRY_AFTER_S = 2
"""A restart of PostgreSQL takes a second or two; a client's retry sooner would find it still away."""


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    if database_unreachable(exc):
        log.warning("database unreachable on %s %s: %s", request.method, request.url.path, type(exc).__name__)
        error = ServiceUnavailable(
            "the database cannot be reached right now; retry later", headers={"Retry-After": str(RETRY_AFTER_S)}
        )
        return problem_response(error.problem(), headers=error.headers)
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(InternalError("unexpected error, logged").problem())


async def _no_connection_free(request: Request, exc: Exception) -> JSONResponse:
    log.warning("no database connection free in time on %s %s", request.method, request.url.path)
    error = ServiceUnavailable(
        "the server is busy: no database connection was free in time; retry later",
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )
    return problem_response(error.problem(), headers=error.headers)


def install_unavailable_handlers(app: FastAPI) -> None:
    """Map the errors of an unreachable database, and a pool with no connection free in time, to 503 (others stay
    500, logged)."""
    for kind in (DBAPIError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
        app.add_exception_handler(kind, _database_error)
    app.add_exception_handler(PoolTimeout, _no_connection_free)
