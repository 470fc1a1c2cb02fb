"""The registry's settings pointed at the run's classifier process, an app on a committed database for concurrency
tests, and the demo province with an admin key and one Kampung KB."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kampungkb_local.servers import free_port
from registry_api.main import create_app
from registry_api.settings import Settings
from tests.factories import load_demo_regions, make_kampung, make_key


def registry_settings(database_url: str, redis_url: str, classifier_url: str, **fields: object) -> Settings:
    return Settings(  # type: ignore[call-arg]
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        LOG_JSON=False,
        classifier_url=classifier_url,
        **{"outbox_relay_in_api": False, "webhooks_in_api": False, **fields},
    )


@pytest.fixture
def settings(database_url: str, redis_url: str, classifier_url: str) -> Settings:
    """The registry's settings, pointed at the real classifier; the tests drive the outbox relay themselves."""
    return registry_settings(database_url, redis_url, classifier_url)


@pytest.fixture
def dead_url() -> str:
    """A loopback URL where nothing listens."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
async def live_client(fresh_database_url: str, redis_url: str, classifier_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The registry app in-process on the fresh database, with its own engine: requests really run concurrently."""
    app = create_app(registry_settings(fresh_database_url, redis_url, classifier_url, db_pool_size=20))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://registry.test", timeout=30) as http:
            yield http


@asynccontextmanager
async def app_client(
    settings: Settings, session_factory: async_sessionmaker[AsyncSession]
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """Like the `client` fixture, for other settings: the app's sessions join the test's rolled-back transaction."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        app.state.sessionmaker = session_factory
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://registry.test") as http:
            yield app, http


@pytest.fixture
async def admin(session: AsyncSession) -> str:
    """The demo province loaded, and an admin key for it."""
    await load_demo_regions(session)
    return await make_key(session)


@pytest.fixture
async def kampung_id(client: httpx.AsyncClient, admin: str) -> int:
    """One Kampung KB in the demo province's first desa."""
    return int((await make_kampung(client, admin))["id"])


def watch_explanations(client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The bodies the app's classifier client is asked to explain from now on: a spy over the real call."""
    classifier = client._transport.app.state.classifier  # type: ignore[attr-defined]
    explained: list[bytes] = []
    explain = classifier.explain

    async def watched(body: bytes, **options: Any) -> list[dict[str, Any]]:
        explained.append(body)
        return list(await explain(body, **options))

    monkeypatch.setattr(classifier, "explain", watched)
    return explained
