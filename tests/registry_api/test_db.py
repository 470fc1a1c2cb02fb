"""Statements sent straight to the driver belong to the session's transaction, even when nothing else ran before."""

import asyncio
import logging
from collections.abc import Awaitable, Callable

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from registry_api.changes import pipeline
from registry_api.db import create_engine, create_sessionmaker, plan_each, plan_once, session_driver, session_fetch
from tests.factories import load_demo_regions, make_kampung, make_key

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


async def test_a_first_statement_through_session_fetch_begins_the_transaction(
    fresh_database_url: str, committed_session: AsyncSession
) -> None:
    engine = create_engine(fresh_database_url, pool_size=1)
    sessionmaker = create_sessionmaker(engine)
    try:
        async with sessionmaker() as session:
            [row] = await session_fetch(session, _INSERT + " RETURNING key")
            assert row["key"] == "db-test"
            driver = await session_driver(session)
            assert driver.is_in_transaction()
            [again] = await session_fetch(session, "SELECT count(*) AS n FROM outbox WHERE key = $1", "db-test")
            assert again["n"] == 1
            await session.rollback()
        assert await committed_session.scalar(_COUNT) == 0

        async with sessionmaker() as session:  # a new transaction on the same pooled connection
            await session_fetch(session, _INSERT)
            assert (await session_driver(session)).is_in_transaction()
            await session.commit()
        assert await committed_session.scalar(_COUNT) == 1
    finally:
        await engine.dispose()


async def test_a_pooled_connection_the_server_closed_is_replaced_at_checkout(
    fresh_database_url: str, committed_session: AsyncSession
) -> None:
    engine = create_engine(fresh_database_url, pool_size=1)
    sessionmaker = create_sessionmaker(engine)
    try:
        async with sessionmaker() as session:
            [row] = await session_fetch(session, "SELECT pg_backend_pid() AS pid")
            await session.commit()
        # Waits until the backend has exited; then the loop gets a moment to read the closed socket.
        await committed_session.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": row["pid"]})
        await committed_session.commit()
        await asyncio.sleep(0.1)
        async with sessionmaker() as session:
            [other] = await session_fetch(session, "SELECT pg_backend_pid() AS pid")
            await session.commit()
        assert other["pid"] != row["pid"]
    finally:
        await engine.dispose()


@pytest.mark.parametrize(("plan", "mode"), [(plan_once, "force_generic_plan"), (plan_each, "force_custom_plan")])
async def test_plan_modes_last_as_long_as_the_transaction(
    fresh_database_url: str, plan: Callable[[AsyncSession], Awaitable[None]], mode: str
) -> None:
    engine = create_engine(fresh_database_url, pool_size=1)
    sessionmaker = create_sessionmaker(engine)
    current = "SELECT current_setting('plan_cache_mode') AS mode"
    try:
        async with sessionmaker() as session:
            await plan(session)
            [during] = await session_fetch(session, current)
            await session.commit()
        async with sessionmaker() as session:  # the same pooled connection, a new transaction
            [after] = await session_fetch(session, current)
            await session.commit()
        assert (during["mode"], after["mode"]) == (mode, "auto")
    finally:
        await engine.dispose()


@pytest.mark.parametrize("generic_plans", [True, False])
async def test_a_single_writes_lock_runs_the_rest_of_its_transaction_on_generic_plans(
    live_client: httpx.AsyncClient, committed_session: AsyncSession, fresh_database_url: str, generic_plans: bool
) -> None:
    """`pipeline.lock(generic_plans=True)` (a `PUT`'s) sets what `plan_once` sets, in the same statement."""
    await load_demo_regions(committed_session)
    kampung_id = (await make_kampung(live_client, await make_key(committed_session)))["id"]
    engine = create_engine(fresh_database_url, pool_size=1)
    sessionmaker = create_sessionmaker(engine)
    current = "SELECT current_setting('plan_cache_mode') AS mode"
    try:
        async with sessionmaker() as session:
            locked = await pipeline.lock(session, [kampung_id], generic_plans=generic_plans)
            [during] = await session_fetch(session, current)
            await session.rollback()
        async with sessionmaker() as session:  # the same pooled connection, a new transaction
            [after] = await session_fetch(session, current)
            await session.rollback()
    finally:
        await engine.dispose()
    assert list(locked) == [kampung_id]
    assert (during["mode"], after["mode"]) == ("force_generic_plan" if generic_plans else "auto", "auto")


async def test_a_failing_statement_s_logged_error_names_the_statement_but_no_bound_value(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A statement error logged with its traceback (a background pass, a 500) must not carry a bound value: a
    webhook's secret, a key's hash, a person's data."""
    secret = "whsec_c2VjcmV0LW9mLWEtd2ViaG9vay1yZWNlaXZlcg"
    engine = create_engine(database_url, pool_size=1)
    try:
        async with create_sessionmaker(engine)() as session:
            with pytest.raises(Exception) as failed:
                await session.execute(
                    text("UPDATE webhook_subscription SET secret = :secret WHERE id = 1 / :zero"),
                    {"secret": secret, "zero": 0},
                )
            try:
                raise RuntimeError("pass failed") from failed.value
            except RuntimeError:
                logging.getLogger("registry_api.test").exception("pass failed")
    finally:
        await engine.dispose()
    [record] = [r for r in caplog.records if r.name == "registry_api.test"]
    logged = logging.Formatter().format(record)
    assert "division by zero" in logged and "UPDATE webhook_subscription SET secret" in logged
    assert secret not in logged and secret not in repr(failed.value.args)
