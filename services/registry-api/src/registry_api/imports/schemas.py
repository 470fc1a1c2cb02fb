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
    message: str = Field(description="What is wrong, in English.")
    kind: str = Field(
        description="invalid, unreadable, too_long, unknown_desa, no_active_kampung, out_of_scope, duplicate, "
        "cross_module or period_approved"
    )


class ImportTimings(BaseModel):
    """Seconds spent in each phase (None for a phase not reached)."""

    received: float | None = Field(default=None, description="the upload, from the first byte to the last")
    validated: float | None = Field(default=None, description="Seconds reading and validating the rows.")
    waited: float | None = Field(
        default=None,
        description="Seconds a kkbpk file, read, waited for the kependudukan and profil imports running beside it",
    )
    loaded: float | None = Field(default=None, description="Seconds staging and merging them.")
    handed_over: float | None = Field(
        default=None, description="classification left to a later import queued behind this one"
    )
    classified: float | None = Field(default=None, description="Seconds classifying the Kampung KB they changed.")
    reports_queued: float | None = Field(default=None, description="Seconds writing the report events.")
    total: float | None = Field(default=None, description="from the job's start to its end")


class ImportAccepted(BaseModel):
    id: int = Field(description="The import job's id.")
    status: ImportStatus = Field(description="queued, running, succeeded or failed.")
    status_url: str = Field(description="Where to follow the job (`GET`).")


class ImportRead(ImportAccepted):
    module: ImportModule = Field(description="What the file holds.")
    period: str | None = Field(description="YYYY-MM")
    dry_run: bool = Field(description="Validated only: nothing was written.")
    format: str = Field(description="csv or ndjson")
    body_bytes: int = Field(description="Size of the uploaded body.")
    attempts: int = Field(description="How many times a runner took the job (a restart retries it).")
    rows_total: int = Field(description="Records in the file.")
    rows_ok: int = Field(description="valid rows: inserted + updated + unchanged (dry run: would be)")
    rows_failed: int = Field(description="Records with errors, skipped.")
    rows_unchanged: int = Field(description="Valid records equal to what is stored.")
    rows_inserted: int = Field(description="Records that created a row.")
    rows_updated: int = Field(description="Records that changed a row.")
    errors: list[RowErrorRead] = Field(description="the first 1,000 row errors, by row")
    error_totals: dict[str, int] = Field(description="every row error counted by kind")
    reason: str | None = Field(description="why the job failed")
    timings: ImportTimings = Field(description="Seconds per phase.")
    created_at: dt.datetime = Field(description="When the job was created.")
    received_at: dt.datetime | None = Field(description="When its body was fully received.")
    started_at: dt.datetime | None = Field(description="When a runner started it.")
    finished_at: dt.datetime | None = Field(description="When it ended.")
