"""the position in the change feed up to which each kabupaten's data-quality flags are current
(`quality_cursor`): a chain refresh's pass recomputes only the Kampung KB changed after it, read by an index on the
feed by kabupaten (`ix_change_log_kabupaten`), so that a kabupaten's pass reads its own rows only

Revision ID: 0016_qcursor
Revises: 0015_clstore
Create Date: 2026-12-02 05:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_qcursor"
down_revision: str | None = "0015_clstore"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "quality_cursor",
        sa.Column("kabupaten_code", sa.String(length=5), nullable=False),
        sa.Column("txid", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("passed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("kabupaten_code", name=op.f("pk_quality_cursor")),
    )
    op.create_index("ix_change_log_kabupaten", "change_log", [sa.text("left(desa_code, 5)"), "txid", "id"])


def downgrade() -> None:
    op.drop_index("ix_change_log_kabupaten", table_name="change_log")
    op.drop_table("quality_cursor")
