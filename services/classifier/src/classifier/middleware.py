"""Latency histogram and access log, as plain ASGI middleware (cheaper than BaseHTTPMiddleware on the batch path)."""

import logging
import time
from typing import Any

from prometheus_client import Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kampungkb_shared.observability import request_id

log = logging.getLogger("classifier.access")


class AccessLog:
    """Observes each request's latency by route and logs one line for it, with the request id."""

    def __init__(self, app: ASGIApp, latency: Histogram) -> None:
        self.app = app
        self.latency = latency

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
            elapsed = time.perf_counter() - started
            route: Any = scope.get("route")
            path = getattr(route, "path", "unmatched")
            self.latency.labels(route=path, method=scope["method"]).observe(elapsed)
            log.info(
                "request",
                extra={
                    "request_id": request_id.get(),
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "ms": round(elapsed * 1000, 2),
                },
            )
