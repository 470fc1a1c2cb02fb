"""monitoring: on-time and late counts per module in the aggregates; a yearly mandiri+ increase target

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = [f"{module}_{status}" for module in ("profil", "kependudukan", "kkbpk") for status in ("on_time", "late")]


def upgrade() -> None:
    for name in _COLUMNS:
        # Rows written before have no counts: zero until the next rebuild of their period.
        op.add_column("report_aggregate", sa.Column(name, sa.Integer(), nullable=False, server_default="0"))
    op.add_column("target", sa.Column("mandiri_plus_increase_pts", sa.Numeric(5, 2), nullable=True))


def downgrade() -> None:
    op.drop_column("target", "mandiri_plus_increase_pts")
    for name in reversed(_COLUMNS):
        op.drop_column("report_aggregate", name)
