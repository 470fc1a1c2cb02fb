from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Request, Response

from registry_api.auth.deps import PrincipalDep, shown_once
from registry_api.db import BIGINT_MAX, SessionDep
from registry_api.settings import Settings
from registry_api.webhooks import service
from registry_api.webhooks.schemas import DeliveryPage, WebhookCreate, WebhookCreated, WebhookList, WebhookRead

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

WebhookId = Annotated[int, Path(ge=1, le=BIGINT_MAX, description="the subscription's id")]
_CURSOR = r"^\d{1,19}-\d{1,19}$"

CREATE_DESCRIPTION = """
Changes of the feed (`GET /v1/changes`) committed from now on are POSTed to `url` in batches of up to 100, as
`{"items": [...], "next_cursor": "..."}` (the items of `GET /v1/changes`), in feed order: a batch is sent only after
the one before it was answered with a 2xx. Each request is signed per the Standard Webhooks specification
(`webhook-id`, `webhook-timestamp`, `webhook-signature`) with the `secret` of this answer, shown only here.

With an `Idempotency-Key` header, a retry whose answer was lost recovers it: the same key and the same request by the
same key's principal answer the subscription first created with it (200, its `secret` included, the same `Location`)
instead of creating a second one; the same key with another request is refused (422 naming the header).

A failed batch is retried with exponential backoff; a subscription failing for the whole retry window (24 hours by
default) is disabled, and `POST /v1/webhooks/{id}/enable` resumes it where it stopped. The URL's host must resolve
to a public address (or one in `REGISTRY_WEBHOOK_ALLOWED_NETWORKS`), at subscription and at every delivery, and a
delivery connects to an address that check approved. `wilayah` must lie inside the key's scope (403 otherwise); a
Kampung KB's key gets its own Kampung KB only.

Subscribing needs an API key (403 for a bearer token of the identity provider): a subscription delivers only while
the principal that created it has a key in force, and is disabled at the next pass once it has none.
"""
_NOT_A_KEY = "a bearer token of the identity provider: webhooks are subscribed and resumed with an API key"


@router.post(
    "",
    status_code=201,
    response_model=WebhookCreated,
    description=CREATE_DESCRIPTION,
    responses={
        200: {
            "description": "a replay: the subscription first created with this Idempotency-Key, its secret included",
            "model": WebhookCreated,
        },
        403: {"description": f"wilayah outside the key's scope, or {_NOT_A_KEY}"},
        422: {"description": "invalid subscription or receiver, or the Idempotency-Key was used for another one"},
    },
)
async def create_webhook(
    data: WebhookCreate,
    request: Request,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=200,
            description="A key of the client's choosing per subscription (a UUID): a retry with it answers the "
            "subscription already created, with its secret (200), instead of creating a second one",
        ),
    ] = None,
) -> WebhookCreated:
    """Subscribe a URL to the change feed; answers the signing secret once (and to a retry with its key)."""
    settings: Settings = request.app.state.settings
    allowed = service.parse_networks(settings.webhook_allowed_networks)
    subscribed = await service.create(
        session, principal=principal, data=data, allowed=allowed, idempotency_key=idempotency_key
    )
    response.status_code = 201 if subscribed.created else 200
    response.headers["Location"] = f"/v1/webhooks/{subscribed.webhook.id}"
    shown_once(response)
    return subscribed.webhook


@router.get("", response_model=WebhookList)
async def list_webhooks(session: SessionDep, principal: PrincipalDep) -> WebhookList:
    """The caller's subscriptions, with where each stands in the feed."""
    return await service.list_own(session, principal=principal)


@router.get("/{webhook_id}", response_model=WebhookRead)
async def get_webhook(webhook_id: WebhookId, session: SessionDep, principal: PrincipalDep) -> WebhookRead:
    """One of the caller's subscriptions, with where it stands in the feed (its secret is shown only when created)."""
    return await service.get_own(session, principal=principal, webhook_id=webhook_id)


@router.delete("/{webhook_id}", status_code=204, response_class=Response)
async def delete_webhook(webhook_id: WebhookId, session: SessionDep, principal: PrincipalDep) -> Response:
    """Remove a subscription and its delivery log."""
    await service.delete(session, principal=principal, webhook_id=webhook_id)
    return Response(status_code=204)


@router.get("/{webhook_id}/deliveries", response_model=DeliveryPage)
async def list_deliveries(
    webhook_id: WebhookId,
    session: SessionDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[int | None, Query(ge=1, le=BIGINT_MAX, description="`next_cursor` of the page before")] = None,
) -> DeliveryPage:
    """Delivery attempts, newest first: when, the status code or error, the items, the next retry."""
    return await service.deliveries(session, principal=principal, webhook_id=webhook_id, limit=limit, cursor=cursor)


@router.post(
    "/{webhook_id}/replay",
    response_model=WebhookRead,
    responses={403: {"description": _NOT_A_KEY}, 410: {"description": "cursor expired"}},
)
async def replay_webhook(
    webhook_id: WebhookId,
    session: SessionDep,
    principal: PrincipalDep,
    after: Annotated[str, Query(pattern=_CURSOR, description="a feed cursor: every change after it is sent again")],
) -> WebhookRead:
    """Deliver again every change after a cursor, with new `webhook-id`s (it moves there; a disabled one is enabled)."""
    return await service.replay(session, principal=principal, webhook_id=webhook_id, after=after)


@router.post("/{webhook_id}/enable", response_model=WebhookRead, responses={403: {"description": _NOT_A_KEY}})
async def enable_webhook(webhook_id: WebhookId, session: SessionDep, principal: PrincipalDep) -> WebhookRead:
    """Enable a subscription disabled after failing: it resumes after the last batch it delivered."""
    return await service.enable(session, principal=principal, webhook_id=webhook_id)
