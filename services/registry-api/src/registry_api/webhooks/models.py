import datetime as dt

from sqlalchemy import ARRAY, BigInteger, DateTime, ForeignKey, Identity, Index, Integer, String, Text, func, text
from sqlalchemy.orm import Mapped, mapped_column

from registry_api.db import Base


class WebhookSubscription(Base):
    """A receiver of the change feed: its URL, filters, signing secret and its own position in the feed.

    Delivery state lives on the row: `cursor` moves only after a 2xx; a failing subscription waits until
    `next_attempt_at`; a worker holds it while `leased_until` is ahead (claimed with `FOR UPDATE SKIP LOCKED`)."""

    __tablename__ = "webhook_subscription"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64))
    """`Principal.actor` of the key that created it: only it sees and manages the subscription."""
    owner_role: Mapped[str] = mapped_column(String(16))
    scope: Mapped[str] = mapped_column(String(64))
    """The creator's scope: deliveries hold only what it may read."""
    url: Mapped[str] = mapped_column(Text)
    kinds: Mapped[list[str] | None] = mapped_column(ARRAY(String(16)))
    wilayah: Mapped[str | None] = mapped_column(String(16))
    secret: Mapped[str] = mapped_column(Text)
    """`whsec_<base64>`: what the Standard Webhooks library signs with (a shared secret, so kept as it is)."""
    cursor: Mapped[str] = mapped_column(String(41))
    replays: Mapped[int] = mapped_column(Integer, server_default="0")
    """How many times it was replayed: part of each batch's `webhook-id`, so that a replay's batches are messages a
    receiver has not seen, even those holding changes it took before."""
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    """Failed attempts in a row at the current batch."""
    failing_since: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_delivered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    disabled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    leased_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    lease_token: Mapped[str | None] = mapped_column(String(32))
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    """The `Idempotency-Key` it was created with: a retry with it answers this subscription, its secret included."""
    request_hash: Mapped[str | None] = mapped_column(String(64))
    """`content_hash` of the request it was created by: the same key with another request is refused."""

    __table_args__ = (
        Index("ix_webhook_subscription_owner", "owner"),
        Index(
            "uq_webhook_subscription_idempotency",
            "owner",
            "idempotency_key",
            unique=True,
            postgresql_where=text("idempotency_key IS NOT NULL"),
        ),
        Index("ix_webhook_subscription_due", "next_attempt_at", postgresql_where=text("disabled_at IS NULL")),
    )


class WebhookDelivery(Base):
    """One attempt to deliver a batch: when, the answer (status code or error), how many items, the next retry."""

    __tablename__ = "webhook_delivery"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    subscription_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("webhook_subscription.id", ondelete="CASCADE"), index=True
    )
    message_id: Mapped[str] = mapped_column(String(80))
    attempted_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    items: Mapped[int] = mapped_column(Integer)
    cursor_from: Mapped[str] = mapped_column(String(41))
    cursor_to: Mapped[str] = mapped_column(String(41))
    next_retry_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
