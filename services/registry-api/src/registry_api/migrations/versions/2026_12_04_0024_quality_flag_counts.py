"""The kind and status of each data-quality flag in the index by (period, desa_code): a report counts its region's
flags of the month from the index alone (the nation's month of the history bench, 43,535 flags: 10-13 ms against
20-24 ms warm, from one heap page per flag before)

Revision ID: 0024_flagcounts
Revises: 0023_kegpartners
Create Date: 2026-12-04 18:55:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0024_flagcounts"
down_revision: str | None = "0023_kegpartners"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _index(include: list[str] | None) -> None:
    op.drop_index("ix_quality_flag_period_desa", table_name="quality_flag")
    op.create_index(
        "ix_quality_flag_period_desa",
        "quality_flag",
        ["period", "desa_code"],
        postgresql_ops={"desa_code": "text_pattern_ops"},
        postgresql_include=include,
    )


def upgrade() -> None:
    _index(["kind", "status"])


def downgrade() -> None:
    _index(None)
