"""Liveness and readiness.

Ready means PostgreSQL answers: without it no request can be served, so the pod leaves the Service. Redis is reported
but not required: without it writes still commit (their report events wait in the outbox, `background/relay.py`) and
rate limits fail open, so every pod leaving the Service for it would turn a Redis outage into a total one. Each
check sets `registry_dependency_up{dependency}` (1 or 0), which the alerts read.

The database is asked over a connection of the check's own (`readiness_engine`: a pool of one, apart from the
requests' pool), so a pool busy with requests never delays the answer; the whole check is bounded by
`READY_WITHIN_S`, under the kubelet's 3 s `timeoutSeconds`, so a server that hangs gets a 503 that says so rather than
a probe timing out.
"""

import asyncio
from collections.abc import Awaitable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from prometheus_client import Gauge
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from registry_api.db import create_engine

router = APIRouter(tags=["health"])

READY_WITHIN_S = 2.0
"""How long a dependency may take to answer a readiness check before it counts as unreachable."""

DEPENDENCY_UP = Gauge(
    "registry_dependency_up",
    "Whether a dependency answered registry-api's last readiness check (1) or not (0)",
    ["dependency"],
)


def readiness_engine(database_url: str) -> AsyncEngine:
    """The readiness check's own connection to PostgreSQL (opened at the first check, again after a restart)."""
    return create_engine(database_url, pool_size=1, max_overflow=0)


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


_READINESS = {
    "type": "object",
    "properties": {
        "status": {"type": "string", "enum": ["ready", "not ready"]},
        "checks": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}


@router.get(
    "/readyz",
    responses={
        200: {"content": {"application/json": {"schema": _READINESS}}},
        503: {
            "description": "PostgreSQL is unreachable",
            "content": {"application/json": {"schema": _READINESS}},
        },
    },
)
async def readyz(request: Request) -> JSONResponse:
    """Readiness: PostgreSQL answers (503 when it does not). Redis is reported in `checks` but not required: without
    it writes go on, their report events waiting in the outbox."""
    state = request.app.state
    database, redis = await asyncio.gather(_check(_select_one(state.readiness_engine)), _check(state.redis.ping()))
    checks = {"database": database, "redis": redis}
    for dependency, answer in checks.items():
        DEPENDENCY_UP.labels(dependency=dependency).set(answer == "ok")
    ready = database == "ok"
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks}, status_code=200 if ready else 503
    )


async def _select_one(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


async def _check(answer: Awaitable[object]) -> str:
    """`ok`, or `unreachable: <the error's type>` (`TimeoutError` after `READY_WITHIN_S`)."""
    try:
        async with asyncio.timeout(READY_WITHIN_S):
            await answer
    except Exception as exc:  # any failure means unreachable; the reason is reported
        return f"unreachable: {type(exc).__name__}"
    return "ok"
