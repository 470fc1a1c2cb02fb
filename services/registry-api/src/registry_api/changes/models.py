import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Identity,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from kampungkb_shared.quality import FLAG_INPUTS
from registry_api.db import Base

PENDING_HANDOVER = "topic = 'classify' AND delivered_at IS NULL AND payload ? 'handover'"
"""An outbox event handed over to a later import and not yet taken: the condition of `ix_outbox_handover`, written
the same in the statements that read such events, so that the index serves them."""


class OutboxEvent(Base):
    """Work owed to another part (the classifier, the report queue), written in the transaction that caused it."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    topic: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(128))
    """Events with the same topic and key are one piece of work: delivering one delivers them all."""
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    request_id: Mapped[str | None] = mapped_column(String(128))
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    available_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    delivered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        # In the relay's claim order: its claim reads the due events from it and stops (migration 0032).
        Index("ix_outbox_pending", "topic", "available_at", "id", postgresql_where=text("delivered_at IS NULL")),
        # The hand-over's events by Kampung KB: a large import's classification takes them a slice of Kampung KB at a
        # time (`changes.handover.take`, migration 0033).
        Index(
            "ix_outbox_handover",
            text("((payload ->> 'kampung_id')::bigint)"),
            postgresql_where=text(PENDING_HANDOVER),
        ),
    )


class ChangeLog(Base):
    """One committed change a client can follow (`GET /v1/changes`), written by statement triggers (migration 0007)
    on `kampung`, `submission`, `kegiatan` and `classification`, so that no write path can leave one out.

    Ordered by (`txid`, `id`): the writing transaction's id, then the row's. The feed serves only rows of transactions
    older than every transaction still running (`pg_snapshot_xmin`), so a row can never appear behind a position
    already served, whatever order transactions commit in."""

    __tablename__ = "change_log"

    id: Mapped[int] = mapped_column(BigInteger, Identity())
    txid: Mapped[int] = mapped_column(BigInteger, server_default=text("(pg_current_xact_id()::text::bigint)"))
    kind: Mapped[str] = mapped_column(String(16))
    """`kampung`, `submission`, `kegiatan` or `classification`."""
    action: Mapped[str] = mapped_column(String(16))
    """`created`, `updated`, `deactivated`, `tier_changed` (kampung), `classified`."""
    kampung_id: Mapped[int] = mapped_column(BigInteger)
    desa_code: Mapped[str] = mapped_column(String(13))
    module: Mapped[str | None] = mapped_column(String(16))
    period: Mapped[dt.date | None] = mapped_column(Date)
    revision: Mapped[int | None] = mapped_column(Integer)
    ruleset: Mapped[str | None] = mapped_column(String(32))
    tier: Mapped[str | None] = mapped_column(String(24))
    kegiatan_id: Mapped[int | None] = mapped_column(BigInteger)
    changed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=text("clock_timestamp()"))

    __table_args__ = (
        PrimaryKeyConstraint("txid", "id"),  # its position: nothing reads a row by `id` alone (migration 0029)
        # the report worker's data-quality pass reads one kabupaten's rows after its cursor, of those that can move a
        # flag only (`kampungkb_shared.quality.FLAG_INPUTS`)
        Index("ix_change_log_kabupaten", text("left(desa_code, 5)"), "txid", "id", postgresql_where=text(FLAG_INPUTS)),
        # a key of one Kampung KB (a phone's) reads its pages from its cursor on (`feed._KAMPUNG_PAGE`, migration 0039)
        Index("ix_change_log_kampung", "kampung_id", "txid", "id"),
    )


class ChangeLogHorizon(Base):
    """The position (`txid`, `id`) up to which the feed has been pruned: an older cursor gets 410."""

    __tablename__ = "change_log_horizon"

    single: Mapped[bool] = mapped_column(Boolean, primary_key=True, server_default=text("true"))
    txid: Mapped[int] = mapped_column(BigInteger)
    id: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (CheckConstraint("single", name="single"),)
