"""Tables of the reports: aggregates (written by report-worker), rebuilt periods, and targets."""

import datetime as dt
from decimal import Decimal

from sqlalchemy import BigInteger, Date, DateTime, Index, Integer, Numeric, String, func
from sqlalchemy.orm import Mapped, mapped_column

from registry_api.db import Base


class ReportAggregate(Base):
    """Figures of one region (kecamatan, kabupaten, provinsi, or `00`) as of one period, under one rule set.

    Only counts and sums are stored, so that a region is exactly the sum of its children; percentages are
    derived when read. report-worker owns the rows; the registry only reads them.
    """

    __tablename__ = "report_aggregate"

    period: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    ruleset: Mapped[str] = mapped_column(String(32), primary_key=True)
    code: Mapped[str] = mapped_column(String(13), primary_key=True)
    level: Mapped[str] = mapped_column(String(10))
    parent_code: Mapped[str | None] = mapped_column(String(13))
    computed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    desa_total: Mapped[int] = mapped_column(Integer)
    desa: Mapped[int] = mapped_column(Integer)
    kelurahan: Mapped[int] = mapped_column(Integer)
    kecamatan_total: Mapped[int] = mapped_column(Integer)
    kecamatan_with_kampung: Mapped[int] = mapped_column(Integer)
    kampung_total: Mapped[int] = mapped_column(Integer)
    kampung_desa: Mapped[int] = mapped_column(Integer)
    kampung_kelurahan: Mapped[int] = mapped_column(Integer)
    tier_dasar: Mapped[int] = mapped_column(Integer)
    tier_berkembang: Mapped[int] = mapped_column(Integer)
    tier_mandiri: Mapped[int] = mapped_column(Integer)
    tier_berkelanjutan: Mapped[int] = mapped_column(Integer)
    tier_belum_terklasifikasi: Mapped[int] = mapped_column(Integer)
    prev_dasar: Mapped[int] = mapped_column(Integer)
    prev_berkembang: Mapped[int] = mapped_column(Integer)
    prev_mandiri: Mapped[int] = mapped_column(Integer)
    prev_berkelanjutan: Mapped[int] = mapped_column(Integer)
    prev_belum_terklasifikasi: Mapped[int] = mapped_column(Integer)
    promoted: Mapped[int] = mapped_column(Integer)
    demoted: Mapped[int] = mapped_column(Integer)
    reported: Mapped[int] = mapped_column(Integer)
    percontohan: Mapped[int] = mapped_column(Integer)
    profil_kampung: Mapped[int] = mapped_column(Integer)
    own_pokja: Mapped[int] = mapped_column(Integer)
    own_sk_pokja: Mapped[int] = mapped_column(Integer)
    own_pokja_trained: Mapped[int] = mapped_column(Integer)
    own_rumah_dataku: Mapped[int] = mapped_column(Integer)
    own_sekretariat: Mapped[int] = mapped_column(Integer)
    own_pkb_pendamping: Mapped[int] = mapped_column(Integer)
    own_regulation: Mapped[int] = mapped_column(Integer)
    own_rkm: Mapped[int] = mapped_column(Integer)
    kependudukan_kampung: Mapped[int] = mapped_column(Integer)
    pus: Mapped[int] = mapped_column(BigInteger)
    kkbpk_kampung: Mapped[int] = mapped_column(Integer)
    kkbpk_pus: Mapped[int] = mapped_column(BigInteger)
    kb_users: Mapped[int] = mapped_column(BigInteger)
    mkjp_users: Mapped[int] = mapped_column(BigInteger)
    # The method mix: Σ users of each method (`kampungkb_shared.reports.METHOD_COLUMNS`) over the same kkbpk as
    # `kb_users`, which they add up to.
    kb_iud: Mapped[int] = mapped_column(BigInteger, server_default="0")
    kb_mow: Mapped[int] = mapped_column(BigInteger, server_default="0")
    kb_mop: Mapped[int] = mapped_column(BigInteger, server_default="0")
    kb_kondom: Mapped[int] = mapped_column(BigInteger, server_default="0")
    kb_implan: Mapped[int] = mapped_column(BigInteger, server_default="0")
    kb_suntik: Mapped[int] = mapped_column(BigInteger, server_default="0")
    kb_pil: Mapped[int] = mapped_column(BigInteger, server_default="0")
    unmet_need: Mapped[int] = mapped_column(BigInteger)
    # Timeliness (`kampungkb_shared.timeliness`): of the counted Kampung KB, those whose submission of exactly this
    # period was first written by the deadline, and after it; the rest are missing.
    profil_on_time: Mapped[int] = mapped_column(Integer, server_default="0")
    profil_late: Mapped[int] = mapped_column(Integer, server_default="0")
    kependudukan_on_time: Mapped[int] = mapped_column(Integer, server_default="0")
    kependudukan_late: Mapped[int] = mapped_column(Integer, server_default="0")
    kkbpk_on_time: Mapped[int] = mapped_column(Integer, server_default="0")
    kkbpk_late: Mapped[int] = mapped_column(Integer, server_default="0")

    __table_args__ = (
        Index("ix_report_aggregate_children", "period", "ruleset", "parent_code"),
        Index("ix_report_aggregate_trend", "code", "ruleset", "period"),
    )


class ReportPeriod(Base):
    """A period report-worker has rebuilt whole under a rule set: only then can one chain be refreshed alone."""

    __tablename__ = "report_period"

    period: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    ruleset: Mapped[str] = mapped_column(String(32), primary_key=True)
    rebuilt_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    refreshed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class Target(Base):
    """Targets of a region (`00` for the nation) for a year, shown beside the actual figures."""

    __tablename__ = "target"

    code: Mapped[str] = mapped_column(String(13), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    formation_pct: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    """Kampung KB formed, as % of the desa/kelurahan of the region."""
    mandiri_plus_pct: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    """Mandiri + berkelanjutan, as % of the classified Kampung KB."""
    mandiri_plus_increase_pts: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    """Increase of `mandiri_plus_pct` over the year, in percentage points (from December of the year before)."""
    updated_by: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
