import asyncio
import uuid

import asyncpg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from registry_api import migrate
from registry_api.db import create_engine
from registry_api.models import Base
from tests.conftest import create_database, drop_database


@pytest.fixture
async def empty_database_url(servers: tuple[str, str]):  # type: ignore[no-untyped-def]
    name = f"kkb_mig_{uuid.uuid4().hex[:8]}"
    url = await create_database(servers[0], name)
    yield url
    await drop_database(servers[0], name)


async def _tables(url: str) -> set[str]:
    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {row["tablename"] for row in rows}
    finally:
        await connection.close()


async def test_migrations_go_up_down_and_up_again(empty_database_url: str) -> None:
    await asyncio.to_thread(migrate.upgrade, empty_database_url)
    assert {"wilayah", "kampung", "submission", "classification", "outbox", "api_key"} <= await _tables(
        empty_database_url
    )
    await asyncio.to_thread(migrate.downgrade, empty_database_url, "base")
    assert await _tables(empty_database_url) == {"alembic_version"}
    await asyncio.to_thread(migrate.upgrade, empty_database_url)
    assert "kampung" in await _tables(empty_database_url)


async def test_models_and_migrations_agree(database_url: str) -> None:
    """Autogenerate finds nothing to add: every model change has its migration."""
    engine = create_engine(database_url, pool_size=1)

    def compare(connection: Connection) -> list[object]:
        return list(
            compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), Base.metadata)
        )

    try:
        async with engine.connect() as connection:
            diff = await connection.run_sync(compare)
    finally:
        await engine.dispose()
    assert diff == []
