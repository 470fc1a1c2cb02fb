"""Import jobs and their raw bodies, stored in PostgreSQL so that any registry process can run a job."""

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from registry_api.db import Base


class ImportJob(Base):
    """One bulk import: what was sent, by whom, its progress (a lease while it runs) and its import summary."""

    __tablename__ = "import_job"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    key_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("api_key.id"))
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    actor: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    scope: Mapped[str] = mapped_column(String(32))
    """The key's role and region scope when the file was sent: what its rows may touch."""
    module: Mapped[str] = mapped_column(String(16))
    period: Mapped[dt.date | None] = mapped_column(Date)
    dry_run: Mapped[bool] = mapped_column(Boolean)
    format: Mapped[str] = mapped_column(String(8))
    body_bytes: Mapped[int] = mapped_column(BigInteger, server_default="0")
    status: Mapped[str] = mapped_column(String(16), server_default="queued")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    """The lease: renewed while the job runs; once it has passed, any claimer may run the job again."""
    merged_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    """When a large import's merge committed, with its counts, leaving its classification to several connections:
    a retry of the job resumes there (`registry_api.imports.apart`)."""
    rows_total: Mapped[int] = mapped_column(Integer, server_default="0")
    rows_ok: Mapped[int] = mapped_column(Integer, server_default="0")
    rows_failed: Mapped[int] = mapped_column(Integer, server_default="0")
    rows_unchanged: Mapped[int] = mapped_column(Integer, server_default="0")
    rows_inserted: Mapped[int] = mapped_column(Integer, server_default="0")
    rows_updated: Mapped[int] = mapped_column(Integer, server_default="0")
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default="[]")
    error_totals: Mapped[dict[str, int]] = mapped_column(JSONB, server_default="{}")
    timings: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    reason: Mapped[str | None] = mapped_column(Text)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    received_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        UniqueConstraint("key_id", "idempotency_key"),
        Index("ix_import_job_pending", "id", postgresql_where=text("status IN ('queued', 'running')")),
    )


class ImportChunk(Base):
    """A piece of an import's raw body, in the order received; deleted when the job finishes."""

    __tablename__ = "import_chunk"

    job_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("import_job.id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    """Stored as it arrived, uncompressed (migration 0034): it lives only until its job finishes."""
