"""`change_log` indexed by Kampung KB in feed order (`kampung_id`, `txid`, `id`): a key limited to one Kampung KB (a
phone's, scope `kampung:<id>`) reads its page from this index where its cursor is and stops. Before, its page walked
the position's key and filtered every row of every Kampung KB since its cursor: after a national month (some 500,000
rows) each phone's catch-up read the whole month for its half dozen items.

Built concurrently, as the indexes of other large tables are (0005, 0006): a live feed takes a national import's rows
meanwhile. The build waits for the transactions writing the table (an import's merge may take minutes) without any
limit: it holds no writer back, where `migrate`'s lock timeout would cut it short each time and leave an invalid
index, which a build cut short (the process stopped) leaves too; such a leftover is dropped and built again.

Revision ID: 0039_feedkampung
Revises: 0038_methodmix
Create Date: 2026-12-07 20:25:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0039_feedkampung"
down_revision: str | None = "0038_methodmix"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INVALID = "SELECT NOT indisvalid FROM pg_index WHERE indexrelid = to_regclass('ix_change_log_kampung')"


def upgrade() -> None:
    with op.get_context().autocommit_block():  # without blocking writes to a large table
        bind = op.get_bind()
        lock_timeout = bind.execute(sa.text("SELECT current_setting('lock_timeout')")).scalar_one()
        bind.execute(sa.text("SET lock_timeout = 0"))
        try:
            if bind.execute(sa.text(_INVALID)).scalar():
                op.drop_index("ix_change_log_kampung", table_name="change_log", postgresql_concurrently=True)
            op.create_index(
                "ix_change_log_kampung",
                "change_log",
                ["kampung_id", "txid", "id"],
                postgresql_concurrently=True,
                if_not_exists=True,
            )
        finally:
            bind.execute(sa.text("SELECT set_config('lock_timeout', :value, false)"), {"value": lock_timeout})


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index("ix_change_log_kampung", table_name="change_log", postgresql_concurrently=True, if_exists=True)
