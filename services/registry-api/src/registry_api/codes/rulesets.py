"""The classifier's rule sets, as the registry serves them: fetched over HTTP, kept for a short while."""

import asyncio
import time

import httpx
from pydantic import TypeAdapter, ValidationError

from kampungkb_shared.classification import RuleSetInfo
from kampungkb_shared.errors import ServiceUnavailable

CACHE_S = 60.0
"""How long a fetched list is served before it is fetched again."""
TIMEOUT_S = 2.0
RETRY_AFTER_S = 5

_LIST = TypeAdapter(list[RuleSetInfo])


class RulesetCatalogue:
    """The rule set list of the classifier at `http`'s base URL; the last one fetched is served while the classifier
    is down, and a 503 only when nothing was ever fetched."""

    def __init__(self, http: httpx.AsyncClient, *, cache_s: float = CACHE_S) -> None:
        self._http = http
        self._cache_s = cache_s
        self._cached: list[RuleSetInfo] | None = None
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()

    def _fresh(self) -> bool:
        return self._cached is not None and time.monotonic() - self._fetched_at < self._cache_s

    async def rulesets(self) -> list[RuleSetInfo]:
        if self._fresh():
            assert self._cached is not None
            return self._cached
        async with self._lock:  # one fetch for the requests that found the cache stale together
            if not self._fresh():
                await self._fetch()
        assert self._cached is not None
        return self._cached

    async def _fetch(self) -> None:
        try:
            response = await self._http.get("/v1/rulesets", timeout=TIMEOUT_S)
            response.raise_for_status()
            self._cached = _LIST.validate_json(response.content)
            self._fetched_at = time.monotonic()
        except (httpx.HTTPError, ValidationError) as exc:
            if self._cached is None:
                raise ServiceUnavailable(
                    f"the classifier did not give its rule sets ({type(exc).__name__}) and none are cached",
                    headers={"Retry-After": str(RETRY_AFTER_S)},
                ) from exc
