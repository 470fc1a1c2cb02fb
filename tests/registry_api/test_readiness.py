"""Readiness: PostgreSQL, asked over a connection of the check's own; Redis reported, in the answer and as a gauge,
but not required (writes go on without it, their report events waiting in the outbox)."""

from pathlib import Path

from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kampungkb_local.servers import RedisServer, free_port
from registry_api.settings import Settings
from tests.factories import auth, kependudukan_payload, make_kampung
from tests.registry_api.conftest import app_client, registry_settings


def _up(dependency: str) -> float | None:
    return REGISTRY.get_sample_value("registry_dependency_up", {"dependency": dependency})


async def test_redis_stopped_the_api_stays_ready_and_says_so(
    database_url: str,
    classifier_url: str,
    session_factory: async_sessionmaker[AsyncSession],
    admin: str,
    tmp_path: Path,
) -> None:
    redis = RedisServer(tmp_path / "redis", free_port()).start()
    try:
        settings = registry_settings(database_url, redis.url, classifier_url)
        async with app_client(settings, session_factory) as (_, http):
            ready = await http.get("/readyz")
            assert (ready.status_code, ready.json()["checks"]) == (200, {"database": "ok", "redis": "ok"})
            assert (_up("database"), _up("redis")) == (1.0, 1.0)

            redis.stop()
            ready = await http.get("/readyz")
            assert ready.status_code == 200, ready.text
            assert ready.json()["status"] == "ready"
            assert ready.json()["checks"]["database"] == "ok"
            assert ready.json()["checks"]["redis"].startswith("unreachable: ")
            assert (_up("database"), _up("redis")) == (1.0, 0.0)
            # ... and a write goes on: its report event waits in the outbox.
            kampung_id = (await make_kampung(http, admin))["id"]
            written = await http.put(
                f"/v1/kampung/{kampung_id}/kependudukan/2024-01", json=kependudukan_payload(), headers=auth(admin)
            )
            assert written.status_code == 201, written.text
            async with session_factory() as session:
                owed = "SELECT count(*) FROM outbox WHERE topic = 'report' AND delivered_at IS NULL"
                assert await session.scalar(text(owed)) > 0

            redis.start()
            ready = await http.get("/readyz")
            assert (ready.status_code, ready.json()["checks"]) == (200, {"database": "ok", "redis": "ok"})
            assert _up("redis") == 1.0
    finally:
        redis.stop()


async def test_readiness_does_not_wait_for_a_busy_request_pool(
    settings: Settings, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    busy = settings.model_copy(update={"db_pool_size": 1})  # one connection and one of overflow
    async with app_client(busy, session_factory) as (app, http):
        async with app.state.engine.connect() as first, app.state.engine.connect() as second:
            await first.execute(text("SELECT 1"))
            await second.execute(text("SELECT 1"))
            # Every connection of the requests' pool is taken: a request would wait for one, the check does not.
            ready = await http.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"]["database"] == "ok"
