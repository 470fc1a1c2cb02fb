"""Each request counted, timed and logged by the route that answered it, and the `/metrics` the process exposes.

`kampungkb_shared.observability.RequestTimer` calls `observe` once a request is answered, with the route the router
already matched: nothing matches the path a second time (which cost a `PUT` some 6 % of its CPU). The access log is
this one, not uvicorn's (`--no-access-log`): a path that carries a secret is logged as its route's template.
"""

import logging

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest

from kampungkb_shared.observability import PROBES_AND_SCRAPES, Scope, route_template

REQUESTS = Counter(
    "http_requests_total", "HTTP requests by route template, method and status class", ["handler", "method", "status"]
)
LATENCY = Histogram(
    "http_request_duration_seconds",
    "HTTP request latency by route template and method",
    ["handler", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
UNTIMED = PROBES_AND_SCRAPES
"""Probes and scrapes, left out of the figures and the log."""
SECRET_PATHS = frozenset({"/v1/enrolments/{code}/qr.svg"})
"""Routes whose path holds a secret (an enrolment code redeems a device key): logged by their template."""

log = logging.getLogger("registry_api.access")

router = APIRouter(include_in_schema=False)


def observe(scope: Scope, status: int, seconds: float) -> None:
    """One answered request, counted, timed and logged; `none` for a path no route matched."""
    handler = route_template(scope) or "none"
    if handler in UNTIMED:
        return
    method = scope["method"]
    REQUESTS.labels(handler, method, f"{status // 100}xx").inc()
    LATENCY.labels(handler, method).observe(seconds)
    if log.isEnabledFor(logging.INFO):
        client = scope.get("client")
        log.info(
            "request",
            extra={
                "method": method,
                "path": handler if handler in SECRET_PATHS else scope["path"],
                "status": status,
                "ms": round(seconds * 1000, 2),
                "client": client[0] if client else None,
            },
        )


@router.get("/metrics")
async def metrics() -> Response:
    """Prometheus metrics of this process."""
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
