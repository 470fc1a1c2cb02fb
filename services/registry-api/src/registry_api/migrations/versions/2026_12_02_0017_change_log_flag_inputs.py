"""the feed's index by kabupaten (`ix_change_log_kabupaten`) holds only the rows that can move a data-quality flag (a
kkbpk or kependudukan written, a Kampung KB updated or deactivated), the only ones its reader asks for: a national
month's classifications, tier changes and other modules no longer maintain it (a quarter of its rows remain)

Revision ID: 0017_flaginputs
Revises: 0016_qcursor
Create Date: 2026-12-02 09:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_flaginputs"
down_revision: str | None = "0016_qcursor"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FLAG_INPUTS = (
    "kind = 'submission' AND module IN ('kkbpk', 'kependudukan') OR kind = 'kampung' AND action IN ('updated', "
    "'deactivated')"
)


def upgrade() -> None:
    op.drop_index("ix_change_log_kabupaten", table_name="change_log")
    op.create_index(
        "ix_change_log_kabupaten",
        "change_log",
        [sa.text("left(desa_code, 5)"), "txid", "id"],
        postgresql_where=sa.text(_FLAG_INPUTS),
    )


def downgrade() -> None:
    op.drop_index("ix_change_log_kabupaten", table_name="change_log")
    op.create_index("ix_change_log_kabupaten", "change_log", [sa.text("left(desa_code, 5)"), "txid", "id"])
