"""A whole-period job's statements split by provinsi, run side by side on connections of the job's own.

A statement that writes runs on one PostgreSQL core whatever the machine has (no parallel plan writes), so a rebuild
of the nation, or its data-quality pass, leaves the other cores idle. `Apart.each` runs one statement per share of the
provinsi, each in a transaction on a new connection (not one of the worker's pool, which other jobs wait on: a job
holding one of it while waiting for more could starve them all), while the job's own transaction holds the lock that
keeps every other writer of those rows out.
"""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg

Connect = Callable[[], Awaitable[asyncpg.Connection]]
"""A new connection to the database."""

Share = Callable[[asyncpg.Connection, list[str]], Awaitable[int]]
"""One share's work in its transaction: the connection and the share's provinsi codes in, the rows written out."""

JOB_SETTINGS = "SET LOCAL work_mem = '64MB'; SET LOCAL enable_memoize = off"
"""Each transaction of a report job. Its statements sort and hash a few hundred thousand narrow rows: in memory. And
no Memoize: their laterals are keyed by Kampung KB, each key met once, so a cache over one never hits. On statistics
that predate the period (an import's new month, before `ANALYZE`) the planner put one over the kkbpk in force of a
whole-period rebuild, which missed on every row and took 5 s of the statement's 9 s on 36 months of history."""

PROVINSI_WEIGHTS = """
SELECT w.code, count(k.id) AS kampung
  FROM wilayah w LEFT JOIN kampung k ON k.provinsi_code = w.code AND k.active
 WHERE w.level = 'provinsi'
 GROUP BY w.code"""
"""Every provinsi with its active Kampung KB: what a share costs grows with them."""


@dataclass(frozen=True)
class Apart:
    """How many connections a whole-period job's statements run on side by side, and how to open one."""

    connect: Connect
    connections: int = 2

    async def each(self, connection: asyncpg.Connection, work: Share) -> tuple[list[str], int]:
        """Run `work` for each share of the provinsi side by side, each share's transaction committed on its own
        connection; returns every provinsi code the shares covered and the rows they wrote. Raises what a share
        raised, once every share has ended (the others' work stays committed)."""
        shares = provinsi_shares(await connection.fetch(PROVINSI_WEIGHTS), self.connections)

        async def run(provinsi: list[str]) -> int:
            helper = await self.connect()
            try:
                async with helper.transaction():
                    await helper.execute(JOB_SETTINGS)
                    return await work(helper, provinsi)
            finally:
                await helper.close()

        # Every share runs to its end, and a failure is raised as itself (not in a group): the job's handler knows a
        # database away from any other error, and runs the job again later.
        rows = 0
        for outcome in await asyncio.gather(*(run(provinsi) for provinsi in shares), return_exceptions=True):
            if isinstance(outcome, BaseException):
                raise outcome
            rows += outcome
        return [code for provinsi in shares for code in provinsi], rows


def provinsi_shares(weights: list[asyncpg.Record], parts: int) -> list[list[str]]:
    """The provinsi in `parts` shares of about as many Kampung KB each (the largest first, each to the lightest share),
    none empty."""
    shares: list[list[str]] = [[] for _ in range(min(parts, len(weights)))]
    loads = [0] * len(shares)
    for row in sorted(weights, key=lambda r: (-r["kampung"], r["code"])):
        lightest = loads.index(min(loads))
        shares[lightest].append(row["code"])
        loads[lightest] += row["kampung"] + 1
    return shares
