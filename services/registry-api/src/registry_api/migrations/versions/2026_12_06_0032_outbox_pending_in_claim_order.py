"""the pending outbox events indexed in the order the relay claims them (`topic`, `available_at`, `id`): its claim
(`ORDER BY available_at, id LIMIT`) then reads the due events from the index and stops, whatever the planner's
statistics say. Planned on an outbox whose statistics predate an import's hand-over (83,762 events a national file,
due two minutes later), the claim's generic plan read every pending event of its topic by `ix_outbox_topic_key` and
sorted none of them: 70 ms a poll on the embedded server while the hand-over waited, several times a second.

Revision ID: 0032_outboxorder
Revises: 0031_qperiod
Create Date: 2026-12-06 05:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0032_outboxorder"
down_revision: str | None = "0031_qperiod"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PENDING = sa.text("delivered_at IS NULL")


def upgrade() -> None:
    op.drop_index("ix_outbox_pending", table_name="outbox")
    op.create_index("ix_outbox_pending", "outbox", ["topic", "available_at", "id"], postgresql_where=_PENDING)


def downgrade() -> None:
    op.drop_index("ix_outbox_pending", table_name="outbox")
    op.create_index("ix_outbox_pending", "outbox", ["topic", "available_at"], postgresql_where=_PENDING)
