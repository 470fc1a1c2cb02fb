"""The registry's HTTP application: `uvicorn registry_api.main:app`."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import lru_cache

import httpx
from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from prometheus_fastapi_instrumentator import Instrumentator
from redis.asyncio import Redis

from kampungkb_shared.collector import freeze_startup_objects
from kampungkb_shared.observability import RequestIdMiddleware, configure_logging
from kampungkb_shared.problems import install_problem_docs, install_problem_handlers
from registry_api import health
from registry_api.body_limit import BodyLimitMiddleware
from registry_api.classifications.client import create_classifier
from registry_api.classifications.router import router as classification_router
from registry_api.db import create_engine, create_sessionmaker
from registry_api.imports.router import router as imports_router
from registry_api.imports.runner import create_runner
from registry_api.kampung.router import router as kampung_router
from registry_api.outbox.queue import ReportQueue
from registry_api.outbox.relay import create_relay
from registry_api.quality.router import router as quality_router
from registry_api.ranking.router import router as ranking_router
from registry_api.reports.router import router as reports_router
from registry_api.settings import Settings, get_settings
from registry_api.submissions.router import router as submissions_router
from registry_api.wilayah.router import router as wilayah_router

DESCRIPTION = """
Registry of Indonesia's Kampung KB (Kampung Keluarga Berkualitas): regions, Kampung KB profiles, module
submissions with revisions, classifications, bulk imports and reports.

Writes need an API key (`Authorization: Bearer <key>` or `X-API-Key`) whose role and region scope allow them.
Errors are `application/problem+json`.
"""


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    app.state.engine = create_engine(settings.database_url, pool_size=settings.db_pool_size)
    app.state.sessionmaker = create_sessionmaker(app.state.engine)
    app.state.redis = Redis.from_url(settings.redis_url, socket_timeout=1.0, socket_connect_timeout=1.0)
    app.state.classifier_http = httpx.AsyncClient(base_url=settings.classifier_url)
    app.state.classifier = create_classifier(app.state.classifier_http, settings)
    app.state.report_queue = ReportQueue(settings.redis_url, defer_s=settings.report_defer_s)
    await app.state.report_queue.open()
    stopping = asyncio.Event()
    relay_task = None
    if settings.outbox_relay_in_api:
        relay = create_relay(
            settings,
            sessionmaker=app.state.sessionmaker,
            classifier=app.state.classifier,
            queue=app.state.report_queue,
        )
        app.state.relay = relay
        relay_task = asyncio.create_task(relay.run(stopping), name="outbox-relay")
    import_task = None
    if settings.imports_in_api:
        app.state.import_runner = create_runner(
            settings,
            kind="api",
            sessionmaker=app.state.sessionmaker,
            classifier=app.state.classifier,
            queue=app.state.report_queue,
        )
        import_task = asyncio.create_task(app.state.import_runner.run(stopping), name="import-runner")
    freeze_startup_objects()
    try:
        yield
    finally:
        stopping.set()
        for task in (relay_task, import_task):
            if task is None:
                continue
            try:
                await asyncio.wait_for(task, timeout=5)
            except TimeoutError:
                # An import cut short is rolled back; its lease runs out and another claim runs it again.
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await app.state.report_queue.close()
        await app.state.classifier_http.aclose()
        await app.state.redis.aclose()
        await app.state.engine.dispose()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(title="Kampung KB registry", version="1.0.0", description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    install_problem_handlers(app)
    install_problem_docs(app)
    routers: tuple[APIRouter, ...] = (
        health.router,
        wilayah_router,
        kampung_router,
        submissions_router,
        classification_router,
        imports_router,
        ranking_router,
        reports_router,
        quality_router,
    )
    for router in routers:
        app.include_router(router)
    Instrumentator(excluded_handlers=["/metrics", "/healthz", "/readyz"]).instrument(app).expose(
        app, endpoint="/metrics", include_in_schema=False
    )
    app.add_middleware(
        BodyLimitMiddleware,
        default_limit=settings.max_body_bytes,
        limits={"/v1/imports": settings.max_import_bytes, "/v1/wilayah/import": settings.max_import_bytes},
    )
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["*"],
        allow_headers=["*"],
        expose_headers=["ETag", "Location", "X-Request-ID"],
    )
    app.add_middleware(RequestIdMiddleware)
    return app


@lru_cache
def _default_app() -> FastAPI:
    settings = get_settings()
    configure_logging(level=settings.log_level, json_logs=settings.log_json)
    return create_app(settings)


def __getattr__(name: str) -> FastAPI:
    # `uvicorn registry_api.main:app` builds the app on first access, never at import.
    if name == "app":
        return _default_app()
    raise AttributeError(name)
