"""Planner statistics after bulk writes: the tables that changed a lot since they were last analysed, analysed now.

A bulk import changes a large share of `submission` and `classification` in minutes; autovacuum analyses them only
later, and plans made on the old statistics turn set-based statements (an import's checks, a whole-period report
rebuild) into nested loops many times slower. Both the registry and report-worker call this before such statements.
"""

from collections.abc import Iterable
from typing import Any, Protocol

_STALE = """
    SELECT relname FROM pg_stat_user_tables
     WHERE relname = ANY($1::text[]) AND schemaname = current_schema()
       AND n_mod_since_analyze > 1000 + 0.2 * greatest(n_live_tup, 0)
     ORDER BY relname
"""


class Connection(Protocol):
    """What is used of an asyncpg connection."""

    async def fetch(self, query: str, *args: Any) -> list[Any]: ...

    async def execute(self, query: str, *args: Any) -> str: ...


async def analyze_stale(connection: Connection, tables: Iterable[str]) -> list[str]:
    """ANALYZE those of `tables` with more changed rows since their last analysis than autovacuum's own threshold
    (1,000 + 20 %); returns them. Cheap when none is: two catalog queries.

    The statistics views answer from a snapshot taken at their first read in a transaction
    (`stats_fetch_consistency`): it is cleared first, so that a table analysed earlier in the same transaction is
    not seen stale, and analysed, again at every call."""
    await connection.execute("SELECT pg_stat_clear_snapshot()")
    stale = [row[0] for row in await connection.fetch(_STALE, list(tables))]
    if stale:
        await connection.execute(f"ANALYZE {', '.join(stale)}")
    return stale
