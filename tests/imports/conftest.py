"""Imports in-process on the rolled-back test transaction, with a real classifier process; jobs run on demand."""

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry_api.auth.service import Role
from registry_api.background.imports import ImportRunner, create_runner
from registry_api.main import create_app
from registry_api.settings import Settings
from tests.factories import auth, load_demo_regions, make_key


def import_settings(database_url: str, redis_url: str, classifier_url: str, **fields: object) -> Settings:
    fields = {"outbox_relay_in_api": False, "imports_in_api": False, **fields}
    return Settings(  # type: ignore[call-arg]
        DATABASE_URL=database_url, REDIS_URL=redis_url, LOG_JSON=False, classifier_url=classifier_url, **fields
    )


@pytest.fixture
def settings(database_url: str, redis_url: str, classifier_url: str) -> Settings:
    return import_settings(database_url, redis_url, classifier_url)


@dataclass
class Api:
    """The app in-process (sessions inside the test's transaction), its keys, and a way to run queued jobs."""

    app: FastAPI
    http: httpx.AsyncClient
    admin: str
    runner: ImportRunner

    async def run_jobs(self) -> int:
        ran = 0
        while await self.runner.run_once():
            ran += 1
        return ran

    async def post(
        self, module: str, body: bytes | str, *, fmt: str = "csv", key: str | None = None, **params: Any
    ) -> httpx.Response:
        content_type = {"csv": "text/csv", "ndjson": "application/x-ndjson"}.get(fmt, fmt)
        headers = {**auth(key or self.admin), "Content-Type": content_type, **params.pop("headers", {})}
        query = {"module": module, **{k: str(v).lower() if isinstance(v, bool) else v for k, v in params.items()}}
        return await self.http.post("/v1/imports", params=query, content=body, headers=headers)

    async def run(self, module: str, body: bytes | str, **params: Any) -> dict[str, Any]:
        """Post, run the job, and return its final state."""
        key = params.get("key")
        response = await self.post(module, body, **params)
        assert response.status_code == 202, response.text
        await self.run_jobs()
        return await self.job(response.json()["id"], key=key)

    async def job(self, job_id: int, *, key: str | None = None) -> dict[str, Any]:
        response = await self.http.get(f"/v1/imports/{job_id}", headers=auth(key or self.admin))
        assert response.status_code == 200, response.text
        return dict(response.json())


_CLASSIFIED_WITH = text("""
    SELECT count(*) FROM classification c JOIN classification_snapshot s ON s.hash = c.snapshot_hash
     WHERE c.period = :p AND jsonb_typeof(s.snapshot->:module) = 'object'
""")


async def classified_with(session: AsyncSession, *, period: dt.date, module: str) -> int:
    """How many classifications of `period` saw a `module` submission in their snapshot."""
    return int(await session.scalar(_CLASSIFIED_WITH, {"p": period, "module": module}) or 0)


def failed_jobs(reason: str, module: str = "kampung") -> float:
    """Import jobs of `module` failed for `reason` (`registry_import_job_seconds{reason}`) so far, in this process."""
    labels = {"module": module, "status": "failed", "reason": reason}
    return REGISTRY.get_sample_value("registry_import_job_seconds_count", labels) or 0.0


def in_test_runner(
    app: FastAPI, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], runner: int = 0
) -> ImportRunner:
    """An import runner (`runner`: which of the process's) on the app's classifier and queue, whose jobs run in the
    test's sessions."""
    made = create_runner(
        settings,
        kind="test",
        sessionmaker=sessionmaker,
        classifier=app.state.classifier,
        queue=app.state.report_queue,
        runner=runner,
    )
    made.renew = False  # the test's sessions share one connection
    return made


@pytest.fixture
async def api(settings: Settings, session_factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[Api]:
    async with session_factory() as session:
        await load_demo_regions(session)
        admin = await make_key(session, Role.ADMIN, "00")
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        app.state.sessionmaker = session_factory
        runner = in_test_runner(app, settings, session_factory)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://registry.test") as http:
            yield Api(app=app, http=http, admin=admin, runner=runner)
