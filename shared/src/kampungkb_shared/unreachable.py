"""Whether an error says the database cannot be reached now (down, restarting, shutting down, the connection lost):
the work did not happen and is to be tried again, by the client of a request (registry-api's 503) or by the queue
(report-worker's jobs). One rule for both: an error only one of them took as the database away would make the other
drop work, or fail a request, that a retry would have done.

For the services that talk to PostgreSQL through asyncpg (`kampungkb-shared[database]`).
"""

import asyncpg

_SHUTTING_DOWN = frozenset({"57P01", "57P02", "57P03"})
"""admin_shutdown, crash_shutdown, cannot_connect_now."""


def _unreachable(exc: BaseException) -> bool:
    if getattr(exc, "connection_invalidated", False):  # SQLAlchemy's DBAPIError for a connection it lost
        return True
    if isinstance(exc, OSError | asyncpg.PostgresConnectionError | asyncpg.TooManyConnectionsError):
        return True
    if isinstance(exc, asyncpg.PostgresError) and exc.sqlstate in _SHUTTING_DOWN:
        return True
    return isinstance(exc, asyncpg.InterfaceError) and "connection" in str(exc) and "closed" in str(exc)


def database_unreachable(exc: BaseException) -> bool:
    """True when `exc`, or one it was raised from, says the database cannot be reached now."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if _unreachable(current):
            return True
        pending.extend([current.__cause__, current.__context__, getattr(current, "orig", None)])
    return False
