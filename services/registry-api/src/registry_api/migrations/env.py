"""Alembic environment: async engine from DATABASE_URL, metadata from every model of the registry."""

import asyncio
import os

from alembic import context
from sqlalchemy.engine import Connection

from registry_api.db import create_engine
from registry_api.models import Base

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    # Each migration commits on its own, and waits for a table's lock at most `lock_timeout` (`migrate.upgrade`
    # sets it and tries again): a migration queued behind a long transaction would otherwise hold every write to
    # that table waiting behind it, for as long as that transaction lasts.
    lock_timeout = context.config.attributes.get("lock_timeout")
    if lock_timeout:
        connection.exec_driver_sql(f"SET lock_timeout = '{lock_timeout}'")
        connection.commit()
    context.configure(
        connection=connection, target_metadata=target_metadata, compare_type=True, transaction_per_migration=True
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(url: str) -> None:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
    finally:
        await engine.dispose()


def run() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url") or os.environ["DATABASE_URL"]
    asyncio.run(_run_async(url))


if context.is_offline_mode():
    raise SystemExit("offline SQL generation is not supported; run against a database")
run()
