"""A report `GET` costs a fixed, small number of statements, whatever the region, span or number of children."""

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from registry_api.auth.service import Role
from report_worker.aggregates import rebuild_period
from tests.factories import auth, make_key
from tests.report_worker.data import PERIODS, RULESETS, Dataset


@pytest.fixture
async def computed(pg: asyncpg.Connection, dataset: Dataset) -> None:
    for period in PERIODS:
        await rebuild_period(pg, period=period, rulesets=RULESETS)


@pytest.fixture
async def statements(session: AsyncSession, pg: asyncpg.Connection) -> AsyncIterator[Callable[[], list[str]]]:
    """The statements sent from now on, through SQLAlchemy or straight to the driver under it."""
    sent: list[str] = []
    connection = (await session.connection()).sync_connection
    assert connection is not None

    def through_sqlalchemy(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        sent.append(statement)

    def to_driver(record: Any) -> None:
        sent.append(record.query)

    event.listen(connection, "before_cursor_execute", through_sqlalchemy)
    pg.add_query_logger(to_driver)
    yield lambda: sent
    pg.remove_query_logger(to_driver)
    event.remove(connection, "before_cursor_execute", through_sqlalchemy)


async def _count(client: httpx.AsyncClient, statements: Callable[[], list[str]], url: str, key: str) -> int:
    before = len(statements())
    response = await client.get(url, headers=auth(key))
    assert response.status_code == 200, response.text
    await asyncio.sleep(0)  # the driver's query logger is called soon after, not at once
    return len(statements()) - before


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # each one planned for its region first (`db.plan_each`)
        ("/v1/reports/97.01?period=2025-06", 6),  # a kabupaten and its kecamatan
        ("/v1/reports/97?period=2025-Q2", 6),  # a provinsi over a quarter, the quarter before it too
        ("/v1/reports/00?period=2025-06", 6),  # the nation
        ("/v1/reports/97.01.01?period=2025-06", 6),  # a kecamatan, its desa read live
    ],
)
async def test_a_report_takes_a_fixed_number_of_statements(
    client: httpx.AsyncClient,
    session: AsyncSession,
    computed: None,
    statements: Callable[[], list[str]],
    url: str,
    expected: int,
) -> None:
    key = await make_key(session, Role.VIEWER)
    await _count(client, statements, url, key)  # the key's last use is written once; not what this counts
    counted = await _count(client, statements, url, key)
    assert counted == expected, "\n\n".join(statements()[-counted:])
