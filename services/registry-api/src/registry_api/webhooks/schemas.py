import datetime as dt
from typing import Annotated

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, UrlConstraints

from registry_api.changes.schemas import ChangeKind

WILAYAH = r"^\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?$"

ReceiverUrl = Annotated[AnyHttpUrl, UrlConstraints(max_length=2048, allowed_schemes=["http", "https"])]


class WebhookCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"url": "https://dashboard.example.go.id/hooks/kampungkb", "kinds": ["submission"], "wilayah": "99.01"}
            ]
        },
    )

    url: ReceiverUrl = Field(
        description="where batches are POSTed (http or https); its host must resolve to an allowed address"
    )
    kinds: list[ChangeKind] | None = Field(
        default=None, min_length=1, description="only changes of these kinds; absent: every kind"
    )
    wilayah: str | None = Field(
        default=None,
        pattern=WILAYAH,
        description="only changes under this region code prefix, inside the key's scope; absent or `00`: the "
        "key's whole scope",
    )


class WebhookRead(BaseModel):
    id: int = Field(description="the subscription's id")
    url: str = Field(description="where batches are POSTed")
    kinds: list[ChangeKind] | None = Field(description="the kinds delivered; null: every kind")
    wilayah: str | None = Field(description="the region code prefix delivered; null: the key's whole scope")
    cursor: str = Field(description="the feed position delivered up to: the next batch starts after it")
    created_at: dt.datetime = Field(description="when it was created")
    enabled: bool = Field(description="false once it failed for the whole retry window (re-enable it)")
    disabled_at: dt.datetime | None = Field(description="when it was disabled")
    failing_since: dt.datetime | None = Field(description="first failed attempt at the current batch, if failing")
    next_attempt_at: dt.datetime | None = Field(description="when the next attempt is due, while enabled")
    last_delivered_at: dt.datetime | None = Field(description="the last 2xx answer")


class WebhookCreated(WebhookRead):
    secret: str = Field(
        description="the signing secret (`whsec_...`, Standard Webhooks): shown only in this answer (and again to a "
        "retry with its `Idempotency-Key`); verify each delivery's `webhook-signature` with it"
    )


class WebhookList(BaseModel):
    items: list[WebhookRead] = Field(description="the caller's subscriptions, oldest first")


class DeliveryRead(BaseModel):
    id: int = Field(description="the attempt's id")
    message_id: str = Field(
        description="the `webhook-id` header sent: the same for every attempt at the same batch (same `cursor_from` "
        "and `cursor_to`), another after a replay"
    )
    attempted_at: dt.datetime = Field(description="when it was attempted")
    status_code: int | None = Field(description="the receiver's HTTP status; null when there was no answer")
    error: str | None = Field(description="why it failed (a timeout, a refused connection, an address not allowed)")
    items: int = Field(description="changes in the batch")
    cursor_from: str = Field(description="the batch holds the changes after this position")
    cursor_to: str = Field(description="the position the subscription moves to when the batch is delivered")
    next_retry_at: dt.datetime | None = Field(
        description="failed: when the batch is tried again; null when delivered or the subscription was disabled"
    )


class DeliveryPage(BaseModel):
    items: list[DeliveryRead] = Field(description="attempts, newest first")
    next_cursor: int | None = Field(description="pass as `cursor` for older attempts; null at the end")
