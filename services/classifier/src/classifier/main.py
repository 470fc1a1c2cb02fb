"""The classifier's FastAPI app. Rule sets load in the lifespan: importing this module loads nothing."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi_offline import FastAPIOffline

from classifier.middleware import access_log
from classifier.routes import router
from classifier.ruleset import load_rulesets
from classifier.settings import Settings
from classifier.state import AppState, Metrics
from kampungkb_shared.body_limit import BodyLimitMiddleware
from kampungkb_shared.classification import BatchRequest, ExplainRequest
from kampungkb_shared.collector import freeze_startup_objects
from kampungkb_shared.observability import RequestIdMiddleware, RequestTimer, configure_logging
from kampungkb_shared.openapi import operation_id
from kampungkb_shared.problems import document_problems, install_problem_handlers
from kampungkb_shared.security import install_security_headers

log = logging.getLogger("classifier")

DESCRIPTION = """
Scores a Kampung KB's snapshot (profil, kependudukan, kkbpk and partner activities as of a period) into its tier
(dasar, berkembang, mandiri, berkelanjutan) under a rule set, with the 12 sub-scores, the three indices and the
cheapest way to the next tier. Stateless; the registry calls it for every write.
"""


def create_app(settings: Settings | None = None, *, configure_logs: bool = False) -> FastAPI:
    """The app; `settings` default to the environment, read at start-up. A process of its own configures logs."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        current = settings or Settings()
        if configure_logs:
            configure_logging(level=current.log_level, json_logs=current.log_json)
        rulesets = load_rulesets(current.rulesets_dir)
        if current.default_ruleset not in rulesets:
            raise RuntimeError(
                f"CLASSIFIER_DEFAULT_RULESET={current.default_ruleset!r} is not one of {sorted(rulesets)}"
            )
        app.state.classifier = AppState(current, rulesets, current.default_ruleset)
        log.info("rule sets loaded", extra={"rulesets": {r.id: r.hash for r in rulesets.values()}})
        freeze_startup_objects()
        yield
        app.state.classifier = None

    # Swagger UI and ReDoc with their scripts and styles served by the app itself: docs work without internet.
    app = FastAPIOffline(
        title="Kampung KB classifier",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
    )
    app.state.classifier = None
    app.state.metrics = Metrics.create()
    app.include_router(router)
    install_problem_handlers(app)
    # Read when the app is built (the middleware wraps it), unlike the rule sets, which load in the lifespan.
    built_with = settings or Settings()
    app.add_middleware(BodyLimitMiddleware, default_limit=built_with.max_body_bytes)
    app.add_middleware(RequestTimer, finished=access_log(app.state.metrics.latency))
    app.add_middleware(RequestIdMiddleware)
    install_security_headers(app, hsts_max_age_s=built_with.hsts_max_age_s)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in (BatchRequest, ExplainRequest):
                body = model.model_json_schema(ref_template="#/components/schemas/{model}")
                components.update(body.pop("$defs", {}))
                components[model.__name__] = body
            app.openapi_schema = document_problems(schema, every_body_limited=True)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


app = create_app(configure_logs=True)
