"""webhooks: subscriptions to the change feed with their own cursor, and the log of delivery attempts

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "webhook_subscription",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("owner_role", sa.String(16), nullable=False),
        sa.Column("scope", sa.String(64), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("kinds", sa.ARRAY(sa.String(16)), nullable=True),
        sa.Column("wilayah", sa.String(16), nullable=True),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("cursor", sa.String(41), nullable=False),
        sa.Column("created_at", _TIME, nullable=False, server_default=sa.func.now()),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("failing_since", _TIME, nullable=True),
        sa.Column("next_attempt_at", _TIME, nullable=False, server_default=sa.func.now()),
        sa.Column("last_delivered_at", _TIME, nullable=True),
        sa.Column("disabled_at", _TIME, nullable=True),
        sa.Column("leased_until", _TIME, nullable=True),
        sa.Column("lease_token", sa.String(32), nullable=True),
    )
    op.create_index("ix_webhook_subscription_owner", "webhook_subscription", ["owner"])
    op.create_index(
        "ix_webhook_subscription_due",
        "webhook_subscription",
        ["next_attempt_at"],
        postgresql_where=sa.text("disabled_at IS NULL"),
    )
    op.create_table(
        "webhook_delivery",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column(
            "subscription_id",
            sa.BigInteger(),
            sa.ForeignKey("webhook_subscription.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("message_id", sa.String(80), nullable=False),
        sa.Column("attempted_at", _TIME, nullable=False, server_default=sa.func.now()),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("cursor_from", sa.String(41), nullable=False),
        sa.Column("cursor_to", sa.String(41), nullable=False),
        sa.Column("next_retry_at", _TIME, nullable=True),
    )
    op.create_index("ix_webhook_delivery_subscription_id", "webhook_delivery", ["subscription_id"])


def downgrade() -> None:
    op.drop_table("webhook_delivery")
    op.drop_table("webhook_subscription")
