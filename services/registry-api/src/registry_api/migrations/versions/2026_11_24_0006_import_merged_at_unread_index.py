"""import jobs record when their merge committed: a large import classifies on several connections after it, and a
retry of such a job resumes at its classification; the (ruleset, period) index of classifications, which no query
reads, is dropped (each stored result paid for it)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("import_job", sa.Column("merged_at", sa.DateTime(timezone=True), nullable=True))
    with op.get_context().autocommit_block():  # without blocking writes to a large table
        op.drop_index(
            "ix_classification_ruleset_period",
            table_name="classification",
            postgresql_concurrently=True,
            if_exists=True,
        )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.create_index(
            "ix_classification_ruleset_period",
            "classification",
            ["ruleset", "period"],
            postgresql_concurrently=True,
            if_not_exists=True,
        )
    op.drop_column("import_job", "merged_at")
