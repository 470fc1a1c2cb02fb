"""Import figures for Prometheus, counted when a job's final status commits (a rolled-back attempt counts nothing)."""

from prometheus_client import Counter, Histogram
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from registry_api.imports.formats import ImportModule

ROWS = Counter("registry_import_rows_total", "Rows of finished import jobs", ["module", "outcome"])
JOBS = Histogram(
    "registry_import_job_seconds",
    "Duration of finished import jobs, first row read (or first claim) to final status; a failed job's reason: "
    "rejected (the file as a whole), key_revoked, gave_up (its attempts used up)",
    ["module", "status", "reason"],
    buckets=(1, 5, 10, 30, 60, 120, 300, 600, 1800),
)
FAILED_REJECTED = "rejected"
"""The file as a whole cannot be imported (unreadable, no data rows, no valid row): the sender's to mend."""
FAILED_KEY_REVOKED = "key_revoked"
"""The key that sent it was revoked, or expired, before the job committed."""
FAILED_GAVE_UP = "gave_up"
"""Every attempt allowed (`REGISTRY_IMPORT_MAX_ATTEMPTS`) failed or died: the operators' to look at."""
for _module in ImportModule:  # at 0 from the start, so that an alert's `increase` sees the first one
    JOBS.labels(_module.value, "failed", FAILED_GAVE_UP)


def count_on_commit(
    session: AsyncSession, *, module: str, status: str, rows: dict[str, int], seconds: float, failure: str = ""
) -> None:
    """Add the job's rows by outcome and its duration (a failed job's with its `failure`, one of the `FAILED_*`)
    once the session's transaction commits."""

    def record(_: object) -> None:
        for outcome, count in rows.items():
            ROWS.labels(module, outcome).inc(count)
        JOBS.labels(module, status, failure).observe(seconds)

    event.listen(session.sync_session, "after_commit", record, once=True)
