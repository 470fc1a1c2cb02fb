"""The classifier over HTTP: batch calls with a short timeout, retries with backoff, and a hard total budget."""

import asyncio
import logging
import time
from typing import Any

import httpx
import orjson
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential, wait_random

from kampungkb_shared.observability import REQUEST_ID_HEADER, request_id
from registry_api.settings import Settings

log = logging.getLogger(__name__)

NDJSON = "application/x-ndjson"


class ClassifierUnavailable(Exception):
    """The classifier did not answer usefully within the budget; the work stays in the outbox."""


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code >= 500
    return isinstance(exc, httpx.TransportError)


def create_classifier(http: httpx.AsyncClient, settings: Settings) -> "ClassifierClient":
    return ClassifierClient(
        http,
        attempts=settings.classifier_attempts,
        timeout_s=settings.classifier_timeout_s,
        breaker_s=settings.classifier_breaker_s,
        budget_s=settings.classifier_budget_s,
    )


class ClassifierClient:
    """Wraps the `httpx.AsyncClient` the lifespan creates.

    After a failure, calls made with `use_breaker=True` (the write path) fail at once for `breaker_s`, so that
    writes during an outage do not each spend the retry budget; the relay calls regardless and so notices the
    classifier coming back.
    """

    def __init__(
        self, http: httpx.AsyncClient, *, attempts: int, timeout_s: float, breaker_s: float, budget_s: float = 1.5
    ) -> None:
        self.http = http
        self.budget_s = budget_s
        """A read's budget for the classifier (an explanation derived again), retries included."""
        self.attempts = attempts
        self.timeout_s = timeout_s
        self.breaker_s = breaker_s
        self._open_until = 0.0
        self._contents: dict[str, str] = {}
        """Rule set content (JSON text) by hash: what a hash names never changes."""
        self._current: dict[str, str] = {}
        """Rule set -> the hash of the content last fetched."""

    @property
    def breaker_open(self) -> bool:
        return time.monotonic() < self._open_until

    async def classify_lines(
        self, body: bytes, *, budget_s: float, use_breaker: bool = False, attempt_timeout_s: float | None = None
    ) -> list[bytes]:
        """`POST /v1/classify/batch` asking for NDJSON: the answer's lines, one per result or refused item, unparsed.

        A caller sends thousands of snapshots and hands the lines to PostgreSQL as they are: decoding them into
        Python objects would cost more than the classification itself. Each attempt waits `attempt_timeout_s`
        (default: the client's short per-attempt timeout, for the write path). Raises `ClassifierUnavailable` when every
        attempt failed, the budget ran out, or the answer is not NDJSON.
        """
        if use_breaker and self.breaker_open:
            raise ClassifierUnavailable("classifier failed recently; not retried until the breaker closes")
        headers = {"Content-Type": "application/json", "Accept": NDJSON}
        if rid := request_id.get():
            headers[REQUEST_ID_HEADER] = rid
        deadline = time.monotonic() + budget_s
        try:
            async with asyncio.timeout(budget_s):
                response = await self._post_with_retries(
                    "/v1/classify/batch", body, headers, deadline, attempt_timeout_s or self.timeout_s
                )
        except (TimeoutError, httpx.HTTPError) as exc:
            self._open_until = time.monotonic() + self.breaker_s
            log.warning("classifier unavailable: %s", _describe(exc))
            raise ClassifierUnavailable(_describe(exc)) from exc
        self._open_until = 0.0
        if not response.headers.get("content-type", "").startswith(NDJSON):
            log.error(
                "classifier answered %s instead of NDJSON: %.300s",
                response.headers.get("content-type"),
                response.content,
            )
            raise ClassifierUnavailable("the classifier's answer did not match the contract")
        return [line for line in response.content.split(b"\n") if line]

    async def explain(self, body: bytes, *, budget_s: float) -> list[dict[str, Any]]:
        """`POST /v1/explain`: the results (with their explanation) of snapshots scored under a rule set's content.

        Raises `ClassifierUnavailable` when every attempt failed, the budget ran out, or the answer is not the batch's.
        """
        headers = {"Content-Type": "application/json"}
        if rid := request_id.get():
            headers[REQUEST_ID_HEADER] = rid
        deadline = time.monotonic() + budget_s
        try:
            async with asyncio.timeout(budget_s):
                response = await self._post_with_retries("/v1/explain", body, headers, deadline, self.timeout_s)
            results = orjson.loads(response.content)["results"]
        except (TimeoutError, httpx.HTTPError, orjson.JSONDecodeError, KeyError, TypeError) as exc:
            log.warning("classifier did not explain: %s", _describe(exc))
            raise ClassifierUnavailable(_describe(exc)) from exc
        assert isinstance(results, list)
        return results

    def known_content(self, ruleset_hash: str) -> str | None:
        """The content of a rule set hash, if this process has seen it."""
        return self._contents.get(ruleset_hash)

    def remember_content(self, ruleset_hash: str, content: str) -> None:
        self._contents[ruleset_hash] = content

    def knows(self, ruleset: str) -> bool:
        """Whether this process has fetched the rule set's content (some version of it)."""
        return ruleset in self._current

    async def fetch_content(self, ruleset: str, *, budget_s: float) -> str:
        """The content of `ruleset` as the classifier serves it now (JSON text, `hash` included), remembered by its
        hash; returns the hash. Raises `ClassifierUnavailable` when it cannot be fetched."""
        try:
            async with asyncio.timeout(budget_s):
                response = await self.http.get(f"/v1/rulesets/{ruleset}", timeout=budget_s)
                response.raise_for_status()
            content = orjson.loads(response.content)
            ruleset_hash = content["hash"]
        except (TimeoutError, httpx.HTTPError, orjson.JSONDecodeError, KeyError, TypeError) as exc:
            raise ClassifierUnavailable(f"rule set {ruleset} not fetched: {_describe(exc)}") from exc
        self._contents[ruleset_hash] = orjson.dumps(content).decode()
        self._current[ruleset] = ruleset_hash
        return str(ruleset_hash)

    async def current_content(self, ruleset: str, ruleset_hash: str, *, budget_s: float) -> str:
        """The content of `ruleset` (JSON text) under `ruleset_hash`: remembered, else as the classifier serves it now.

        Raises `ClassifierUnavailable` when it cannot be fetched or the classifier now has another version of it.
        """
        if (known := self._contents.get(ruleset_hash)) is None:
            served = await self.fetch_content(ruleset, budget_s=budget_s)
            if served != ruleset_hash:
                raise ClassifierUnavailable(f"the classifier serves {ruleset} as {served}, not {ruleset_hash}")
            known = self._contents[ruleset_hash]
        return known

    async def _post_with_retries(
        self, path: str, body: bytes, headers: dict[str, str], deadline: float, attempt_timeout_s: float
    ) -> httpx.Response:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential(multiplier=0.05, max=0.5) + wait_random(0, 0.05),
            retry=retry_if_exception(_retryable),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                timeout = max(0.05, min(attempt_timeout_s, deadline - time.monotonic()))
                response = await self.http.post(path, content=body, headers=headers, timeout=timeout)
                response.raise_for_status()
                return response
        raise AssertionError("unreachable: tenacity reraises")  # pragma: no cover


def _describe(exc: BaseException) -> str:
    if isinstance(exc, httpx.HTTPStatusError):
        return f"HTTP {exc.response.status_code} from the classifier: {exc.response.text[:300]}"
    if isinstance(exc, TimeoutError):
        return "no answer within the budget"
    return f"{type(exc).__name__}: {exc}"
