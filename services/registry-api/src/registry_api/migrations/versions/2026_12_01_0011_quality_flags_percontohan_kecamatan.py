"""data-quality flags raised by report-worker; the kecamatan level of percontohan, whose per-level limits are
settings (counted under a lock), so the unique indexes of one percontohan per kabupaten and provinsi go

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-01 23:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "kampung",
        sa.Column("percontohan_kecamatan", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )
    op.drop_index("uq_kampung_percontohan_kabupaten", table_name="kampung")
    op.drop_index("uq_kampung_percontohan_provinsi", table_name="kampung")
    op.create_table(
        "quality_flag",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("kampung_id", sa.BigInteger(), nullable=False),
        sa.Column("desa_code", sa.String(length=13), nullable=False),
        sa.Column("kabupaten_code", sa.String(length=5), nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("subject", sa.String(length=24), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("evidence", sa.dialects.postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", sa.String(length=8), server_default="open", nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("checked_by", sa.String(length=64), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.String(length=1000), nullable=True),
        sa.CheckConstraint("status IN ('open', 'checked')", name=op.f("ck_quality_flag_status_known")),
        sa.ForeignKeyConstraint(["kampung_id"], ["kampung.id"], name=op.f("fk_quality_flag_kampung_id_kampung")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quality_flag")),
        sa.UniqueConstraint("kampung_id", "period", "kind", "subject", name=op.f("uq_quality_flag_kampung_id")),
    )
    op.create_index(
        "ix_quality_flag_period_desa",
        "quality_flag",
        ["period", "desa_code"],
        unique=False,
        postgresql_ops={"desa_code": "text_pattern_ops"},
    )
    op.create_index("ix_quality_flag_kabupaten_period", "quality_flag", ["kabupaten_code", "period"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_quality_flag_kabupaten_period", table_name="quality_flag")
    op.drop_index("ix_quality_flag_period_desa", table_name="quality_flag")
    op.drop_table("quality_flag")
    op.create_index(
        "uq_kampung_percontohan_provinsi",
        "kampung",
        ["provinsi_code"],
        unique=True,
        postgresql_where=sa.text("percontohan_provinsi AND active"),
    )
    op.create_index(
        "uq_kampung_percontohan_kabupaten",
        "kampung",
        ["kabupaten_code"],
        unique=True,
        postgresql_where=sa.text("percontohan_kabupaten AND active"),
    )
    op.drop_column("kampung", "percontohan_kecamatan")
