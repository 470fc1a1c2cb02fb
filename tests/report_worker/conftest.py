"""Fixtures of the report tests: the test's own asyncpg connection (inside its rolled-back transaction)."""

from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.report_worker.data import Dataset, generate


@pytest.fixture
async def pg(session: AsyncSession) -> AsyncIterator[asyncpg.Connection]:
    """The asyncpg connection under the test's session: what it writes, the in-process registry reads."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert isinstance(driver, asyncpg.Connection)
    yield driver


@pytest.fixture
async def dataset(pg: asyncpg.Connection) -> Dataset:
    return await generate(pg)
