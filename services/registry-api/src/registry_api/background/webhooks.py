"""Webhook delivery: each subscription follows the change feed from its own cursor and POSTs signed batches.

A pass claims due subscriptions with `FOR UPDATE SKIP LOCKED` and a lease (`lease_token`, `leased_until`), so any
number of processes share the work and never deliver to one receiver at once; each claimed subscription is served
by its own task with its own timeout, so a slow or dead receiver holds up only itself. A batch is a page of the
feed (`feed.page`, read as the subscription's creator) signed with Standard Webhooks, POSTed to an address the
receiver check has just approved (the host is not resolved again); the cursor moves only on a 2xx, so batches go in
feed order; its `webhook-id` names that very message (`_message_id`), so a receiver that drops repeats by it drops
only what it took before. A failure is retried with exponential backoff; failing for the whole retry window disables
the subscription. Replaying or deleting drops the lease: a batch in flight then moves nothing.
"""

import asyncio
import contextlib
import datetime as dt
import functools
import hashlib
import logging
import time
import uuid
from dataclasses import dataclass, field
from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpx
import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from standardwebhooks.webhooks import Webhook

from registry_api.background.loops import Passes
from registry_api.background.polling import any_set
from registry_api.background.webhook_metrics import BACKLOG_AGE, DELIVERIES, DISABLED, ITEMS, LAG, LAG_ITEMS
from registry_api.changes import feed
from registry_api.changes.feed import ChangesExpired
from registry_api.settings import Settings
from registry_api.webhooks.service import AddressRefused, Network, check_receiver, delivery_principal, parse_networks

log = logging.getLogger(__name__)

_CLAIM = text("""
    WITH due AS (
        SELECT id FROM webhook_subscription
         WHERE disabled_at IS NULL AND next_attempt_at <= now()
           AND (leased_until IS NULL OR leased_until < now())
           AND NOT (id = ANY(CAST(:busy AS bigint[])))
         ORDER BY next_attempt_at, id LIMIT :limit
           FOR UPDATE SKIP LOCKED
    )
    UPDATE webhook_subscription s
       SET leased_until = now() + :lease * interval '1 second', lease_token = :token
      FROM due WHERE s.id = due.id
    RETURNING s.id, s.url, s.secret, s.kinds, s.wilayah, s.scope, s.owner_role, s.cursor, s.replays
""")
# Every update is conditional on the lease: a replay, an enable or a delete in the meantime wins.
_MOVED = text("""
    UPDATE webhook_subscription
       SET cursor = :cursor, attempts = 0, failing_since = NULL, next_attempt_at = now(),
           last_delivered_at = CASE WHEN :delivered THEN now() ELSE last_delivered_at END,
           leased_until = CASE WHEN :keep THEN now() + :lease * interval '1 second' END,
           lease_token = CASE WHEN :keep THEN lease_token END
     WHERE id = :id AND lease_token = :token
    RETURNING id
""")
_FAILED = text("""
    UPDATE webhook_subscription
       SET attempts = attempts + 1, failing_since = coalesce(failing_since, :started),
           next_attempt_at = now() + least(:base * power(2, attempts), :max) * interval '1 second',
           disabled_at = CASE
               WHEN :expired OR now() - coalesce(failing_since, :started) >= :window * interval '1 second' THEN now()
           END,
           leased_until = NULL, lease_token = NULL
     WHERE id = :id AND lease_token = :token
    RETURNING CASE WHEN disabled_at IS NULL THEN next_attempt_at END AS next_retry_at
""")
_LOG = text("""
    INSERT INTO webhook_delivery
        (subscription_id, message_id, attempted_at, status_code, error, items, cursor_from, cursor_to, next_retry_at)
    VALUES (:id, :message_id, :started, :status, :error, :items, :cursor_from, :cursor_to, :next_retry_at)
""")
# A subscription delivers what its creator may read, so it stops when its creator can no longer read: an owner that
# is not a principal of the registry with a key in force (every key revoked or expired, or an `oidc:` subject, whose
# removal at the identity provider nothing here would see) has its subscriptions disabled, each with a line in its
# log. Enabling again needs a key of that principal.
_ORPHANED = text("""
    UPDATE webhook_subscription s
       SET disabled_at = now(), leased_until = NULL, lease_token = NULL
     WHERE s.disabled_at IS NULL
       AND NOT EXISTS (
           SELECT 1 FROM api_key k
            WHERE k.principal_id = CAST(CASE WHEN s.owner ~ '^principal:[0-9]{1,18}$' THEN substr(s.owner, 11) END
                                        AS bigint)
              AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())
       )
    RETURNING s.id, s.cursor, s.replays, s.owner LIKE 'principal:%' AS principal
""")
OWNER_GONE = "disabled: the principal that created it has no key in force (revoked or expired)"
OWNER_NO_KEY = (
    "disabled: it was created with a bearer token of the identity provider, which has no key in force to check; "
    "subscribe again with an API key"
)
_PRUNE = text("DELETE FROM webhook_delivery WHERE attempted_at < now() - :retention * interval '1 second'")
# Each subscription, and for an enabled one how long the oldest change it is owed has waited: the first row after its
# cursor that a page would send it (`feed.page`'s filters: its kinds, its wilayah, its creator's scope), none when it
# is caught up. One probe of change_log's key (txid, id) each, which stops at the first row it is owed: a cursor lags
# the rows a subscription skips by one pass at most (a pass with nothing to send moves it to the feed's horizon).
_BACKLOG = text("""
    SELECT s.id, s.disabled_at IS NOT NULL AS disabled,
           coalesce(greatest(extract(epoch FROM statement_timestamp() - owed.changed_at), 0), 0)::float8 AS age_s
      FROM webhook_subscription s
      LEFT JOIN LATERAL (
          SELECT c.changed_at FROM change_log c
           WHERE s.disabled_at IS NULL
             AND (c.txid, c.id) > (CAST(split_part(s.cursor, '-', 1) AS bigint),
                                   CAST(split_part(s.cursor, '-', 2) AS bigint))
             AND (s.kinds IS NULL OR c.kind = ANY(s.kinds))
             AND (s.wilayah IS NULL OR c.desa_code = s.wilayah OR c.desa_code LIKE s.wilayah || '.%')
             AND (s.scope = '00' OR s.scope LIKE 'kampung:%'
                  OR c.desa_code = s.scope OR c.desa_code LIKE s.scope || '.%')
             AND (s.scope NOT LIKE 'kampung:%' OR c.kampung_id = CAST(substr(s.scope, 9) AS bigint))
           ORDER BY c.txid, c.id LIMIT 1
      ) owed ON true
""")
PRUNE_EVERY_S = 300.0


