"""The registry's HTTP application: `uvicorn registry_api.main:app`."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import lru_cache

import httpx
from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from fastapi_offline import FastAPIOffline
from redis.asyncio import Redis

from kampungkb_shared.body_limit import BodyLimitMiddleware
from kampungkb_shared.collector import freeze_startup_objects
from kampungkb_shared.observability import RequestIdMiddleware, RequestTimer, configure_logging
from kampungkb_shared.openapi import operation_id
from kampungkb_shared.problems import install_problem_docs, install_problem_handlers
from kampungkb_shared.security import install_security_headers
from registry_api import health, http_metrics
from registry_api.approvals.router import router as approvals_router
from registry_api.auth.limits import RateLimiter
from registry_api.auth.oidc import OidcVerifier
from registry_api.auth.router import router as access_router
from registry_api.background.imports import create_runner
from registry_api.background.loops import stop_loops
from registry_api.background.relay import create_relay, deliver_after_commit
from registry_api.background.report_queue import create_report_queue
from registry_api.background.webhooks import create_dispatcher, webhook_http
from registry_api.changes.pipeline import REPORT_EVENTS
from registry_api.changes.router import router as changes_router
from registry_api.charts.router import router as charts_router
from registry_api.classifications.client import classifier_session, create_classifier
from registry_api.codes.router import router as codes_router
from registry_api.codes.rulesets import RulesetCatalogue
from registry_api.dashboard.router import router as dashboard_router
from registry_api.dashboard.router import static as dashboard_static
from registry_api.db import create_engine, create_sessionmaker
from registry_api.enrolments.router import router as enrolments_router
from registry_api.etags import NotModifiedMiddleware
from registry_api.exports.router import router as exports_router
from registry_api.exports.slots import ExportSlots
from registry_api.imports.router import router as imports_router
from registry_api.kampung.classification_router import router as classification_router
from registry_api.kampung.router import router as kampung_router
from registry_api.openapi import prepare_document
from registry_api.quality.router import router as quality_router
from registry_api.ranking.router import router as ranking_router
from registry_api.reporting.router import router as reporting_router
from registry_api.reports.router import router as reports_router
from registry_api.settings import Settings, get_settings
from registry_api.storable_text import StorableTextMiddleware
from registry_api.submissions.router import router as submissions_router
from registry_api.sync.router import router as sync_router
from registry_api.unavailable import install_unavailable_handlers
from registry_api.webhooks.router import router as webhooks_router
from registry_api.wilayah.router import router as wilayah_router

DESCRIPTION = """
Registry of Indonesia's Kampung KB (Kampung Keluarga Berkualitas): regions, Kampung KB profiles, module
submissions with revisions, classifications, bulk imports and reports.

