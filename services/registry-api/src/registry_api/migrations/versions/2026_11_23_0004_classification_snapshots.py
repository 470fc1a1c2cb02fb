"""classification snapshots stored once by their hash; results kept as the classifier's JSON text

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 21:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DOCUMENTS = [
    ("classification_snapshot", "snapshot"),
    ("classification", "result"),
    ("submission", "payload"),
    ("submission_revision", "payload"),
]
_TIERS = "tier IN ('dasar', 'berkembang', 'mandiri', 'berkelanjutan', 'belum_terklasifikasi')"


def upgrade() -> None:
    op.create_table(
        "classification_snapshot",
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("snapshot", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("hash", name=op.f("pk_classification_snapshot")),
    )
    op.execute("""
        INSERT INTO classification_snapshot (hash, snapshot)
        SELECT DISTINCT ON (snapshot_hash) snapshot_hash, snapshot FROM classification ORDER BY snapshot_hash
    """)
    op.drop_column("classification", "snapshot")
    op.alter_column(
        "classification",
        "result",
        type_=postgresql.JSON(astext_type=sa.Text()),
        existing_type=postgresql.JSONB(astext_type=sa.Text()),
        postgresql_using="CAST(result AS json)",
    )
    op.create_foreign_key(
        op.f("fk_classification_snapshot_hash_classification_snapshot"),
        "classification",
        "classification_snapshot",
        ["snapshot_hash"],
        ["hash"],
    )
    op.create_check_constraint(op.f("ck_classification_tier_known"), "classification", sa.text(_TIERS))
    # No query filters on a document's content: ANALYZE (which a big import runs) need not read them.
    for table, column in _DOCUMENTS:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET STATISTICS 0")


def downgrade() -> None:
    for table, column in _DOCUMENTS[1:]:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET STATISTICS -1")
    op.drop_constraint(op.f("ck_classification_tier_known"), "classification", type_="check")
    op.drop_constraint(
        op.f("fk_classification_snapshot_hash_classification_snapshot"), "classification", type_="foreignkey"
    )
    op.alter_column(
        "classification",
        "result",
        type_=postgresql.JSONB(astext_type=sa.Text()),
        existing_type=postgresql.JSON(astext_type=sa.Text()),
        postgresql_using="CAST(result AS jsonb)",
    )
    op.add_column("classification", sa.Column("snapshot", postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.execute(
        "UPDATE classification c SET snapshot = s.snapshot FROM classification_snapshot s WHERE s.hash = c.snapshot_hash"
    )
    op.alter_column("classification", "snapshot", nullable=False)
    op.drop_table("classification_snapshot")
