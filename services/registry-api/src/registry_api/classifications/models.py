import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Identity,
    Index,
    Numeric,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, foreign, mapped_column, relationship

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


class RulesetContent(Base):
    """A rule set's content as the classifier served it, kept by its hash when a classification first named it.

    A classification stores no explanation: it is derived again from its snapshot under this content, so that one
    computed under an older version of a rule set is explained as it was computed.
    """

    __tablename__ = "ruleset_content"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    hash: Mapped[str] = mapped_column(String(64), index=True)
    """Not unique: writers that first see a hash together each keep it rather than wait for one another's commit
    (a unique key would make the second wait for the first); a hash names one content, so the copies are equal."""
    name: Mapped[str] = mapped_column(String(32))
    content: Mapped[dict[str, Any]] = mapped_column(JSONB)


class Classification(Base):
    """The classifier's result for one Kampung KB, period and rule set, without its explanation (derived again on
    read, `classifications.explanations`). The tier as of P: the newest at or before P."""

    __tablename__ = "classification"

    kampung_id: Mapped[int] = mapped_column(BigInteger)
    """No foreign key: a Kampung KB is never deleted, and the only writer takes the ids of the rows it has locked
    (`classifications.service`); the check cost a row lock per classification (migration 0021)."""
    period: Mapped[dt.date] = mapped_column(Date)
    ruleset: Mapped[str] = mapped_column(String(32))
    ruleset_hash: Mapped[str] = mapped_column(String(64))
    tier: Mapped[str] = mapped_column(String(24))
    snapshot_hash: Mapped[str] = mapped_column(String(64))
    """Hash of the snapshot it was computed from: an unchanged snapshot is not sent again. No foreign key: the prune
    deletes a snapshot only while no writer may be pointing at it (`classifications.snapshots.prune_unreferenced`)."""
    scores: Mapped[list[int | None]] = mapped_column(ARRAY(SmallInteger))
    """The 12 sub-scores, in the order of `Scores` (null where the rule set could not score)."""
    indices: Mapped[list[Decimal | None]] = mapped_column(ARRAY(Numeric))
    """The three group indices, in the order of `Indices`, as the classifier wrote them (`3.0`, `2.67`)."""
    passed: Mapped[list[bool | None]] = mapped_column(ARRAY(Boolean))
    """Whether each group passes, in the order of `Passed`."""
    computed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    snapshot: Mapped[ClassificationSnapshot] = relationship(
        primaryjoin=lambda: foreign(Classification.snapshot_hash) == ClassificationSnapshot.hash,
        lazy="joined",
        innerjoin=True,
    )

    __table_args__ = (
        # Keyed in the order of its readers' question, "the newest at or before P" per Kampung KB and rule set (one
        # descent); the lookups by Kampung KB and period stay within the Kampung KB's few entries.
        PrimaryKeyConstraint("kampung_id", "ruleset", "period"),
        # The prune deletes a snapshot where no classification refers to it: without this index, one scan of the
        # table per batch of snapshots (the hourly prune after a national import deletes tens of thousands).
        Index("ix_classification_snapshot_hash", "snapshot_hash"),
        CheckConstraint(f"tier IN ({', '.join(repr(t.value) for t in Tier)})", name="tier_known"),
    )
