"""Apply or revert the registry's Alembic migrations (the `registry-api migrate` command).

Against a live database: each migration commits on its own and waits for a table's lock at most `LOCK_TIMEOUT`,
so the writes queued behind it wait no longer than that; a migration that did not get its lock is tried again,
from where the last one committed, up to `LOCK_ATTEMPTS` times.
"""

import logging
import time
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.exc import DBAPIError

MIGRATIONS = Path(__file__).parent / "migrations"
LOCK_TIMEOUT = "5s"
"""How long a migration's statement waits for a table's lock before it gives up and is tried again."""
LOCK_ATTEMPTS = 12
LOCK_RETRY_S = 5.0
_LOCK_NOT_AVAILABLE = "55P03"

log = logging.getLogger(__name__)


def alembic_config(database_url: str, *, lock_timeout: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.attributes["lock_timeout"] = lock_timeout
    return config


def _lock_not_available(exc: DBAPIError) -> bool:
    return getattr(exc.orig, "sqlstate", None) == _LOCK_NOT_AVAILABLE or "LockNotAvailable" in type(exc.orig).__name__


def upgrade(
    database_url: str,
    revision: str = "head",
    *,
    lock_timeout: str = LOCK_TIMEOUT,
    attempts: int = LOCK_ATTEMPTS,
    retry_s: float = LOCK_RETRY_S,
) -> None:
    for attempt in range(1, attempts + 1):
        try:
            command.upgrade(alembic_config(database_url, lock_timeout=lock_timeout), revision)
            return
        except DBAPIError as exc:
            if not _lock_not_available(exc) or attempt == attempts:
                raise
            log.warning(
                "a migration waited %s for a lock (attempt %d of %d); trying again", lock_timeout, attempt, attempts
            )
            time.sleep(retry_s)


def downgrade(database_url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(database_url), revision)
