"""The database: declarative base, engine from settings, and the one dependency that owns the transaction."""

import logging
import re
from collections.abc import AsyncIterator, Iterable
from typing import Annotated, Any
from urllib.parse import urlsplit, urlunsplit

from fastapi import Depends, Request
from sqlalchemy import MetaData, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase

log = logging.getLogger(__name__)

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


READ_FROM_INDEXES = {
    "postgresql_with": {"autovacuum_vacuum_insert_scale_factor": 0.01, "autovacuum_vacuum_scale_factor": 0.01}
}
"""The `__table_args__` entry of a table read from its indexes alone (index-only scans skip the heap only on pages
the visibility map marks all-visible, which a vacuum does): autovacuum after a hundredth of its rows changes, not
a fifth, which with years of history would leave months of new rows unmarked (migration 0027)."""

ANALYZED_EACH_MONTH = {"autovacuum_analyze_scale_factor": 0, "autovacuum_analyze_threshold": 10_000}
"""Storage options of a table read by its newest period, analysed once 10,000 of its rows changed whatever its size
(migration 0030): at autovacuum's default (a tenth), a month that is a 36th of the history is never analysed, and the
planner, whose statistics list every period stored, takes the newest for an empty one."""


def sqlalchemy_url(database_url: str) -> str:
    """`postgresql://...` (what every service is given) as the asyncpg dialect URL SQLAlchemy wants."""
    parts = urlsplit(database_url)
    return urlunsplit(parts._replace(scheme="postgresql+asyncpg"))


CONNECT_TIMEOUT_S = 5.0
"""A database that does not answer a new connection within this fails the request (503) rather than holding it."""


POOL_TIMEOUT_S = 30.0
"""How long a checkout waits for a free connection (SQLAlchemy's default) before it fails."""


def create_engine(
    database_url: str, *, pool_size: int = 10, max_overflow: int | None = None, pool_timeout_s: float = POOL_TIMEOUT_S
) -> AsyncEngine:
    """Every engine of the registry (the API's, the worker's, the CLI's, the migrations', the readiness check's):
    `max_overflow` connections beyond `pool_size` (default as many again), a checkout waiting at most `pool_timeout_s`
    for one (then `sqlalchemy.exc.TimeoutError`: a request answers 503, `unavailable.py`). `hide_parameters`: an
    error of a statement names the statement but not its bound values, which may be secrets (a webhook's, a key's
    hash) or personal data, so that a logged traceback carries none of them."""
    engine = create_async_engine(
        sqlalchemy_url(database_url),
        pool_size=pool_size,
        max_overflow=pool_size if max_overflow is None else max_overflow,
        pool_timeout=pool_timeout_s,
        connect_args={"timeout": CONNECT_TIMEOUT_S},
        hide_parameters=True,
    )
    event.listen(engine.sync_engine, "checkout", _refuse_closed)
    return engine


def _refuse_closed(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """A pooled connection the server closed (a restart, a terminated backend) is replaced at checkout.

    This stands in for `pool_pre_ping`, whose ping with the asyncpg dialect is three round trips (BEGIN, a query,
    ROLLBACK) on every checkout, that is on every request: the driver learns that the server closed its socket
    without asking, so the check costs nothing. A connection lost silently (no FIN, say a network partition) is
    found by its first statement instead, which answers 503 (`registry_api.unavailable`); SQLAlchemy then replaces
    every connection of the pool opened before it."""
    if dbapi_connection.driver_connection.is_closed():
        raise DisconnectionError("the server closed this pooled connection")


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
    a transaction not begun yet is begun by one statement through SQLAlchemy's public API (`SELECT 1` here; a hot
    path begins with its first real statement instead: `session_fetch`); the driver connection is then kept in the
    session's `info` with the transaction it belongs to, so later calls cost a lookup."""
    driver = _begun(session)
    if driver is None:
        connection = await session.connection()
        await connection.exec_driver_sql("SELECT 1")
        driver = await _keep(session, connection)
    return driver


async def session_fetch(session: AsyncSession, query: str, *args: Any) -> list[Any]:
    """The rows of `query` (read by column name), sent to the driver in the session's transaction.

    When the transaction is not begun yet, the statement goes through SQLAlchemy's public `exec_driver_sql` and begins
    it, rather than a `SELECT 1` of `session_driver` spent on that alone: the first statement of a request (the key's
    lookup, the lock) saves a round trip."""
    driver = _begun(session)
    if driver is not None:
        return list(await driver.fetch(query, *args))
    connection = await session.connection()
    result = await connection.exec_driver_sql(query, args)
    rows = list(result.mappings()) if result.returns_rows else []
    await _keep(session, connection)
    return rows


