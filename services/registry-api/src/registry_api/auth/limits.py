"""Rate limits in Redis (the `limits` library, fixed windows): per principal and route group, and per client
address for calls without a key. Over the limit: 429 with `Retry-After` and the IETF draft's `RateLimit-*` headers.

Redis down never fails a request: the limit is not applied (fail open), the failure is logged, and Redis is left
alone for a few seconds rather than paying a connection timeout on every request.
"""

import logging
import math
import time
from collections.abc import Mapping

from limits import RateLimitItem, parse
from limits.aio.storage import RedisStorage
from limits.aio.strategies import FixedWindowRateLimiter
from prometheus_client import Counter

from kampungkb_shared.errors import TooManyRequests

log = logging.getLogger(__name__)

REFUSED = Counter("registry_rate_limited_total", "Requests refused with 429, by route group", ["group"])
UNAVAILABLE = Counter("registry_rate_limit_unavailable_total", "Requests let through because Redis failed")

GROUPS = ("read", "write", "import", "keys", "anonymous", "enrol")
"""Route groups with a limit each (`REGISTRY_RATE_LIMITS`); `anonymous` and `enrol` count per client address."""


class RateLimiter:
    """One fixed window per (group, caller); `check` raises `TooManyRequests` past the group's limit."""

    def __init__(
        self, redis_url: str, *, limits: Mapping[str, str], prefix: str = "kkb-rate", pause_s: float = 5.0
    ) -> None:
        self._items: dict[str, RateLimitItem] = {group: parse(limit) for group, limit in limits.items()}
        storage_url = redis_url.replace("redis://", "async+redis://", 1).replace("rediss://", "async+rediss://", 1)
        self._storage = RedisStorage(
            storage_url,
            implementation="redispy",
            key_prefix=prefix,
            socket_timeout=0.5,
            socket_connect_timeout=0.5,
        )
        self._limiter = FixedWindowRateLimiter(self._storage)
        self._pause_s = pause_s
        self._paused_until = 0.0

    async def check(self, group: str, caller: str) -> None:
        """Count one request of `caller` in `group`; 429 past the limit. Fails open when Redis cannot be reached."""
        item = self._items.get(group)
        if item is None:
            return
        if time.monotonic() < self._paused_until:
            UNAVAILABLE.inc()
            return
        try:
            if await self._limiter.hit(item, group, caller):
                return
            stats = await self._limiter.get_window_stats(item, group, caller)
        except Exception as exc:  # whatever the client raises for an outage: requests go on without limits
            self._paused_until = time.monotonic() + self._pause_s
            UNAVAILABLE.inc()
            log.warning("rate limits not applied for %.0f s: Redis failed: %s", self._pause_s, exc)
            return
        REFUSED.labels(group).inc()
        reset = max(1, math.ceil(stats.reset_time - time.time()))
        headers = {
            "Retry-After": str(reset),
            "RateLimit-Limit": str(item.amount),
            "RateLimit-Remaining": str(stats.remaining),
            "RateLimit-Reset": str(reset),
            "RateLimit-Policy": f"{item.amount};w={item.get_expiry()}",
        }
        raise TooManyRequests(f"over the limit of {item} for {group} requests; retry in {reset} s", headers=headers)
