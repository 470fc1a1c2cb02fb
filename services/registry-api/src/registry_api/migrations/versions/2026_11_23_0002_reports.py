"""reports: aggregates per region and period, rebuilt periods, targets

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "report_aggregate",
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("ruleset", sa.String(length=32), nullable=False),
        sa.Column("code", sa.String(length=13), nullable=False),
        sa.Column("level", sa.String(length=10), nullable=False),
        sa.Column("parent_code", sa.String(length=13), nullable=True),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("desa_total", sa.Integer(), nullable=False),
        sa.Column("desa", sa.Integer(), nullable=False),
        sa.Column("kelurahan", sa.Integer(), nullable=False),
        sa.Column("kecamatan_total", sa.Integer(), nullable=False),
        sa.Column("kecamatan_with_kampung", sa.Integer(), nullable=False),
        sa.Column("kampung_total", sa.Integer(), nullable=False),
        sa.Column("kampung_desa", sa.Integer(), nullable=False),
        sa.Column("kampung_kelurahan", sa.Integer(), nullable=False),
        sa.Column("tier_dasar", sa.Integer(), nullable=False),
        sa.Column("tier_berkembang", sa.Integer(), nullable=False),
        sa.Column("tier_mandiri", sa.Integer(), nullable=False),
        sa.Column("tier_berkelanjutan", sa.Integer(), nullable=False),
        sa.Column("tier_belum_terklasifikasi", sa.Integer(), nullable=False),
        sa.Column("prev_dasar", sa.Integer(), nullable=False),
        sa.Column("prev_berkembang", sa.Integer(), nullable=False),
        sa.Column("prev_mandiri", sa.Integer(), nullable=False),
        sa.Column("prev_berkelanjutan", sa.Integer(), nullable=False),
        sa.Column("prev_belum_terklasifikasi", sa.Integer(), nullable=False),
        sa.Column("promoted", sa.Integer(), nullable=False),
        sa.Column("demoted", sa.Integer(), nullable=False),
        sa.Column("reported", sa.Integer(), nullable=False),
        sa.Column("percontohan", sa.Integer(), nullable=False),
        sa.Column("profil_kampung", sa.Integer(), nullable=False),
        sa.Column("own_pokja", sa.Integer(), nullable=False),
        sa.Column("own_sk_pokja", sa.Integer(), nullable=False),
        sa.Column("own_pokja_trained", sa.Integer(), nullable=False),
        sa.Column("own_rumah_dataku", sa.Integer(), nullable=False),
        sa.Column("own_sekretariat", sa.Integer(), nullable=False),
        sa.Column("own_pkb_pendamping", sa.Integer(), nullable=False),
        sa.Column("own_regulation", sa.Integer(), nullable=False),
        sa.Column("own_rkm", sa.Integer(), nullable=False),
        sa.Column("kependudukan_kampung", sa.Integer(), nullable=False),
        sa.Column("pus", sa.BigInteger(), nullable=False),
        sa.Column("kkbpk_kampung", sa.Integer(), nullable=False),
        sa.Column("kkbpk_pus", sa.BigInteger(), nullable=False),
        sa.Column("kb_users", sa.BigInteger(), nullable=False),
        sa.Column("mkjp_users", sa.BigInteger(), nullable=False),
        sa.Column("unmet_need", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("period", "ruleset", "code", name=op.f("pk_report_aggregate")),
    )
    op.create_index("ix_report_aggregate_children", "report_aggregate", ["period", "ruleset", "parent_code"])
    op.create_index("ix_report_aggregate_trend", "report_aggregate", ["code", "ruleset", "period"])
    op.create_table(
        "report_period",
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("ruleset", sa.String(length=32), nullable=False),
        sa.Column("rebuilt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("period", "ruleset", name=op.f("pk_report_period")),
    )
    op.create_table(
        "target",
        sa.Column("code", sa.String(length=13), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("formation_pct", sa.Numeric(precision=5, scale=2), nullable=True),
        sa.Column("mandiri_plus_pct", sa.Numeric(precision=5, scale=2), nullable=True),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("code", "year", name=op.f("pk_target")),
    )
    op.create_index("ix_classification_as_of", "classification", ["kampung_id", "ruleset", "period"])


def downgrade() -> None:
    op.drop_index("ix_classification_as_of", table_name="classification")
    op.drop_table("target")
    op.drop_table("report_period")
    op.drop_index("ix_report_aggregate_trend", table_name="report_aggregate")
    op.drop_index("ix_report_aggregate_children", table_name="report_aggregate")
    op.drop_table("report_aggregate")
