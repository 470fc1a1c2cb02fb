"""each period's last pass over the nation keeps the rules it flagged by (`quality_period_cursor.rules`: a key of the
thresholds and of the statement that applies them), so that the nightly rebuild recomputes only the Kampung KB changed
since that pass when the rules are the same, and every one when they are not (or not known: a position written
before this column). With a year of history, its pass over every Kampung KB cost two to three times the period's
aggregates (12.6 against 3.6 CPU-seconds on 36 months of national history) for flags that no change had moved.

Revision ID: 0035_passrules
Revises: 0034_uncheckedtwice
Create Date: 2026-12-06 21:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0035_passrules"
down_revision: str | None = "0034_uncheckedtwice"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("quality_period_cursor", sa.Column("rules", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("quality_period_cursor", "rules")
