"""the pending outbox events indexed in the order the relay claims them (`topic`, `available_at`, `id`), and no index
of (`topic`, `key`): the relay's claim (`ORDER BY available_at, id LIMIT`) then reads the due events from the index
and stops, whatever the planner's statistics say. Planned on an outbox whose statistics predate an import's
hand-over (83,762 events a national file, due two minutes later), the claim's generic plan read every pending event
of its topic by the index of (`topic`, `key`), which no statement filters on, and sorted none of them: 50 to 110 ms
a poll on the embedded server while the hand-over waited, several polls a second. Each event written also wrote an
entry of that index.

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
    op.drop_index("ix_outbox_topic_key", table_name="outbox", postgresql_where=_PENDING)
    op.drop_index("ix_outbox_pending", table_name="outbox", postgresql_where=_PENDING)
    op.create_index("ix_outbox_pending", "outbox", ["topic", "available_at", "id"], postgresql_where=_PENDING)


def downgrade() -> None:
    op.drop_index("ix_outbox_pending", table_name="outbox", postgresql_where=_PENDING)
    op.create_index("ix_outbox_pending", "outbox", ["topic", "available_at"], postgresql_where=_PENDING)
    op.create_index("ix_outbox_topic_key", "outbox", ["topic", "key"], postgresql_where=_PENDING)
