"""`submission` without its foreign key to `kampung` and without the index of `submitted_at` alone: as for
`classification` (0021), its one writer (`submissions.store`) writes only for Kampung KB it has locked, which are never
deleted, and no query reads submissions by `submitted_at` across Kampung KB (a Kampung KB's own are read by
`ix_submission_kampung_submitted_at`). The check took a row lock on the Kampung KB for every row, and the index was
one more to write: a national module file's merge, 83,762 rows, 2.42 s without them against 2.78 s with them (medians
of four runs each, alternating, on a local PostgreSQL 15).

Revision ID: 0026_subrefs
Revises: 0025_kampunghot
Create Date: 2026-12-04 21:50:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0026_subrefs"
down_revision: str | None = "0025_kampunghot"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_constraint("fk_submission_kampung_id_kampung", "submission", type_="foreignkey")
    op.drop_index("ix_submission_submitted_at", table_name="submission")


def downgrade() -> None:
    op.create_index("ix_submission_submitted_at", "submission", ["submitted_at"])
    op.create_foreign_key("fk_submission_kampung_id_kampung", "submission", "kampung", ["kampung_id"], ["id"])
