"""The access log and latency histogram of each request (`kampungkb_shared.observability.RequestTimer` calls it)."""

import logging

from prometheus_client import Histogram

from kampungkb_shared.observability import PROBES_AND_SCRAPES, Finished, Scope, request_id, route_template

log = logging.getLogger("classifier.access")


def access_log(latency: Histogram) -> Finished:
    """Observes each request's latency by route and logs one line for it, with the request id; probes and scrapes
    are left out of both, as registry-api leaves them out."""

    def finished(scope: Scope, status: int, seconds: float) -> None:
        route = route_template(scope)
        if route in PROBES_AND_SCRAPES:
            return
        latency.labels(route=route or "unmatched", method=scope["method"]).observe(seconds)
        log.info(
            "request",
            extra={
                "request_id": request_id.get(),
                "method": scope["method"],
                "path": scope["path"],
                "status": status,
                "ms": round(seconds * 1000, 2),
            },
        )

    return finished
