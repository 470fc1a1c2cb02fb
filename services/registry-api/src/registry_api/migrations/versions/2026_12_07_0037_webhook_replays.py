"""webhook replays: each subscription counts its replays (`webhook_subscription.replays`), which a batch's
`webhook-id` now covers with the batch's first and last cursor. The id was the first cursor alone, so a retry that
read more changes than the attempt before it, and every batch of a replay, came under an id the receiver had
already seen and dropped as a repeat: changes that were never delivered.

Revision ID: 0037_webhookreplays
Revises: 0036_dashsessions
Create Date: 2026-12-07 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0037_webhookreplays"
down_revision: str | None = "0036_dashsessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("webhook_subscription", sa.Column("replays", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    op.drop_column("webhook_subscription", "replays")
