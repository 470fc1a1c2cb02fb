"""Webhook subscriptions: who may subscribe to what, where a receiver may be, and the secret that signs batches.

Only the key's principal that created a subscription sees and manages it; its deliveries hold what that key may
read (`scope`), narrowed by `kinds` and `wilayah`, for as long as the principal has a key in force. Delivery itself
runs in the background package.
"""

import asyncio
import base64
import ipaddress
import secrets
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from kampungkb_shared.errors import Forbidden, NotFound, Unprocessable
from kampungkb_shared.regions import NATION_CODE
from registry_api.auth.service import Principal, Role
from registry_api.changes import feed
from registry_api.changes.schemas import ChangeKind
from registry_api.submissions.store import canonical_json, content_hash
from registry_api.webhooks.models import WebhookDelivery, WebhookSubscription
from registry_api.webhooks.schemas import (
    DeliveryPage,
    DeliveryRead,
    WebhookCreate,
    WebhookCreated,
    WebhookList,
    WebhookRead,
)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_URL_FIELD: list[str | int] = ["body", "url"]


class AddressRefused(Exception):
    """The receiver's host resolves to an address outside the allowed networks, or does not resolve."""


def parse_networks(cidrs: Sequence[str]) -> list[Network]:
    """The allow-list setting as networks (a bad CIDR stops the process at start)."""
    return [ipaddress.ip_network(cidr.strip(), strict=False) for cidr in cidrs if cidr.strip()]


def address_allowed(address: str, allowed: Sequence[Network]) -> bool:
    """A public address, or one inside a network the setting allows (loopback, private, ... are refused else)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if any(ip in network for network in allowed):
        return True
    return ip.is_global and not (ip.is_multicast or ip.is_reserved)


async def check_receiver(url: str, *, allowed: Sequence[Network]) -> list[str]:
    """Every address the URL's host resolves to must be allowed; `AddressRefused` saying why otherwise. Returns those
    addresses, in the resolver's order: a delivery connects to one of them and never resolves the host again, so a
    name answering differently the next time (DNS rebinding) cannot lead it elsewhere."""
    parts = urlsplit(url)
    host = parts.hostname
    if not host:
        raise AddressRefused("the URL has no host")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise AddressRefused(f"{host} does not resolve: {exc}") from exc
    refused = sorted({str(info[4][0]) for info in infos if not address_allowed(str(info[4][0]), allowed)})
    if refused or not infos:
        raise AddressRefused(
            f"{host} resolves to {', '.join(refused) or 'nothing'}, outside the allowed networks "
            "(REGISTRY_WEBHOOK_ALLOWED_NETWORKS)"
        )
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _require_key(principal: Principal) -> None:
    """403 unless the caller is a principal of the registry (an API key). A subscription delivers while its creator
    has a key in force, checked at every pass; a bearer token of the identity provider is checked at no pass, so the
    subscriptions it made would outlive the person's removal at the provider."""
    if principal.principal_id is None:
        raise Forbidden(
            "webhooks are subscribed and resumed with an API key (a principal of the registry), not a bearer token: "
            "a subscription delivers only while its creator has a key in force"
        )


def _read(row: WebhookSubscription) -> WebhookRead:
    return WebhookRead(
        id=row.id,
        url=row.url,
        kinds=[ChangeKind(kind) for kind in row.kinds] if row.kinds else None,
        wilayah=row.wilayah,
        cursor=row.cursor,
        created_at=row.created_at,
        enabled=row.disabled_at is None,
        disabled_at=row.disabled_at,
        failing_since=row.failing_since,
        next_attempt_at=None if row.disabled_at else row.next_attempt_at,
        last_delivered_at=row.last_delivered_at,
    )


@dataclass
class Subscribed:
    """A subscription's answer: the subscription with its secret, and whether this request created it."""

    webhook: WebhookCreated
    created: bool


def _created(row: WebhookSubscription, *, created: bool) -> Subscribed:
    return Subscribed(WebhookCreated(**_read(row).model_dump(), secret=row.secret), created=created)


def _replayed(row: WebhookSubscription, *, request_hash: str) -> Subscribed:
    """The subscription first created with the key, for the same request; 422 at the header for another one."""
    if row.request_hash != request_hash:
        msg = "this key was used for another subscription: send a new key for a new subscription"
        raise Unprocessable.field(["header", "Idempotency-Key"], msg)
    return _created(row, created=False)


