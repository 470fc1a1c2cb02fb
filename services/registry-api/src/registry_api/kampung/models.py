import datetime as dt

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    Identity,
    Index,
    Integer,
    String,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from registry_api.db import Base


class Kampung(Base):
    """A Kampung KB. One active per desa/kelurahan; the region codes above it are kept for fast grouping."""

    __tablename__ = "kampung"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    desa_code: Mapped[str] = mapped_column(String(13))
    """A desa of `wilayah`, checked by every write (`kampung.rules`); no foreign key (migration 0034)."""
    kecamatan_code: Mapped[str] = mapped_column(String(8))
    kabupaten_code: Mapped[str] = mapped_column(String(5))
    provinsi_code: Mapped[str] = mapped_column(String(2))
    formed_on: Mapped[dt.date] = mapped_column(Date)
    scope: Mapped[str] = mapped_column(String(16), server_default="DESA_KELURAHAN")
    rw_dusun_name: Mapped[str | None] = mapped_column(String(200))
    formation_criteria: Mapped[list[str]] = mapped_column(ARRAY(String(32)), server_default="{}")
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    percontohan_kecamatan: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    percontohan_kabupaten: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    percontohan_provinsi: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    tier: Mapped[str | None] = mapped_column(String(24))
    """Current tier under the registry's primary rule set, kept by the classification store."""
    source_hash: Mapped[str | None] = mapped_column(String(32))
    """The import record it was last written from (`registry_api.imports.reading.source_hasher`); None after an API
    write. A re-import of the same record skips validating it."""
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 (SQLAlchemy reads it as a plain dict)

    __table_args__ = (
        Index("uq_kampung_active_desa", "desa_code", unique=True, postgresql_where=text("active")),
        Index("ix_kampung_desa_prefix", "desa_code", postgresql_ops={"desa_code": "text_pattern_ops"}),
        Index("ix_kampung_kabupaten", "kabupaten_code"),
        # A report lists its region's percontohan Kampung KB from this index (migration 0028).
        Index(
            "ix_kampung_percontohan",
            "desa_code",
            postgresql_ops={"desa_code": "text_pattern_ops"},
            postgresql_where=text("percontohan_kecamatan OR percontohan_kabupaten OR percontohan_provinsi"),
        ),
        # A BRIN and pages 40 % full: tier, version and `updated_at` change in place (migration 0025).
        Index("ix_kampung_updated_at", "updated_at", postgresql_using="brin", postgresql_with={"pages_per_range": 4}),
        {"postgresql_with": {"fillfactor": 40}},
    )