Calls need an API key (`Authorization: Bearer <key>` or `X-API-Key`), or a bearer token of the configured OpenID
Connect issuer, whose role and region scope allow them; a Kampung KB and what it holds are visible only inside the
caller's scope (404 outside it). Region and report reads may be public (`REGISTRY_PUBLIC_READS`). Over a rate limit:
429 with `Retry-After` and `RateLimit-*` headers.
Errors are `application/problem+json`. Single-resource reads send an `ETag` and answer `304 Not Modified` to a
matching `If-None-Match`; responses over 1 KiB are gzip-compressed for clients that send `Accept-Encoding: gzip`.
Code lists with Indonesian and English labels are at `/v1/codes`. Every committed change is in the change feed,
`/v1/changes`.
"""

GZIP_MINIMUM_BYTES = 1024
"""Smaller responses go as they are: below a packet or two, compressing saves a phone nothing."""


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    app.state.engine = create_engine(
        settings.database_url, pool_size=settings.db_pool_size, pool_timeout_s=settings.db_pool_timeout_s
    )
    app.state.readiness_engine = health.readiness_engine(settings.database_url)  # apart from the requests' pool
    app.state.sessionmaker = create_sessionmaker(app.state.engine)
    app.state.redis = Redis.from_url(settings.redis_url, socket_timeout=1.0, socket_connect_timeout=1.0)
    app.state.classifier_http = httpx.AsyncClient(base_url=settings.classifier_url)
    app.state.classifier_session = classifier_session(settings.classifier_url)
    app.state.classifier = create_classifier(app.state.classifier_session, settings)
    app.state.rulesets = RulesetCatalogue(app.state.classifier_http)
    app.state.report_queue = create_report_queue(settings)
    app.state.oidc_http = httpx.AsyncClient(timeout=5.0)
    app.state.oidc = create_verifier(settings, app.state.oidc_http)
    if settings.rate_limits_enabled:
        app.state.rate_limiter = RateLimiter(
            settings.redis_url, limits=settings.rate_limits, prefix=settings.rate_limit_prefix
        )
    await app.state.report_queue.open()
    stopping = asyncio.Event()
    relay_task = None

    async def on_commit(owed: dict[str, list[int]]) -> None:
        """A request committed report events: wake the process's relay (it delivers the events of many requests
        together), or, where none runs, deliver them before answering."""
        if not (ids := owed.get(REPORT_EVENTS)):
            return
        if relay := getattr(app.state, "relay", None):
            relay.wake()
        else:
            await deliver_after_commit(app.state.sessionmaker, app.state.report_queue, ids=ids)

    app.state.on_commit = on_commit
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
    webhook_task = None
    app.state.webhook_http = webhook_http(settings.webhook_ca_file)
    if settings.webhooks_in_api:
        app.state.webhooks = create_dispatcher(
            settings, sessionmaker=app.state.sessionmaker, http=app.state.webhook_http
        )
        webhook_task = asyncio.create_task(app.state.webhooks.run(stopping), name="webhook-dispatcher")
    freeze_startup_objects()
    try:
        yield
    finally:
        stopping.set()
        # An import cut short is rolled back and handed back uncounted: another claim runs it again.
        await stop_loops((relay_task, import_task, webhook_task))
        await app.state.report_queue.close()
        await app.state.classifier_http.aclose()
        await app.state.classifier_session.close()
        await app.state.oidc_http.aclose()
        await app.state.webhook_http.aclose()
        await app.state.redis.aclose()
        await app.state.engine.dispose()
        await app.state.readiness_engine.dispose()


def create_verifier(settings: Settings, http: httpx.AsyncClient) -> OidcVerifier | None:
    """The check of the identity provider's bearer tokens, when an issuer is configured."""
    if not settings.oidc_issuer:
        return None
    return OidcVerifier(
        http=http,
        issuer=settings.oidc_issuer,
        audience=settings.oidc_audience,
        algorithms=list(settings.oidc_algorithms),
        role_claim=settings.oidc_role_claim,
        scope_claim=settings.oidc_scope_claim,
        name_claim=settings.oidc_name_claim,
        jwks_ttl_s=settings.oidc_jwks_ttl_s,
        jwks_refetch_s=settings.oidc_jwks_refetch_s,
        leeway_s=settings.oidc_leeway_s,
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    # Swagger UI and ReDoc with their scripts and styles served by the app itself: docs work without internet.
    app = FastAPIOffline(
        title="Kampung KB registry",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
    )
    app.state.settings = settings
    app.state.export_slots = ExportSlots(settings.export_slots)
    app.state.oidc = None
    app.state.rate_limiter = None
    # A JSON body that is not JSON is a 400, one of another type a 415 (imports read theirs: `imports/router.py`).
    install_problem_handlers(app, strict_json=True)
    install_unavailable_handlers(app)
    # Every body is limited (`BodyLimitMiddleware`), every path and query checked (`StorableTextMiddleware`).
    install_problem_docs(
        app, every_body_limited=True, every_target_checked=True, strict_json=True, prepare=prepare_document
    )
    routers: tuple[APIRouter, ...] = (
        health.router,
        access_router,
        enrolments_router,
        wilayah_router,
        kampung_router,
        submissions_router,
        classification_router,
        imports_router,
        exports_router,
        ranking_router,
        reports_router,
        quality_router,
        approvals_router,
        charts_router,
        changes_router,
        codes_router,
        reporting_router,
        webhooks_router,
        sync_router,
    )
    app.mount("/dashboard/static", dashboard_static, name="dashboard-static")
    app.include_router(dashboard_router)
    for router in routers:
        app.include_router(router)
    app.include_router(http_metrics.router)
    app.add_middleware(RequestTimer, finished=http_metrics.observe)
    bulk_bodies = {"/v1/imports": settings.max_import_bytes, "/v1/wilayah/import": settings.max_import_bytes}
    app.add_middleware(StorableTextMiddleware, bulk_paths=tuple(bulk_bodies))
    app.add_middleware(BodyLimitMiddleware, default_limit=settings.max_body_bytes, limits=bulk_bodies)
    app.add_middleware(NotModifiedMiddleware)
    app.add_middleware(GZipMiddleware, minimum_size=GZIP_MINIMUM_BYTES, compresslevel=6)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["*"],
        allow_headers=["*"],
        expose_headers=["ETag", "Location", "Retry-After", "X-Request-ID", "Preference-Applied"],
    )
    app.add_middleware(RequestIdMiddleware)
    install_security_headers(app, hsts_max_age_s=settings.hsts_max_age_s)
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
