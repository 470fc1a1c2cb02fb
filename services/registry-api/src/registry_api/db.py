"""The database: declarative base, engine from settings, and the one dependency that owns the transaction."""

from collections.abc import AsyncIterator
from typing import Annotated, Any
from urllib.parse import urlsplit, urlunsplit

from fastapi import Depends, Request
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


BIGINT_MAX = 2**63 - 1
"""The largest id a bigint column holds: ids in paths and cursors are bounded by it, so none overflows in SQL."""


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def sqlalchemy_url(database_url: str) -> str:
    """`postgresql://...` (what every service is given) as the asyncpg dialect URL SQLAlchemy wants."""
    parts = urlsplit(database_url)
    return urlunsplit(parts._replace(scheme="postgresql+asyncpg"))


def create_engine(database_url: str, *, pool_size: int = 10) -> AsyncEngine:
    return create_async_engine(
        sqlalchemy_url(database_url), pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
    )


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def driver_connection(connection: AsyncConnection) -> Any:
    """The asyncpg connection under SQLAlchemy's, in the same transaction: for COPY, and for the statements of hot
    paths (the write path, classification), where going through SQLAlchemy costs about three times the CPU of the
    statement itself (some 190 µs against 60 µs, measured on a one-row query)."""
    raw = (await connection.get_raw_connection()).driver_connection
    assert raw is not None
    return raw


async def session_driver(session: AsyncSession) -> Any:
    """`driver_connection` of the session's connection, its transaction begun.

    SQLAlchemy's asyncpg adapter sends BEGIN only before the first statement that goes through it: a transaction whose
    statements all go straight to the driver would otherwise run each of them on its own (no lock held, nothing
    atomic). The adapter begins it here as it would there, so that its commit and rollback still apply."""
    connection = await session.connection()
    adapted = (await connection.get_raw_connection()).dbapi_connection
    if adapted is not None and adapted._transaction is None:
        await adapted._start_transaction()
    return await driver_connection(connection)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request: committed when the endpoint returns, rolled back when it raises."""
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with sessionmaker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
