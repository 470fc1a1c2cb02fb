"""Statements sent straight to the driver belong to the session's transaction, even when nothing else ran before."""

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from registry_api.db import create_engine, create_sessionmaker, session_driver

_INSERT = "INSERT INTO outbox (topic, key, payload) VALUES ('report', 'db-test', '{}')"
_COUNT = text("SELECT count(*) FROM outbox WHERE key = 'db-test'")


async def test_a_transaction_of_driver_statements_only_rolls_back_and_commits_whole(
    fresh_database_url: str, committed_session: AsyncSession
) -> None:
    engine = create_engine(fresh_database_url, pool_size=1)
    sessionmaker = create_sessionmaker(engine)
    try:
        async with sessionmaker() as session:
            driver = await session_driver(session)
            assert driver.is_in_transaction()
            await driver.execute(_INSERT)
            await session.rollback()
        assert await committed_session.scalar(_COUNT) == 0

        async with sessionmaker() as session:
            await (await session_driver(session)).execute(_INSERT)
            await (await session_driver(session)).execute(_INSERT)  # the same transaction, begun once
            await session.commit()
        assert await committed_session.scalar(_COUNT) == 2
    finally:
        await engine.dispose()
