"""Request ids and JSON logs, the same in every process.

An HTTP service takes `X-Request-ID` from the request (or makes one), keeps it in `request_id` for the
duration of the request, echoes it on the response and forwards it to the services it calls; a worker
sets it from the job payload. Every log line carries it, so one submission can be followed from the
registry through the classifier and the queue into the worker.
"""

import logging
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from contextvars import ContextVar
from typing import Any

from pythonjsonlogger.json import JsonFormatter

REQUEST_ID_HEADER = "X-Request-ID"

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Finished = Callable[[Scope, int, float], None]
"""What a `RequestTimer` calls once a request is answered: its scope, its status and the seconds it took."""


class RequestIdFilter(logging.Filter):
    """Puts the current request id on every record (unless the record already carries one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id.get()
        return True


def json_formatter() -> logging.Formatter:
    """One JSON object per line: time, level, logger, message, request id, and any `extra` fields."""
    return JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s")


def configure_logging(*, level: str = "INFO", json_logs: bool = True) -> None:
    """Send every log record to stdout, as JSON when asked, each with the current request id."""
    handler = logging.StreamHandler(sys.stdout)
    handler.addFilter(RequestIdFilter())
    if json_logs:
        handler.setFormatter(json_formatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "arq"):
        # Through the root's handler, each one that logs at all: uvicorn's `--no-access-log` leaves its access logger
        # with neither a handler nor propagation, and it stays off.
        logger = logging.getLogger(name)
        logs = bool(logger.handlers) or logger.propagate
        logger.handlers[:] = []
        logger.propagate = logs


class RequestIdMiddleware:
    """Pure ASGI middleware: binds `request_id` for each HTTP request and echoes it as `X-Request-ID`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = REQUEST_ID_HEADER.lower().encode()
        given = next((value.decode("latin-1") for name, value in scope["headers"] if name == header), "")
        rid = given[:128] if given else uuid.uuid4().hex
        token = request_id.set(rid)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).append((header, rid.encode("latin-1")))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id.reset(token)


class RequestTimer:
    """Pure ASGI middleware: once the app has answered an HTTP request, calls `finished(scope, status, seconds)`.
    The route the app matched is then in the scope (see `route_template`): nothing matches the path a second time."""

    def __init__(self, app: ASGIApp, finished: Finished) -> None:
        self.app = app
        self.finished = finished

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            self.finished(scope, status, time.perf_counter() - started)


PROBES_AND_SCRAPES = frozenset({"/metrics", "/healthz", "/readyz"})
"""Routes left out of each HTTP service's request figures and access log: every few seconds, they would drown both."""


def route_template(scope: Scope) -> str | None:
    """The path template of the route that answered (`/v1/kampung/{kampung_id}`), None when none matched."""
    return getattr(scope.get("route"), "path", None)
