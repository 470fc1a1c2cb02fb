"""A Kampung KB's row updated in place: its tier, version and `updated_at` change without touching its indexes.

Every classification that moves a tier rewrites the profile's row (`changes.pipeline`), and a national month moves
all 83,762 of them in one statement. With `updated_at` in a B-tree and full pages, each new row version went to
another page and into all five indexes: 0.78 s for the month's statement, against 0.16-0.20 s for heap-only (HOT)
updates (PostgreSQL 16, measured on the embedded server). PostgreSQL 16 keeps an update heap-only when only a
summarising (BRIN) index's column changes, so `updated_at` is indexed by a BRIN of 4-page ranges, which still
answers `updated_since` from the ranges that hold a recent change (3 ms for 167 changed of 83,762, against 14 ms
scanning the table and 0.3 ms from the B-tree); and pages are filled to 40 %, so that a whole month's new versions,
a tier longer than none among them, fit beside the old ones. Pages written before this fill up as they did until
their rows move once.

Revision ID: 0025_kampunghot
Revises: 0024_flagcounts
Create Date: 2026-12-04 21:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0025_kampunghot"
down_revision: str | None = "0024_flagcounts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE kampung SET (fillfactor = 40)")
    op.drop_index("ix_kampung_updated_at", table_name="kampung")
    op.create_index(
        "ix_kampung_updated_at",
        "kampung",
        ["updated_at"],
        postgresql_using="brin",
        postgresql_with={"pages_per_range": 4},
    )


def downgrade() -> None:
    op.drop_index("ix_kampung_updated_at", table_name="kampung")
    op.create_index("ix_kampung_updated_at", "kampung", ["updated_at"])
    op.execute("ALTER TABLE kampung RESET (fillfactor)")
