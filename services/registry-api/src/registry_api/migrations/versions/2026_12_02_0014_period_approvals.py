"""approved months: every approval and reopening of a region's month, append-only

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "period_approval",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("region_code", sa.String(13), nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("action", sa.String(10), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("action IN ('approved', 'reopened')", name="period_approval_action"),
        sa.CheckConstraint("period = date_trunc('month', period)::date", name="period_approval_month"),
    )
    # The state of a region's month is its newest row; a write asks for the rows of the month it writes.
    op.create_index("period_approval_period_region", "period_approval", ["period", "region_code", "id"])
    # Kept, never changed: the history of who approved and reopened what.
    op.execute("""
        CREATE FUNCTION period_approval_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'period_approval is append-only'; END $$""")
    op.execute("""
        CREATE TRIGGER period_approval_append_only BEFORE UPDATE OR DELETE ON period_approval
           FOR EACH STATEMENT EXECUTE FUNCTION period_approval_append_only()""")


def downgrade() -> None:
    op.execute("DROP TRIGGER period_approval_append_only ON period_approval")
    op.execute("DROP FUNCTION period_approval_append_only()")
    op.drop_index("period_approval_period_region", table_name="period_approval")
    op.drop_table("period_approval")
