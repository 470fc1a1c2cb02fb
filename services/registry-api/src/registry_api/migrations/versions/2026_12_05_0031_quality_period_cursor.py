"""the change-feed position up to which each period's data-quality flags are current everywhere
(`quality_period_cursor`), written by a whole-period rebuild's pass over the nation: a kabupaten with no cursor of
its own (none of its chain refreshes since its history was imported) then recomputes only its Kampung KB changed
after those passes, not every flag of every computed period. On 36 months of national history the largest
kabupaten's first pass recomputed all of them, 37 periods in one statement of 1.5 s.

Revision ID: 0031_qperiod
Revises: 0030_flagstats
Create Date: 2026-12-05 22:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0031_qperiod"
down_revision: str | None = "0030_flagstats"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "quality_period_cursor",
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("txid", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("passed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("period", name=op.f("pk_quality_period_cursor")),
    )


def downgrade() -> None:
    op.drop_table("quality_period_cursor")
