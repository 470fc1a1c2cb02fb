"""the pending hand-over events indexed by their Kampung KB: a large import's classification takes them the events of
10,000 Kampung KB at a time, in Kampung KB order (`changes.handover.take`), each slice read from this index where it
starts. Without it every slice read every pending `classify` event (two a Kampung KB where two files of a month
merged side by side and each handed it over) and sorted them: 1.5 s of PostgreSQL's CPU a national month.

Revision ID: 0033_handoverkb
Revises: 0032_outboxorder
Create Date: 2026-12-06 08:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0033_handoverkb"
down_revision: str | None = "0032_outboxorder"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_HANDED_OVER = sa.text("topic = 'classify' AND delivered_at IS NULL AND payload ? 'handover'")


def upgrade() -> None:
    op.create_index(
        "ix_outbox_handover",
        "outbox",
        [sa.text("((payload ->> 'kampung_id')::bigint)")],
        postgresql_where=_HANDED_OVER,
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_handover", table_name="outbox", postgresql_where=_HANDED_OVER)