@dataclass(frozen=True)
class _Claim:
    id: int
    url: str
    secret: str
    kinds: list[str] | None
    wilayah: str | None
    scope: str
    owner_role: str
    cursor: str
    replays: int
    token: str


@dataclass(frozen=True)
class _Batch:
    """A page of the feed read after `cursor`, and the `webhook-id` it is sent and logged with."""

    cursor: str
    page: feed.Page
    message_id: str


def _batch(webhook_id: int, cursor: str, page: feed.Page, *, replays: int) -> _Batch:
    return _Batch(cursor, page, _message_id(webhook_id, cursor, page.next_cursor, replays=replays))


def _nothing(webhook_id: int, cursor: str, *, replays: int) -> _Batch:
    """What an attempt that sent nothing (the subscription disabled) is logged as: an empty page at `cursor`."""
    return _batch(webhook_id, cursor, feed.Page(items=[], next_cursor=cursor), replays=replays)


@dataclass(frozen=True)
class _Attempt:
    outcome: str
    status: int | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == "delivered"


@dataclass
class WebhookDispatcher:
    sessionmaker: async_sessionmaker[AsyncSession]
    http: httpx.AsyncClient
    allowed: list[Network]
    batch: int = 100
    timeout_s: float = 10.0
    concurrency: int = 16
    lease_s: float = 60.0
    poll_s: float = 1.0
    retry_base_s: float = 5.0
    retry_max_s: float = 3600.0
    retry_window_s: float = 86_400.0
    log_retention_s: float = 30 * 86_400.0
    _busy: dict[int, "asyncio.Task[None]"] = field(default_factory=dict, init=False)
    _freed: asyncio.Event = field(default_factory=asyncio.Event, init=False)
    _next_prune: float = field(default=0.0, init=False)
    _exported: set[str] = field(default_factory=set, init=False)

    async def run(self, stop: asyncio.Event) -> None:
        """Claim due subscriptions and serve each in its own task until `stop` is set."""
        log.info("webhook dispatcher started")
        passes = Passes("webhook_dispatcher", log)
        try:
            while not stop.is_set():
                with passes.one():  # a failed pass is retried (`background.loops`)
                    await self.claim_and_start()
                    await self._housekeeping()
                if await passes.back_off(stop):
                    continue
                self._freed.clear()
                await any_set(stop, self._freed, timeout_s=self.poll_s)
        finally:  # stopped, or cancelled for taking too long to stop
            for task in self._busy.values():
                task.cancel()  # its lease runs out and another process takes the subscription
            await asyncio.gather(*self._busy.values(), return_exceptions=True)
        log.info("webhook dispatcher stopped")

    async def claim_and_start(self) -> int:
        """Claim up to the free concurrency and start serving each claim; returns how many were claimed."""
        free = self.concurrency - len(self._busy)
        if free <= 0:
            return 0
        token = uuid.uuid4().hex
        async with self.sessionmaker() as session, session.begin():
            for gone in (await session.execute(_ORPHANED)).all():
                reason = OWNER_GONE if gone.principal else OWNER_NO_KEY
                DELIVERIES.labels(outcome="owner_gone").inc()
                log.warning("webhook %d %s", gone.id, reason)
                attempt = _Attempt("owner_gone", error=reason)
                nothing = _nothing(gone.id, gone.cursor, replays=gone.replays)
                await _log(session, gone.id, nothing, dt.datetime.now(dt.UTC), attempt)
            rows = (
                await session.execute(
                    _CLAIM, {"busy": list(self._busy), "limit": free, "lease": self.lease_s, "token": token}
                )
            ).all()
        for row in rows:
            claim = _Claim(
                id=row.id,
                url=row.url,
                secret=row.secret,
                kinds=row.kinds,
                wilayah=row.wilayah,
                scope=row.scope,
                owner_role=row.owner_role,
                cursor=row.cursor,
                replays=row.replays,
                token=token,
            )
            task = asyncio.create_task(self._serve(claim), name=f"webhook-{claim.id}")
            self._busy[claim.id] = task
            task.add_done_callback(functools.partial(self._release, claim.id))
        return len(rows)

    def _release(self, webhook_id: int, _: "asyncio.Task[None]") -> None:
        self._busy.pop(webhook_id, None)
        self._freed.set()

    async def _serve(self, claim: _Claim) -> None:
        """Deliver batch after batch while full ones come and each is answered with a 2xx."""
        cursor = claim.cursor
        try:
            while True:
                started = dt.datetime.now(dt.UTC)
                try:
                    page = await self._page(claim, cursor)
                except ChangesExpired as exc:
                    nothing = _nothing(claim.id, cursor, replays=claim.replays)
                    await self._failed(claim, nothing, started, _Attempt("expired", error=str(exc)))
                    return
                if not page.items:
                    await self._moved(claim, page.next_cursor, delivered=False, keep=False)
                    return
                batch = _batch(claim.id, cursor, page, replays=claim.replays)
                attempt = await self._post(claim, batch, started)
                if not attempt.ok:
                    await self._failed(claim, batch, started, attempt)
                    return
                full = len(page.items) == self.batch
                if not await self._delivered(claim, batch, started, attempt, keep=full) or not full:
                    return
                cursor = page.next_cursor
        except Exception:
            log.exception("webhook %d: delivery failed", claim.id)

    async def _page(self, claim: _Claim, cursor: str) -> feed.Page:
        principal = delivery_principal(webhook_id=claim.id, role=claim.owner_role, scope=claim.scope)
        async with self.sessionmaker() as session:
            return await feed.page(
                session, principal=principal, after=cursor, limit=self.batch, kinds=claim.kinds, wilayah=claim.wilayah
            )

    async def _post(self, claim: _Claim, batch: _Batch, started: dt.datetime) -> _Attempt:
        body = batch.page.json().decode()
        headers = {
            "content-type": "application/json",
            "webhook-id": batch.message_id,
            "webhook-timestamp": str(int(started.timestamp())),
            "webhook-signature": Webhook(claim.secret).sign(batch.message_id, started, body),
        }
        try:
            addresses = await check_receiver(claim.url, allowed=self.allowed)  # DNS may have changed since then
            response = await self._send(claim.url, addresses, body, headers)
        except AddressRefused as exc:
            return _Attempt("refused", error=str(exc))
        except httpx.TimeoutException as exc:
            return _Attempt("timeout", error=f"no answer within {self.timeout_s:g} s ({type(exc).__name__})")
        except httpx.HTTPError as exc:
            return _Attempt("unreachable", error=f"{type(exc).__name__}: {exc}"[:2000])
        if 200 <= response.status_code < 300:
            return _Attempt("delivered", status=response.status_code)
        return _Attempt("http_error", status=response.status_code, error=f"answered {response.status_code}")

    async def _send(self, url: str, addresses: list[str], body: str, headers: dict[str, str]) -> httpx.Response:
        """POST to the URL's host at an address the check approved (the next one when one refuses the connection),
        never resolving the host again. The `Host` header and TLS keep the URL's host: SNI and the certificate are
        checked against the name. Each request has a connection of its own (`Connection: close`): the pool knows a
        connection by address, and one kept open would carry another host's request without checking its
        certificate."""
        target = httpx.URL(url)
        headers = {**headers, "host": target.netloc.decode("ascii"), "connection": "close"}
        extensions = {"sni_hostname": target.raw_host.decode("ascii")} if target.scheme == "https" else {}

        async def post(address: str) -> httpx.Response:
            return await self.http.post(
                target.copy_with(host=address),
                content=body,
                headers=headers,
                timeout=self.timeout_s,
                extensions=extensions,
            )

        for address in addresses[:-1]:
            with contextlib.suppress(httpx.ConnectError):
                return await post(address)
        return await post(addresses[-1])

    async def _moved(self, claim: _Claim, cursor: str, *, delivered: bool, keep: bool) -> bool:
        async with self.sessionmaker() as session, session.begin():
            return await _move(session, claim, cursor, delivered=delivered, keep=keep, lease_s=self.lease_s)

    async def _delivered(
        self, claim: _Claim, batch: _Batch, started: dt.datetime, attempt: _Attempt, *, keep: bool
    ) -> bool:
        page = batch.page
        DELIVERIES.labels(outcome=attempt.outcome).inc()
        ITEMS.inc(len(page.items))
        now = dt.datetime.now(dt.UTC)
        lags = [
            (now - dt.datetime.fromisoformat(orjson.loads(item)["changed_at"])).total_seconds() for item in page.items
        ]
        for lag in lags:
            LAG_ITEMS.observe(lag)
        LAG.labels(subscription=str(claim.id)).set(lags[-1])
        async with self.sessionmaker() as session, session.begin():
            if not await _move(session, claim, page.next_cursor, delivered=True, keep=keep, lease_s=self.lease_s):
                return False
            await _log(session, claim.id, batch, started, attempt)
        return True

    async def _failed(self, claim: _Claim, batch: _Batch, started: dt.datetime, attempt: _Attempt) -> None:
        DELIVERIES.labels(outcome=attempt.outcome).inc()
        async with self.sessionmaker() as session, session.begin():
            row = (
                await session.execute(
                    _FAILED,
                    {
                        "id": claim.id,
                        "token": claim.token,
                        "started": started,
                        "base": self.retry_base_s,
                        "max": self.retry_max_s,
                        "window": self.retry_window_s,
                        "expired": attempt.outcome == "expired",
                    },
                )
            ).first()
            if row is None:
                return
            if row.next_retry_at is None:
                log.warning("webhook %d disabled after failing: %s", claim.id, attempt.error)
            await _log(session, claim.id, batch, started, attempt, next_retry_at=row.next_retry_at)

    async def _housekeeping(self) -> None:
        await self.export_backlog()
        now = time.monotonic()
        if now >= self._next_prune:
            self._next_prune = now + PRUNE_EVERY_S
            async with self.sessionmaker() as session, session.begin():
                await session.execute(_PRUNE, {"retention": self.log_retention_s})

    async def export_backlog(self) -> None:
        """Set, from the database, each enabled subscription's backlog age and the count of disabled ones (each pass):
        unlike the lag of a delivery, these grow while a receiver is down and nothing is delivered."""
        async with self.sessionmaker() as session:
            rows = (await session.execute(_BACKLOG)).all()
        enabled = {str(row.id): float(row.age_s) for row in rows if not row.disabled}
        for gone in self._exported - enabled.keys():  # disabled or deleted since the last pass
            for gauge in (BACKLOG_AGE, LAG):
                with contextlib.suppress(KeyError):
                    gauge.remove(gone)
        for subscription, age in enabled.items():
            BACKLOG_AGE.labels(subscription=subscription).set(age)
        self._exported = set(enabled)
        DISABLED.set(sum(1 for row in rows if row.disabled))


