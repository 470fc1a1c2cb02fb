"""dashboard sessions: a browser signed in to the dashboard holds a random token in its cookie, not the API key it
signed in with; a row per session keeps the token's SHA-256, the key and when the session ends, so that signing
out (the row deleted) or revoking the key ends it at once. Cookies of before, holding a key, are no session: their
officers sign in again.

Revision ID: 0036_dashsessions
Revises: 0035_passrules
Create Date: 2026-12-07 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0036_dashsessions"
down_revision: str | None = "0035_passrules"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dashboard_session",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["key_id"], ["api_key.id"], name=op.f("fk_dashboard_session_key_id_api_key"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_dashboard_session")),
    )
    op.create_index("ix_dashboard_session_key_id", "dashboard_session", ["key_id"])
    op.create_index("ix_dashboard_session_expires_at", "dashboard_session", ["expires_at"])


def downgrade() -> None:
    op.drop_table("dashboard_session")
