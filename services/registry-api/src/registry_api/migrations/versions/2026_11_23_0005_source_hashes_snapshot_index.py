"""source hashes (the raw import record a submission or Kampung KB was last written from); classifications indexed
by their snapshot, so that deleting unreferenced snapshots is one index probe each

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("submission", sa.Column("source_hash", sa.String(length=32), nullable=True))
    op.add_column("kampung", sa.Column("source_hash", sa.String(length=32), nullable=True))
    with op.get_context().autocommit_block():  # built without blocking writes to a large table
        op.create_index(
            "ix_classification_snapshot_hash",
            "classification",
            ["snapshot_hash"],
            postgresql_concurrently=True,
            if_not_exists=True,
        )


def downgrade() -> None:
    op.drop_index("ix_classification_snapshot_hash", table_name="classification", if_exists=True)
    op.drop_column("kampung", "source_hash")
    op.drop_column("submission", "source_hash")