def _message_id(webhook_id: int, cursor_from: str, cursor_to: str, *, replays: int) -> str:
    """`msg_<subscription>_<hash>` (56 characters at most): the hash covers the batch's first and last cursor
    (`cursor_from`, the page's `next_cursor`) and how many times the subscription was replayed, so one id is one
    message, whose body never changes. A retry of the same page keeps it, so a receiver drops the repeat of a batch
    it took; a retry that read a different page (changes came in meanwhile) and every batch of a replay have ids the
    receiver has not seen, so one dropping repeats by id still takes every change. A page that is not full ends at
    the feed's horizon, which any transaction moves on: its retry mostly has another end, so another id, and a
    receiver takes its changes again (at least once, never lost)."""
    digest = hashlib.sha256(f"{cursor_from} {cursor_to} {replays}".encode()).hexdigest()[:32]
    return f"msg_{webhook_id}_{digest}"


async def _log(
    session: AsyncSession,
    webhook_id: int,
    batch: _Batch,
    started: dt.datetime,
    attempt: _Attempt,
    *,
    next_retry_at: dt.datetime | None = None,
) -> None:
    """One line of a subscription's deliveries log: an attempt at `batch`, under the `webhook-id` it was sent with."""
    await session.execute(
        _LOG,
        {
            "id": webhook_id,
            "message_id": batch.message_id,
            "started": started,
            "status": attempt.status,
            "error": attempt.error,
            "items": len(batch.page.items),
            "cursor_from": batch.cursor,
            "cursor_to": batch.page.next_cursor,
            "next_retry_at": next_retry_at,
        },
    )


