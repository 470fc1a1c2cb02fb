import datetime as dt
from enum import StrEnum

from pydantic import BaseModel, Field

from registry_api.imports.formats import ImportModule


class ImportStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class RowErrorRead(BaseModel):
    row: int = Field(description="CSV: the record's number, the header being row 0; NDJSON: the line number")
    field: str = Field(description="the CSV column (NDJSON: the dotted field) at fault, or `row` for the whole row")
    message: str
    kind: str = Field(
        description="invalid, unreadable, too_long, unknown_desa, no_active_kampung, out_of_scope, duplicate or "
        "cross_module"
    )


class ImportTimings(BaseModel):
    """Seconds spent in each phase (None for a phase not reached)."""

    received: float | None = Field(default=None, description="the upload, from the first byte to the last")
    validated: float | None = None
    loaded: float | None = None
    handed_over: float | None = Field(
        default=None, description="classification left to a later import queued behind this one"
    )
    classified: float | None = None
    reports_queued: float | None = None
    total: float | None = Field(default=None, description="from the job's start to its end")


class ImportAccepted(BaseModel):
    id: int
    status: ImportStatus
    status_url: str


class ImportRead(ImportAccepted):
    module: ImportModule
    period: str | None = Field(description="YYYY-MM")
    dry_run: bool
    format: str = Field(description="csv or ndjson")
    body_bytes: int
    attempts: int
    rows_total: int
    rows_ok: int = Field(description="valid rows: inserted + updated + unchanged (dry run: would be)")
    rows_failed: int
    rows_unchanged: int
    rows_inserted: int
    rows_updated: int
    errors: list[RowErrorRead] = Field(description="the first 1,000 row errors, by row")
    error_totals: dict[str, int] = Field(description="every row error counted by kind")
    reason: str | None = Field(description="why the job failed")
    timings: ImportTimings
    created_at: dt.datetime
    received_at: dt.datetime | None
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
