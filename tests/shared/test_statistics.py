"""Fresh planner statistics after bulk writes: only tables changed beyond autovacuum's threshold are analysed."""

import asyncpg

from kampungkb_shared.statistics import analyze_stale


async def test_only_tables_changed_a_lot_are_analysed(fresh_database_url: str) -> None:
    connection = await asyncpg.connect(fresh_database_url)
    try:
        await connection.execute("CREATE TABLE bulk (n integer); CREATE TABLE quiet (n integer)")
        await connection.execute("INSERT INTO bulk SELECT generate_series(1, 5000)")
        await connection.execute("INSERT INTO quiet VALUES (1)")
        await connection.execute("SELECT pg_stat_force_next_flush()")  # PostgreSQL 15+: counters visible now
        assert await analyze_stale(connection, ["bulk", "quiet", "absent"]) == ["bulk"]
        assert await connection.fetchval("SELECT reltuples FROM pg_class WHERE relname = 'bulk'") == 5000
        await connection.execute("SELECT pg_stat_force_next_flush()")
        assert await analyze_stale(connection, ["bulk", "quiet"]) == []  # analysed: nothing stale any more
    finally:
        await connection.close()


async def test_a_table_analysed_earlier_in_the_transaction_is_not_analysed_again(fresh_database_url: str) -> None:
    # An import checks its rows a page at a time, each page calling this in the import's one transaction.
    connection = await asyncpg.connect(fresh_database_url)
    try:
        await connection.execute("CREATE TABLE bulk (n integer)")
        await connection.execute("INSERT INTO bulk SELECT generate_series(1, 5000)")
        await connection.execute("SELECT pg_stat_force_next_flush()")
        async with connection.transaction():
            assert await analyze_stale(connection, ["bulk"]) == ["bulk"]
            assert await analyze_stale(connection, ["bulk"]) == []
    finally:
        await connection.close()
