"""Exports read committed data on connections of their own: the app runs in-process on a fresh database (no test
transaction to roll back), imports are run on demand by a runner on the app's sessions, and a real classifier scores."""

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest

from registry_api.auth.service import Role
from registry_api.background.imports import ImportRunner, create_runner
from registry_api.db import create_engine, create_sessionmaker
from registry_api.main import create_app
from tests.factories import auth, load_demo_regions, make_key
from tests.imports.conftest import import_settings
from tests.imports.files import PERIOD


@dataclass
class Registry:
    http: httpx.AsyncClient
    admin: str
    runner: ImportRunner
    database_url: str

    async def key(self, role: Role, scope: str) -> str:
        engine = create_engine(self.database_url, pool_size=1)
        try:
            async with create_sessionmaker(engine)() as session:
                return await make_key(session, role, scope)
        finally:
            await engine.dispose()

    async def imported(
        self, module: str, body: bytes | str, *, fmt: str = "csv", period: str | None = PERIOD
    ) -> dict[str, Any]:
        """Post a file, run its job to the end, and return the finished job."""
        content_type = {"csv": "text/csv", "ndjson": "application/x-ndjson"}[fmt]
        params = {"module": module, **({"period": period} if period else {})}
        headers = {**auth(self.admin), "Content-Type": content_type}
        response = await self.http.post("/v1/imports", params=params, content=body, headers=headers)
        assert response.status_code == 202, response.text
        while await self.runner.run_once():
            pass
        job = await self.http.get(f"/v1/imports/{response.json()['id']}", headers=auth(self.admin))
        return dict(job.json())

    async def export(self, module: str, *, key: str | None = None, **params: str) -> httpx.Response:
        headers = auth(key or self.admin)
        query = {name.removesuffix("_"): value for name, value in params.items()}  # from_ -> from
        return await self.http.get(f"/v1/exports/{module}", params=query, headers=headers)

    async def value(self, sql: str, *args: Any) -> Any:
        connection = await asyncpg.connect(self.database_url)
        try:
            return await connection.fetchval(sql, *args)
        finally:
            await connection.close()


@pytest.fixture
async def registry(fresh_database_url: str, redis_url: str, classifier_url: str) -> AsyncIterator[Registry]:
    settings = import_settings(fresh_database_url, redis_url, classifier_url)
    engine = create_engine(fresh_database_url, pool_size=1)
    async with create_sessionmaker(engine)() as session:
        await load_demo_regions(session)
        admin = await make_key(session, Role.ADMIN, "00")
    await engine.dispose()
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        runner = create_runner(
            settings,
            kind="test",
            sessionmaker=app.state.sessionmaker,
            classifier=app.state.classifier,
            queue=app.state.report_queue,
        )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://registry.test") as http:
            yield Registry(http=http, admin=admin, runner=runner, database_url=fresh_database_url)


def month(period: str) -> dt.date:
    return dt.date.fromisoformat(f"{period}-01")
