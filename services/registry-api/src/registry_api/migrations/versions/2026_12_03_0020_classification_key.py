"""`classification` keyed (kampung_id, ruleset, period), the order of "the newest at or before P" that its readers
ask, in place of (kampung_id, period, ruleset) beside an index of the new order (`ix_classification_as_of`): one
index fewer to write with every classification

Revision ID: 0020_classkey
Revises: 0019_superseded
Create Date: 2026-12-03 17:20:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0020_classkey"
down_revision: str | None = "0019_superseded"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_constraint("pk_classification", "classification", type_="primary")
    op.create_primary_key("pk_classification", "classification", ["kampung_id", "ruleset", "period"])
    op.drop_index("ix_classification_as_of", table_name="classification")


def downgrade() -> None:
    op.create_index("ix_classification_as_of", "classification", ["kampung_id", "ruleset", "period"])
    op.drop_constraint("pk_classification", "classification", type_="primary")
    op.create_primary_key("pk_classification", "classification", ["kampung_id", "period", "ruleset"])
