"""`quality_flag` analysed once 10,000 of its rows changed, whatever its size. Reports count the flags of their
period; at autovacuum's default a table is analysed after a tenth of its rows changed, and on 36 months of national
history a month's flags are a 36th: its planner statistics then list every period but the newest, which the planner
takes for one with no flag. The nation's count of 43,533 flags of the month took 29.0 ms (a sort of every flag, planned
for one), 10.8 ms once analysed (a hash aggregate).

Revision ID: 0030_flagstats
Revises: 0029_feedkey
Create Date: 2026-12-05 02:55:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0030_flagstats"
down_revision: str | None = "0029_feedkey"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SETTINGS = {"autovacuum_analyze_scale_factor": "0", "autovacuum_analyze_threshold": "10000"}


def upgrade() -> None:
    op.execute(f"ALTER TABLE quality_flag SET ({', '.join(f'{name} = {value}' for name, value in SETTINGS.items())})")


def downgrade() -> None:
    op.execute(f"ALTER TABLE quality_flag RESET ({', '.join(SETTINGS)})")