GENERIC_PLANS = "set_config('plan_cache_mode', 'force_generic_plan', true)"
"""`plan_once` as an expression: a statement that selects it (a single write's lock does) saves a round trip."""


async def plan_once(session: AsyncSession) -> None:
    """Run the rest of the session's transaction with generic plans: each prepared statement is planned once per
    connection rather than on every execution.

    PostgreSQL plans a statement over `unnest` of array parameters again on every execution (a custom plan knows the
    arrays' lengths; the generic one guesses ten rows and looks dearer), which for a write of one Kampung KB costs
    more than running it: 0.5 ms to plan the snapshots' assembly against 0.2 ms to run it, 0.35 ms to plan the check
    of approved months against 0.03 ms. For a write of one Kampung KB, and for the relay's claims (an index walk
    whatever the batch), the generic plan is the right one; not for bulk writes, whose plans depend on how many rows
    the arrays hold. Local: it ends with the transaction (which it begins, when it is the first statement)."""
    await session_fetch(session, f"SELECT {GENERIC_PLANS}")


_CUSTOM_PLANS = "SET LOCAL plan_cache_mode = force_custom_plan"


async def plan_each(session: AsyncSession) -> None:
    """Run the rest of the session's transaction with custom plans: each prepared statement is planned for its
    parameters on every execution.

    For the reads whose parameters decide the plan: a report's statements serve the nation (`$1 = '00'`), a
    kabupaten or a kecamatan, and once a connection has run one five times PostgreSQL may keep a generic plan for
    all of them. On 36 months of national history, after ten reports of the nation on the same connection, the
    report of the largest kabupaten took 24 ms on the generic plans against 3.0 ms planned for its code (2.8 ms on
    a database holding the month alone); planning costs a fraction of a millisecond. `SET LOCAL`: it ends with the
    transaction, as `plan_once`'s setting."""
    await session_fetch(session, _CUSTOM_PLANS)


_PARAMETER = re.compile(r"\$(\d+)")


def shifted(query: str, by: int) -> str:
    """`query` with its parameters `$1`, `$2`... renumbered from `$1 + by`: to make a statement of this codebase (whose
    text holds no `$` but its parameters) a part of another statement, after that statement's own parameters."""
    return _PARAMETER.sub(lambda number: f"${int(number[1]) + by}", query)


def _begun(session: AsyncSession) -> Any | None:
    """The driver connection kept for the session's current transaction, None before its first statement."""
    kept = session.info.get(_DRIVER)
    if kept is not None and kept[0] is session.sync_session.get_transaction():
        return kept[1]
    return None


async def _keep(session: AsyncSession, connection: AsyncConnection) -> Any:
    driver = await driver_connection(connection)
    session.info[_DRIVER] = (session.sync_session.get_transaction(), driver)
    return driver


_DRIVER = "kampungkb.driver"
"""Key of (the session's transaction it belongs to, the driver connection) in a session's `info`."""


COMMITTED = "kampungkb.committed"
"""Key in a session's `info` of what its transaction wrote that work after the commit is owed for."""


def owe_after_commit(session: AsyncSession, what: str, ids: Iterable[int]) -> None:
    """Note ids of rows this transaction wrote (say `report_events`) that are owed work once it commits: a request's
    session hands them to `app.state.on_commit` after its commit; background loops deliver their own."""
    session.info.setdefault(COMMITTED, {}).setdefault(what, []).extend(ids)


AFTER_COMMIT = "kampungkb.after_commit"
"""Key in a session's `info` of the statements `write_after_commit` put off."""


def write_after_commit(session: AsyncSession, statement: str, *args: Any) -> None:
    """A small write (a key's last use) for after the request's commit, in a transaction of its own, and only if the
    request succeeded. In the request's own transaction it would give a read a transaction id, which holds back the
    change feed's horizon (and keeps the row locked) for as long as the request runs, a slow upload's included."""
    session.info.setdefault(AFTER_COMMIT, []).append((statement, args))


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request: committed when the endpoint returns, rolled back when it raises; then the writes put
    off until after the commit (`write_after_commit`), and what the commit owes work for goes to
    `app.state.on_commit`."""
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with sessionmaker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
        if put_off := session.info.pop(AFTER_COMMIT, None):
            await _write_put_off(session, put_off)
        if owed := session.info.pop(COMMITTED, None):
            await request.app.state.on_commit(owed)


async def _write_put_off(session: AsyncSession, statements: list[tuple[str, tuple[Any, ...]]]) -> None:
    """The statements of `write_after_commit`, in one transaction; a failure is logged, never the request's: what it
    answers is committed."""
    try:
        async with session.begin():
            driver = await session_driver(session)
            for statement, args in statements:
                await driver.execute(statement, *args)
    except Exception:
        log.warning("a write put off until after the request's commit failed", exc_info=True)


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
