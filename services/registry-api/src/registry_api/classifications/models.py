import datetime as dt
from typing import Any

from sqlalchemy import DDL, BigInteger, CheckConstraint, Date, DateTime, ForeignKey, Index, String, event, func
from sqlalchemy.dialects.postgresql import JSON, JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kampungkb_shared.codes import Tier
from registry_api.db import Base


class ClassificationSnapshot(Base):
    """What the registry had in force when a classification was computed, stored once by its hash.

    Content-addressed: every rule set, and every period whose inputs did not change, points at the same row.
    """

    __tablename__ = "classification_snapshot"

    hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    """SHA-256 of the snapshot's JSON text."""
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSONB)


class Classification(Base):
    """The classifier's result for one Kampung KB, period and rule set. The tier as of P: the newest at or before P."""

    __tablename__ = "classification"

    kampung_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("kampung.id"), primary_key=True)
    period: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    ruleset: Mapped[str] = mapped_column(String(32), primary_key=True)
    ruleset_hash: Mapped[str] = mapped_column(String(64))
    tier: Mapped[str] = mapped_column(String(24))
    snapshot_hash: Mapped[str] = mapped_column(String(64), ForeignKey("classification_snapshot.hash"))
    """Hash of the snapshot it was computed from: an unchanged snapshot is not sent again."""
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    """The classifier's result as the JSON text it answered: stored and served, never queried inside."""
    computed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    snapshot: Mapped[ClassificationSnapshot] = relationship(lazy="joined", innerjoin=True)

    __table_args__ = (
        # Deleting a snapshot checks that no classification refers to it: without this index, one scan of the
        # table per snapshot deleted (the hourly prune after a national import deletes tens of thousands).
        Index("ix_classification_snapshot_hash", "snapshot_hash"),
        CheckConstraint(f"tier IN ({', '.join(repr(t.value) for t in Tier)})", name="tier_known"),
    )


STORAGE = DDL("ALTER TABLE classification SET (toast_tuple_target = 8160)")  # type: ignore[no-untyped-call]
"""Rows stay inline and uncompressed (a result is ~2 KB of JSON text): without it, every row of a national import is
pglz-compressed on the way in, about half the cost of storing it. Set by the migration too."""
event.listen(Classification.__table__, "after_create", STORAGE)
