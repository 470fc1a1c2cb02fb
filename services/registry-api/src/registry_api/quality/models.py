import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from registry_api.db import ANALYZED_EACH_MONTH, READ_FROM_INDEXES, Base


class QualityFlag(Base):
    """A data-quality warning report-worker raised on one Kampung KB's month; it never blocks a write.

    report-worker writes the rows after each refresh (the same values keep a checked flag checked); the registry
    lists them and records who checked one.
    """

    __tablename__ = "quality_flag"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    kampung_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("kampung.id"))
    desa_code: Mapped[str] = mapped_column(String(13))
    kabupaten_code: Mapped[str] = mapped_column(String(5))
    period: Mapped[dt.date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(24))
    """`kkbpk_outlier`, `jump` or `implausible_ratio` (`kampungkb_shared.quality.FlagKind`)."""
    subject: Mapped[str] = mapped_column(String(24))
    """What is flagged: a method code or `TOTAL`; `pus` or `population`; `single_method` or `cpr_100`."""
    value: Mapped[int] = mapped_column(BigInteger)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONB)
    """The values that raised it: the history, median, MAD and z-score; the previous value; the counts."""
    status: Mapped[str] = mapped_column(String(8), server_default="open")
    raised_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    checked_by: Mapped[str | None] = mapped_column(String(64))
    checked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    note: Mapped[str | None] = mapped_column(String(1000))

    __table_args__ = (
        UniqueConstraint("kampung_id", "period", "kind", "subject"),
        # A report counts its region's flags of the month by kind and status from this index alone (migration 0024).
        Index(
            "ix_quality_flag_period_desa",
            "period",
            "desa_code",
            postgresql_ops={"desa_code": "text_pattern_ops"},
            postgresql_include=["kind", "status"],
        ),
        Index("ix_quality_flag_kabupaten_period", "kabupaten_code", "period"),
        CheckConstraint("status IN ('open', 'checked')", name="status_known"),
        {"postgresql_with": {**READ_FROM_INDEXES["postgresql_with"], **ANALYZED_EACH_MONTH}},
    )


class QualityCursor(Base):
    """The change-feed position (`txid`, `id`) up to which a kabupaten's flags are current: its chain refreshes'
    passes recompute only the Kampung KB changed after it (report-worker writes it with the flags)."""

    __tablename__ = "quality_cursor"

    kabupaten_code: Mapped[str] = mapped_column(String(5), primary_key=True)
    txid: Mapped[int] = mapped_column(BigInteger)
    id: Mapped[int] = mapped_column(BigInteger)
    passed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class QualityPeriodCursor(Base):
    """The change-feed position (`txid`, `id`) up to which a period's flags are current everywhere: a whole-period
    rebuild's pass over the nation writes it, with the key of the rules it flagged by (`rules`), and the next pass
    over the nation under the same rules, or a kabupaten with no cursor of its own, recomputes only the Kampung KB
    changed after it (report-worker writes and reads it)."""

    __tablename__ = "quality_period_cursor"

    period: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    txid: Mapped[int] = mapped_column(BigInteger)
    id: Mapped[int] = mapped_column(BigInteger)
    passed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    rules: Mapped[str | None] = mapped_column(Text)
    """The key of the rules the pass flagged by (its thresholds and its statement, as report-worker computes it);
    None for a position written before it was kept."""


class KkbpkUsers(Base):
    """Each stored kkbpk's users by method, kept narrow beside it for the data-quality pass, which reads a Kampung KB's
    12 months before each month it checks: an index-only range of this table rather than 12 payloads parsed again.

    Written by triggers on `submission` (migration 0018), in the statement that writes the kkbpk, whichever path
    writes it (a `PUT`, a sync, an import's merge); a method missing from `kb_users` counts as zero."""

    __tablename__ = "kkbpk_users"

    kampung_id: Mapped[int] = mapped_column(BigInteger)
    period: Mapped[dt.date] = mapped_column(Date)
    kb_iud: Mapped[int] = mapped_column(Integer)
    kb_mow: Mapped[int] = mapped_column(Integer)
    kb_mop: Mapped[int] = mapped_column(Integer)
    kb_kondom: Mapped[int] = mapped_column(Integer)
    kb_implan: Mapped[int] = mapped_column(Integer)
    kb_suntik: Mapped[int] = mapped_column(Integer)
    kb_pil: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        PrimaryKeyConstraint(
            "kampung_id",
            "period",
            postgresql_include=["kb_iud", "kb_mow", "kb_mop", "kb_kondom", "kb_implan", "kb_suntik", "kb_pil"],
        ),
        READ_FROM_INDEXES,
    )