async def create(
    session: AsyncSession,
    *,
    principal: Principal,
    data: WebhookCreate,
    allowed: Sequence[Network],
    idempotency_key: str | None,
) -> Subscribed:
    """A subscription from now on (the feed's head), inside the caller's scope; its secret is returned once. With an
    `Idempotency-Key` the caller used before for the same request, the subscription then created is answered instead,
    its secret included (422 for another request)."""
    _require_key(principal)
    request_hash = content_hash(canonical_json(data.model_dump(mode="json")))
    by_key = select(WebhookSubscription).where(
        WebhookSubscription.owner == principal.actor, WebhookSubscription.idempotency_key == idempotency_key
    )
    if idempotency_key is not None and (seen := await session.scalar(by_key)) is not None:
        return _replayed(seen, request_hash=request_hash)
    wilayah = None if data.wilayah == NATION_CODE else data.wilayah
    if wilayah is not None and not principal.covers_region(wilayah):
        raise Forbidden(f"wilayah {wilayah} lies outside the key's scope {principal.scope}")
    try:
        await check_receiver(str(data.url), allowed=allowed)
    except AddressRefused as exc:
        raise Unprocessable.field(_URL_FIELD, str(exc)) from exc
    values = {
        "owner": principal.actor,
        "owner_role": principal.role.value,
        "scope": principal.scope,
        "url": str(data.url),
        "kinds": sorted({kind.value for kind in data.kinds}) if data.kinds else None,
        "wilayah": wilayah,
        "secret": "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode(),
        "cursor": await feed.head(session),
        "idempotency_key": idempotency_key,
        "request_hash": request_hash if idempotency_key is not None else None,
    }
    # A concurrent request with the same key waits here on the unique index until the first one has committed, and
    # then inserts nothing: it answers the first one's subscription.
    inserted = await session.scalar(
        pg_insert(WebhookSubscription)
        .values(**values)
        .on_conflict_do_nothing(
            index_elements=["owner", "idempotency_key"], index_where=WebhookSubscription.idempotency_key.isnot(None)
        )
        .returning(WebhookSubscription)
    )
    if inserted is None:
        first = await session.scalar(by_key)
        assert first is not None
        return _replayed(first, request_hash=request_hash)
    return _created(inserted, created=True)


async def list_own(session: AsyncSession, *, principal: Principal) -> WebhookList:
    """The caller's subscriptions."""
    rows = await session.scalars(
        select(WebhookSubscription).where(WebhookSubscription.owner == principal.actor).order_by(WebhookSubscription.id)
    )
    return WebhookList(items=[_read(row) for row in rows])


async def get_own(session: AsyncSession, *, principal: Principal, webhook_id: int) -> WebhookRead:
    """One of the caller's subscriptions (404 for another's)."""
    return _read(await _own(session, principal=principal, webhook_id=webhook_id))


async def _own(session: AsyncSession, *, principal: Principal, webhook_id: int) -> WebhookSubscription:
    row = await session.scalar(
        select(WebhookSubscription).where(
            WebhookSubscription.id == webhook_id, WebhookSubscription.owner == principal.actor
        )
    )
    if row is None:
        raise NotFound(f"no webhook with id {webhook_id}")
    return row


async def delete(session: AsyncSession, *, principal: Principal, webhook_id: int) -> None:
    """Remove a subscription and its delivery log; a batch in flight is not retried."""
    await session.delete(await _own(session, principal=principal, webhook_id=webhook_id))
    await session.flush()


async def _restart(
    session: AsyncSession, *, principal: Principal, webhook_id: int, cursor: str | None = None
) -> WebhookRead:
    """Enabled, due now, failure state cleared, any lease dropped (a batch in flight then moves nothing)."""
    row = await _own(session, principal=principal, webhook_id=webhook_id)
    values: dict[str, object] = {
        "disabled_at": None,
        "failing_since": None,
        "attempts": 0,
        "next_attempt_at": func.now(),
        "leased_until": None,
        "lease_token": None,
    }
    if cursor is not None:  # a replay: its batches are new messages (`webhook-id`), also those a receiver took before
        values["cursor"] = cursor
        values["replays"] = WebhookSubscription.replays + 1
    await session.execute(update(WebhookSubscription).where(WebhookSubscription.id == row.id).values(**values))
    await session.flush()
    await session.refresh(row)
    return _read(row)


async def enable(session: AsyncSession, *, principal: Principal, webhook_id: int) -> WebhookRead:
    """Enable a subscription again: it resumes after the last batch it delivered."""
    _require_key(principal)
    return await _restart(session, principal=principal, webhook_id=webhook_id)


async def replay(session: AsyncSession, *, principal: Principal, webhook_id: int, after: str) -> WebhookRead:
    """Move a subscription back (or on) to `after`: every change after it is delivered again, in messages with new ids
    (`webhook-id`); enables it too."""
    _require_key(principal)
    row = await _own(session, principal=principal, webhook_id=webhook_id)
    # A page of one tells an unknown cursor (422) or one older than the feed keeps (410) before anything moves.
    await feed.page(
        session,
        principal=delivery_principal(webhook_id=row.id, role=row.owner_role, scope=row.scope),
        after=after,
        limit=1,
        kinds=row.kinds,
        wilayah=row.wilayah,
    )
    return await _restart(session, principal=principal, webhook_id=webhook_id, cursor=after)


async def deliveries(
    session: AsyncSession, *, principal: Principal, webhook_id: int, limit: int, cursor: int | None
) -> DeliveryPage:
    """The subscription's delivery attempts, newest first."""
    row = await _own(session, principal=principal, webhook_id=webhook_id)
    query = select(WebhookDelivery).where(WebhookDelivery.subscription_id == row.id)
    if cursor is not None:
        query = query.where(WebhookDelivery.id < cursor)
    attempts = list(await session.scalars(query.order_by(WebhookDelivery.id.desc()).limit(limit + 1)))
    more = len(attempts) > limit
    attempts = attempts[:limit]
    return DeliveryPage(
        items=[DeliveryRead.model_validate(a, from_attributes=True) for a in attempts],
        next_cursor=attempts[-1].id if more else None,
    )


def delivery_principal(*, webhook_id: int, role: str, scope: str) -> Principal:
    """Who a subscription reads the feed as: its creator's role and scope."""
    return Principal(name=f"webhook:{webhook_id}", role=Role(role), scope=scope)
