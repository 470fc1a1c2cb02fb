"""Import figures for Prometheus, counted when a job's final status commits (a rolled-back attempt counts nothing)."""

from prometheus_client import Counter, Histogram
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

ROWS = Counter("registry_import_rows_total", "Rows of finished import jobs", ["module", "outcome"])
JOBS = Histogram(
    "registry_import_job_seconds",
    "Duration of finished import jobs, first row read to final status",
    ["module", "status"],
    buckets=(1, 5, 10, 30, 60, 120, 300, 600, 1800),
)


def count_on_commit(session: AsyncSession, *, module: str, status: str, rows: dict[str, int], seconds: float) -> None:
    """Add the job's rows by outcome and its duration once the session's transaction commits."""

    def record(_: object) -> None:
        for outcome, count in rows.items():
            ROWS.labels(module, outcome).inc(count)
        JOBS.labels(module, status).observe(seconds)

    event.listen(session.sync_session, "after_commit", record, once=True)
