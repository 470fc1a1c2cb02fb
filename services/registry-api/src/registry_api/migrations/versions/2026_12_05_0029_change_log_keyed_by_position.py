"""`change_log` keyed by its position (`txid`, `id`): every read of the feed, its prune and a writer's own last row go
by position, and nothing reads a row by its `id` alone, so the key of `id` was a second index of every row (128 bytes
a Kampung KB-month on 36 months of national history) beside the position's. A national month writes 586,334 rows into
the feed (a Kampung KB, three submissions, two classifications and a new tier each): inserted into a copy of the table
with its indexes, 1.21 s with the one key against 1.47 s with both (means of two, alternating, on the embedded
PostgreSQL 16).

The new key is built in one pass over the table: 0.43 s for a national month's 586,334 rows on the embedded server.

Revision ID: 0029_feedkey
Revises: 0028_percontohan
Create Date: 2026-12-05 02:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0029_feedkey"
down_revision: str | None = "0028_percontohan"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_constraint("pk_change_log", "change_log", type_="primary")
    op.drop_index("ix_change_log_position", table_name="change_log")
    op.create_primary_key("pk_change_log", "change_log", ["txid", "id"])


def downgrade() -> None:
    op.drop_constraint("pk_change_log", "change_log", type_="primary")
    op.create_primary_key("pk_change_log", "change_log", ["id"])
    op.create_index("ix_change_log_position", "change_log", ["txid", "id"])
