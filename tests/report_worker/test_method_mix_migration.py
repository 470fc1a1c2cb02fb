"""Migration 0038 fills the method mix of the aggregates computed before it as report-worker's rebuild stores it."""

import asyncio

import asyncpg

from registry_api import migrate
from report_worker.aggregates import rebuild_period
from tests.report_worker import oracle
from tests.report_worker.data import PERIODS, RULESETS, generate

BEFORE = "0037_webhookreplays"


async def test_the_migration_of_the_method_mix_fills_every_row_computed_before_it(fresh_database_url: str) -> None:
    """Every region's per-method users of every computed period, filled from `kkbpk_users` over the Kampung KB each
    period counts and summed up the levels, equal a rebuild's; going down drops them."""
    columns = oracle.method_columns()
    read = f"SELECT period, ruleset, code, {', '.join(columns)} FROM report_aggregate ORDER BY 1, 2, 3"
    pg = await asyncpg.connect(fresh_database_url)
    try:
        await generate(pg)
        for period in PERIODS:
            await rebuild_period(pg, period=period, rulesets=RULESETS, quality=None)
        rebuilt = [tuple(row) for row in await pg.fetch(read)]
        assert all(sum(row[3:]) > 0 for row in rebuilt if row[2] == "00"), "the nation has users in every period"
    finally:
        await pg.close()
    await asyncio.to_thread(migrate.downgrade, fresh_database_url, BEFORE)
    pg = await asyncpg.connect(fresh_database_url)
    try:
        found = await pg.fetchval(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'report_aggregate'"
            " AND column_name = ANY($1::text[])",
            columns,
        )
        assert found == 0
    finally:
        await pg.close()
    await asyncio.to_thread(migrate.upgrade, fresh_database_url)
    pg = await asyncpg.connect(fresh_database_url)
    try:
        assert [tuple(row) for row in await pg.fetch(read)] == rebuilt
    finally:
        await pg.close()
