"""The database: declarative base, engine from settings, and the one dependency that owns the transaction."""

from collections.abc import AsyncIterator, Iterable
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


CONNECT_TIMEOUT_S = 5.0
"""A database that does not answer a new connection within this fails the request (503) rather than holding it."""


def create_engine(database_url: str, *, pool_size: int = 10) -> AsyncEngine:
    return create_async_engine(
        sqlalchemy_url(database_url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        connect_args={"timeout": CONNECT_TIMEOUT_S},
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
    """`driver_connection` of the session's connection, inside the session's transaction.

    SQLAlchemy's asyncpg adapter sends BEGIN only before the first statement that goes through it: a transaction whose
    statements all went straight to the driver would run each of them on its own (no lock held, nothing atomic). So
    the first call of a transaction sends one statement through SQLAlchemy's public API, which begins it; the driver
    connection is then kept for the rest of that transaction (`Connection.info` of the transaction's connection)."""
    connection = await session.connection()
    transaction = connection.sync_connection.get_transaction() if connection.sync_connection else None
    cached = connection.info.get(_DRIVER)
    if cached is not None and cached[0] is transaction:
        return cached[1]
    await connection.exec_driver_sql("SELECT 1")
    driver = await driver_connection(connection)
    connection.info[_DRIVER] = (transaction, driver)
    return driver


_DRIVER = "kampungkb.driver"
"""Key of (the transaction it was begun for, the driver connection) in a connection's `info`."""


COMMITTED = "kampungkb.committed"
"""Key in a session's `info` of what its transaction wrote that work after the commit is owed for."""


def owe_after_commit(session: AsyncSession, what: str, ids: Iterable[int]) -> None:
    """Note ids of rows this transaction wrote (say `report_events`) that are owed work once it commits: a request's
    session hands them to `app.state.on_commit` after its commit; background loops deliver their own."""
    session.info.setdefault(COMMITTED, {}).setdefault(what, []).extend(ids)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request: committed when the endpoint returns, rolled back when it raises; what the commit
    owes work for goes to `app.state.on_commit`."""
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with sessionmaker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
        if owed := session.info.pop(COMMITTED, None):
            await request.app.state.on_commit(owed)


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
