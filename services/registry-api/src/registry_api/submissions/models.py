import datetime as dt
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from registry_api.db import READ_FROM_INDEXES, Base


class Submission(Base):
    """The submission in force for one Kampung KB, module and period (the month the data describe)."""

    __tablename__ = "submission"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    kampung_id: Mapped[int] = mapped_column(BigInteger)
    """A Kampung KB its writer has locked (no foreign key: migration 0026)."""
    module: Mapped[str] = mapped_column(String(16))
    period: Mapped[dt.date] = mapped_column(Date)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    content_hash: Mapped[str] = mapped_column(String(64))
    source_hash: Mapped[str | None] = mapped_column(String(32))
    """The import record it was last written from (`registry_api.imports.reading.source_hasher`); None after a `PUT`.
    A re-import of the same record skips validating it."""
    revision: Mapped[int] = mapped_column(Integer)
    submitted_by: Mapped[str | None] = mapped_column(String(64))
    submitted_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        UniqueConstraint("kampung_id", "module", "period"),
        Index("ix_submission_module_period", "module", "period"),
        Index("ix_submission_kampung_submitted_at", "kampung_id", "submitted_at"),
    )


class SubmissionRevision(Base):
    """Every version a submission has replaced: who wrote what, and when. The version in force is the submission
    itself; a trigger on `submission` keeps the version an update supersedes here (migration 0019)."""

    __tablename__ = "submission_revision"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    submission_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("submission.id", ondelete="CASCADE"))
    revision: Mapped[int] = mapped_column(Integer)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    submitted_by: Mapped[str | None] = mapped_column(String(64))
    submitted_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (UniqueConstraint("submission_id", "revision"),)


class Kegiatan(Base):
    """A dated activity of a Kampung KB, with its partner institutions (which feed the lintas-sektor score)."""

    __tablename__ = "kegiatan"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    kampung_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("kampung.id"))
    title: Mapped[str] = mapped_column(String(300))
    date: Mapped[dt.date] = mapped_column(Date)
    function: Mapped[str] = mapped_column(String(32))
    targets: Mapped[list[str]] = mapped_column(ARRAY(String(32)), server_default="{}")
    partners: Mapped[list[str]] = mapped_column(ARRAY(String(40)), server_default="{}")
    inpres_kegiatan: Mapped[str | None] = mapped_column(String(64))
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        # With the partners in the index: every snapshot reads its Kampung KB's partners up to its period from the
        # index alone (one page), not from one heap page per activity, a number that grows with the history.
        Index("ix_kegiatan_kampung_date", "kampung_id", "date", postgresql_include=["partners"]),
        READ_FROM_INDEXES,
    )


class KegiatanIdempotency(Base):
    """An `Idempotency-Key` a principal sent with an activity: a replay answers the activity it created."""

    __tablename__ = "kegiatan_idempotency"

    actor: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    """`content_hash` of the request (the Kampung KB and the activity): the same key with another request is refused."""
    kegiatan_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("kegiatan.id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