async def _move(
    session: AsyncSession, claim: _Claim, cursor: str, *, delivered: bool, keep: bool, lease_s: float
) -> bool:
    params = {"id": claim.id, "token": claim.token, "cursor": cursor, "delivered": delivered, "keep": keep}
    row = (await session.execute(_MOVED, {**params, "lease": lease_s})).first()
    return row is not None


def create_dispatcher(
    settings: Settings, *, sessionmaker: async_sessionmaker[AsyncSession], http: httpx.AsyncClient
) -> WebhookDispatcher:
    return WebhookDispatcher(
        sessionmaker=sessionmaker,
        http=http,
        allowed=parse_networks(settings.webhook_allowed_networks),
        batch=settings.webhook_batch,
        timeout_s=settings.webhook_timeout_s,
        concurrency=settings.webhook_concurrency,
        lease_s=settings.webhook_lease_s,
        poll_s=settings.webhook_poll_s,
        retry_base_s=settings.webhook_retry_base_s,
        retry_max_s=settings.webhook_retry_max_s,
        retry_window_s=settings.webhook_retry_window_s,
        log_retention_s=settings.webhook_log_retention_days * 86_400.0,
    )


def webhook_http(ca_file: str | None = None) -> httpx.AsyncClient:
    """The client deliveries go out with: no redirects (a redirect could lead past the allow-list), no proxies from
    the environment, no cookies (kept by address, they would pass from one receiver to another at the same one).
    Receivers' certificates are checked against the public authorities and, with `ca_file`, those of that PEM file
    too (a ministry's own authority)."""
    no_cookies = CookieJar(DefaultCookiePolicy(allowed_domains=[]))
    verify = httpx.create_ssl_context(trust_env=False)
    if ca_file:
        verify.load_verify_locations(cafile=ca_file)
    return httpx.AsyncClient(follow_redirects=False, trust_env=False, cookies=no_cookies, verify=verify)
