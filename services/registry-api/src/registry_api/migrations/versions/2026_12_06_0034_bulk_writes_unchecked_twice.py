"""`kampung` without its foreign key to `wilayah`, and import bodies stored as they arrive.

- Every write of a Kampung KB checks its desa first (`kampung.rules.desa_level_error`: the API's create, an import's
  address check), and no region is ever deleted, so the foreign key only checked the same thing again: once per row,
  a row lock on the desa each time (83,762 of them for a national kampung file: 0.83 s of PostgreSQL's CPU against a
  bare insert's 0.25 s, on a table of the official region list's size).
- A body's chunks (`import_chunk.data`, 1 MiB each) were compressed (pglz) on their way in and deleted once the job
  finished: 0.4 s of PostgreSQL's CPU for a national month's four files, as much again for their re-import, to save
  disk that held them for a minute. They are now stored uncompressed (`STORAGE EXTERNAL`, out of line as before).

Revision ID: 0034_uncheckedtwice
Revises: 0033_handoverkb
Create Date: 2026-12-06 17:45:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0034_uncheckedtwice"
down_revision: str | None = "0033_handoverkb"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_constraint("fk_kampung_desa_code_wilayah", "kampung", type_="foreignkey")
    op.execute("ALTER TABLE import_chunk ALTER COLUMN data SET STORAGE EXTERNAL")


def downgrade() -> None:
    op.execute("ALTER TABLE import_chunk ALTER COLUMN data SET STORAGE EXTENDED")
    op.create_foreign_key("fk_kampung_desa_code_wilayah", "kampung", "wilayah", ["desa_code"], ["code"])
