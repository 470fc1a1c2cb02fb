"""A report job's transactions run under `report_worker.apart.JOB_SETTINGS`: whatever the planner's statistics say,
its statements plan no Memoize (their laterals are keyed by Kampung KB, each key met once) and hash in memory."""

import asyncpg

from report_worker.aggregates import rebuild_period, refresh_chain
from report_worker.apart import Apart
from tests.report_worker.data import PERIODS, RULESETS, Dataset, generate

_SETTINGS = "SELECT current_setting('enable_memoize'), current_setting('work_mem')"


async def test_a_rebuild_and_a_chain_refresh_plan_without_memoize(pg: asyncpg.Connection, dataset: Dataset) -> None:
    # The test's transaction is the jobs' outer one: what they set for theirs is still in force after them.
    assert await pg.fetchval("SELECT current_setting('enable_memoize')") == "on"  # PostgreSQL's default
    await refresh_chain(pg, period=PERIODS[0], kabupaten_code="97.01", rulesets=RULESETS)
    assert tuple(await pg.fetchrow(_SETTINGS)) == ("off", "64MB")
    await pg.execute("SET LOCAL enable_memoize = on")
    await rebuild_period(pg, period=PERIODS[0], rulesets=RULESETS)
    assert tuple(await pg.fetchrow(_SETTINGS)) == ("off", "64MB")


async def test_the_shares_of_a_whole_period_job_too(fresh_database_url: str) -> None:
    pg = await asyncpg.connect(fresh_database_url)
    try:
        await generate(pg)
        seen: list[tuple[str, str]] = []

        async def share(helper: asyncpg.Connection, provinsi: list[str]) -> int:
            seen.append(tuple(await helper.fetchrow(_SETTINGS)))
            return 0

        await Apart(lambda: asyncpg.connect(fresh_database_url), connections=2).each(pg, share)
        assert seen == [("off", "64MB")] * 2
    finally:
        await pg.close()
