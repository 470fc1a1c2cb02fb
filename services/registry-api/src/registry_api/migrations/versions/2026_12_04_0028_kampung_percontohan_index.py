"""The percontohan Kampung KB by a partial index of their desa codes: every report lists its region's (the nation's:
every one), which read the whole of `kampung`, and since its pages are filled to 40 % (0025) that is 45 MB for the
83,762 of them, 10-13 ms of each report of the nation for a list of a few; now the index's few entries.

Revision ID: 0028_percontohan
Revises: 0027_vacuumed
Create Date: 2026-12-04 22:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028_percontohan"
down_revision: str | None = "0027_vacuumed"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_kampung_percontohan",
        "kampung",
        ["desa_code"],
        postgresql_ops={"desa_code": "text_pattern_ops"},
        postgresql_where=sa.text("percontohan_kecamatan OR percontohan_kabupaten OR percontohan_provinsi"),
    )


def downgrade() -> None:
    op.drop_index("ix_kampung_percontohan", table_name="kampung")
