"""`classification` without foreign keys: its writer guarantees its references (the ids of the Kampung KB it has
locked, which are never deleted; snapshots it holds against the prune), and the checks, a row lock on the Kampung
KB and on the snapshot per classification, were a third of storing a national import's

Revision ID: 0021_classrefs
Revises: 0020_classkey
Create Date: 2026-12-04 17:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0021_classrefs"
down_revision: str | None = "0020_classkey"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_constraint("fk_classification_kampung_id_kampung", "classification", type_="foreignkey")
    op.drop_constraint("fk_classification_snapshot_hash_classification_snapshot", "classification", type_="foreignkey")


def downgrade() -> None:
    op.create_foreign_key("fk_classification_kampung_id_kampung", "classification", "kampung", ["kampung_id"], ["id"])
    op.create_foreign_key(
        "fk_classification_snapshot_hash_classification_snapshot",
        "classification",
        "classification_snapshot",
        ["snapshot_hash"],
        ["hash"],
    )
