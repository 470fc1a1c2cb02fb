"""Every database connection of a registry process busy (slow export readers, a burst): a request waits at most
`REGISTRY_DB_POOL_TIMEOUT_S` for one, then answers 503 problem+json with `Retry-After`, never a 500; once a
connection is free, requests go through again."""

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from registry_api.main import create_app
from tests.factories import auth, load_demo_regions, make_key
from tests.registry_api.conftest import registry_settings


async def test_a_request_that_finds_no_connection_free_in_time_is_a_503(
    fresh_database_url: str, redis_url: str, classifier_url: str, committed_session: AsyncSession
) -> None:
    await load_demo_regions(committed_session)
    key = await make_key(committed_session)
    settings = registry_settings(fresh_database_url, redis_url, classifier_url, db_pool_size=1, db_pool_timeout_s=0.3)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://registry.test", timeout=30) as client:
            assert (await client.get("/v1/wilayah/99", headers=auth(key))).status_code == 200
            engine = app.state.engine
            async with engine.connect(), engine.connect():  # the pool's one and its one of overflow, held
                busy = await client.get("/v1/wilayah/99", headers=auth(key))
            assert busy.status_code == 503, busy.text
            assert busy.headers["content-type"] == "application/problem+json"
            assert busy.headers["Retry-After"] == "2"
            assert "no database connection was free" in busy.json()["detail"]
            assert (await client.get("/v1/wilayah/99", headers=auth(key))).status_code == 200
