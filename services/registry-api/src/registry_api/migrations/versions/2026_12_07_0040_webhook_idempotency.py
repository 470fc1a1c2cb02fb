"""webhook idempotency: a subscription keeps the `Idempotency-Key` it was created with and its request's hash, one
per owner and key (a unique index), so that a client whose answer was lost retries into the subscription it made
and reads its secret again, where it made a second one before and lost the first one's secret with the answer.

Revision ID: 0040_webhookidem
Revises: 0039_feedkampung
Create Date: 2026-12-07 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0040_webhookidem"
down_revision: str | None = "0039_feedkampung"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("webhook_subscription", sa.Column("idempotency_key", sa.String(200), nullable=True))
    op.add_column("webhook_subscription", sa.Column("request_hash", sa.String(64), nullable=True))
    op.create_index(
        "uq_webhook_subscription_idempotency",
        "webhook_subscription",
        ["owner", "idempotency_key"],
        unique=True,
        postgresql_where=sa.text("idempotency_key IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_webhook_subscription_idempotency", table_name="webhook_subscription")
    op.drop_column("webhook_subscription", "request_hash")
    op.drop_column("webhook_subscription", "idempotency_key")
