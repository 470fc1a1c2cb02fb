"""A report job's events confirmed: the registry's outbox owes a `report` event until a job that read its data is done.

The relay queues one job per key of due events and leases them (`registry_api.background.relay`). A job reads the ids
of its key's events still owed before it reads anything else, and marks exactly those delivered once its work has
committed; an event committed after that read waits for a later job, since its data may not have been seen. A job
that never finishes (lost with Redis's data, dropped after its tries, timed out) confirms nothing: the relay queues
its events again when their lease runs out. Any job of the same key confirms them, the nightly rebuild of a month
included: it does the same work.
"""

import asyncpg

_OWED = "SELECT id FROM outbox WHERE topic = 'report' AND key = $1 AND delivered_at IS NULL"
_DELIVERED = """
    UPDATE outbox SET delivered_at = clock_timestamp()
     WHERE id = ANY(CAST($1 AS bigint[])) AND delivered_at IS NULL
"""


async def owed(connection: asyncpg.Connection, key: str) -> list[int]:
    """The ids of the events of `key` still owed, as committed now: read before the job reads its data."""
    return [row["id"] for row in await connection.fetch(_OWED, key)]


async def confirm(connection: asyncpg.Connection, ids: list[int]) -> None:
    """Those events delivered, once the job's work has committed."""
    if ids:
        await connection.execute(_DELIVERED, ids)
