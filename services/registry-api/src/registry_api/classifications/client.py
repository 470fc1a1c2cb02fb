"""The classifier over HTTP: batch calls with a short timeout, retries with backoff, and a hard total budget.

The calls go through an `aiohttp.ClientSession` rather than httpx: every write makes one, and aiohttp's client costs
the registry some 0.6 ms of CPU per call where httpx's cost 1.4 ms (the same one-snapshot batch, measured side by
side). httpx stays for the rest of the registry's outgoing calls, which are rare.
"""

import asyncio
import datetime as dt
import logging
import time
import weakref
from collections.abc import Iterable, Sequence
from typing import Any

import aiohttp
import orjson
from prometheus_client import Gauge
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential, wait_random

from kampungkb_shared.observability import REQUEST_ID_HEADER, request_id
from kampungkb_shared.periods import format_period
from kampungkb_shared.result_rows import CSV, HEADER
from registry_api.settings import Settings

log = logging.getLogger(__name__)

NDJSON = "application/x-ndjson"

BREAKER_OPEN = Gauge(
    "registry_classifier_breaker_open",
    "1 while the process's classifier breaker is open (writes leave their classification to the outbox), else 0",
)


class ClassifierUnavailable(Exception):
    """The classifier did not answer usefully within the budget; the work stays in the outbox."""


class ClassifierStatusError(Exception):
    """The classifier answered with an error status."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(f"HTTP {status} from the classifier: {text[:300]}")
        self.status = status


_UNAVAILABLE = (TimeoutError, aiohttp.ClientError, ClassifierStatusError)
_MALFORMED = (orjson.JSONDecodeError, KeyError, TypeError)


def batch_items(items: Iterable[tuple[int, dt.date, str]]) -> str:
    """The `items` of a batch or explain body from (id, period, snapshot as JSON text): the snapshots come as text
    (from PostgreSQL, or dumped once), so the body is assembled, not serialised again."""
    return ",".join(
        f'{{"id":{id_},"period":"{format_period(period)}","snapshot":{snapshot}}}' for id_, period, snapshot in items
    )


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, ClassifierStatusError):
        return exc.status >= 500
    return isinstance(exc, aiohttp.ClientError | TimeoutError)


def classifier_session(classifier_url: str) -> aiohttp.ClientSession:
    """The HTTP session of a process's classifier calls (created in its lifespan, closed at its end)."""
    return aiohttp.ClientSession(base_url=classifier_url.rstrip("/") + "/")


def create_classifier(http: aiohttp.ClientSession, settings: Settings) -> "ClassifierClient":
    return ClassifierClient(
        http,
        attempts=settings.classifier_attempts,
        timeout_s=settings.classifier_timeout_s,
        breaker_s=settings.classifier_breaker_s,
        budget_s=settings.classifier_budget_s,
    )


class ClassifierClient:
    """Wraps the `aiohttp.ClientSession` the lifespan creates (`classifier_session`).

    After a failure, calls made with `use_breaker=True` (the write path) fail at once for `breaker_s`, so that
    writes during an outage do not each spend the retry budget; the relay calls regardless and so notices the
    classifier coming back.
    """

    def __init__(
        self, http: aiohttp.ClientSession, *, attempts: int, timeout_s: float, breaker_s: float, budget_s: float = 1.5
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
        self._windows: dict[str, int | None] = {}
        """Rule set hash -> its partner window in months (None: partners of all time)."""
        # A process has one client (its lifespan's); the gauge reads its breaker at each scrape.
        client = weakref.ref(self)
        BREAKER_OPEN.set_function(lambda: float(bool((current := client()) and current.breaker_open)))

    @property
    def breaker_open(self) -> bool:
        return time.monotonic() < self._open_until

    async def classify_lines(
        self,
        body: bytes,
        *,
        budget_s: float,
        rows: bool = False,
        use_breaker: bool = False,
        attempt_timeout_s: float | None = None,
    ) -> list[bytes]:
        """`POST /v1/classify/batch`: the answer's lines, one per result or refused item, unparsed: NDJSON, or with
        `rows` (a body asking for results without their explanation) CSV records without the header
        (`kampungkb_shared.result_rows`).

        A caller sends thousands of snapshots and hands the records to PostgreSQL as they are: decoding them into
        Python objects would cost more than the classification itself. Each attempt waits `attempt_timeout_s`
        (default: the client's short per-attempt timeout, for the write path). Raises `ClassifierUnavailable` when every
        attempt failed, the budget ran out, or the answer is not what was asked for.
        """
        if use_breaker and self.breaker_open:
            raise ClassifierUnavailable("classifier failed recently; not retried until the breaker closes")
        media_type = CSV if rows else NDJSON
        headers = _headers(Accept=media_type)
        deadline = time.monotonic() + budget_s
        try:
            async with asyncio.timeout(budget_s):
                content_type, content = await self._post_with_retries(
                    "v1/classify/batch", body, headers, deadline, attempt_timeout_s or self.timeout_s
                )
        except _UNAVAILABLE as exc:
            self._open_until = time.monotonic() + self.breaker_s
            log.warning("classifier unavailable: %s", _describe(exc))
            raise ClassifierUnavailable(_describe(exc)) from exc
        self._open_until = 0.0
        lines = [line for line in content.split(b"\n") if line]
        if not content_type.startswith(media_type) or (rows and (not lines or lines[0] != HEADER)):
            log.error("classifier answered %s instead of %s: %.300s", content_type, media_type, content)
            raise ClassifierUnavailable("the classifier's answer did not match the contract")
        return lines[1:] if rows else lines

    async def explain(self, body: bytes, *, budget_s: float) -> list[dict[str, Any]]:
        """`POST /v1/explain`: the results (with their explanation) of snapshots scored under a rule set's content.

        Raises `ClassifierUnavailable` when every attempt failed, the budget ran out, or the answer is not the batch's.
        """
        deadline = time.monotonic() + budget_s
        try:
            async with asyncio.timeout(budget_s):
                _, content = await self._post_with_retries("v1/explain", body, _headers(), deadline, self.timeout_s)
            results = orjson.loads(content)["results"]
        except (*_UNAVAILABLE, *_MALFORMED) as exc:
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

    def partner_windows(self, rulesets: Sequence[str]) -> list[int]:
        """The distinct partner windows, in months, of those rule sets whose content this process has fetched: a
        rule set that counts partners only over the months ending with the period (its `policies.partners`) scores
        a Kampung KB differently once a partner's last activity falls out of them, with no new data."""
        windows = {self._windows.get(self._current.get(ruleset, "")) for ruleset in rulesets}
        return sorted(window for window in windows if window)

    async def fetch_content(self, ruleset: str, *, budget_s: float) -> str:
        """The content of `ruleset` as the classifier serves it now (JSON text, `hash` included), remembered by its
        hash; returns the hash. Raises `ClassifierUnavailable` when it cannot be fetched."""
        try:
            timeout = aiohttp.ClientTimeout(total=budget_s)
            async with self.http.get(f"v1/rulesets/{ruleset}", timeout=timeout) as response:
                raw = await response.read()
                if response.status >= 400:
                    raise ClassifierStatusError(response.status, raw.decode(errors="replace"))
            content = orjson.loads(raw)
            ruleset_hash = content["hash"]
        except (*_UNAVAILABLE, *_MALFORMED) as exc:
            raise ClassifierUnavailable(f"rule set {ruleset} not fetched: {_describe(exc)}") from exc
        self._contents[ruleset_hash] = orjson.dumps(content).decode()
        self._current[ruleset] = ruleset_hash
        self._windows[ruleset_hash] = _partner_window(content)
        return str(ruleset_hash)

    async def fetch_contents(self, rulesets: Sequence[str], *, budget_s: float) -> None:
        """`fetch_content` of each rule set at once, all within `budget_s`. A failure opens the breaker, as a failed
        batch call does. Raises `ClassifierUnavailable` when any cannot be fetched."""
        try:
            async with asyncio.timeout(budget_s):
                await asyncio.gather(*(self.fetch_content(ruleset, budget_s=budget_s) for ruleset in rulesets))
        except (TimeoutError, ClassifierUnavailable) as exc:
            self._open_until = time.monotonic() + self.breaker_s
            reason = exc if isinstance(exc, ClassifierUnavailable) else ClassifierUnavailable(_describe(exc))
            log.warning("classifier unavailable: %s", reason)
            raise reason from exc

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
    ) -> tuple[str, bytes]:
        """The answer's content type and body."""
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential(multiplier=0.05, max=0.5) + wait_random(0, 0.05),
            retry=retry_if_exception(_retryable),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                timeout = aiohttp.ClientTimeout(total=max(0.05, min(attempt_timeout_s, deadline - time.monotonic())))
                async with self.http.post(path, data=body, headers=headers, timeout=timeout) as response:
                    content = await response.read()
                    if response.status >= 400:
                        raise ClassifierStatusError(response.status, content.decode(errors="replace"))
                    return response.headers.get("Content-Type", ""), content
        raise AssertionError("unreachable: tenacity reraises")  # pragma: no cover


def _partner_window(content: dict[str, Any]) -> int | None:
    """A rule set content's partner window (`policies.partners.window_months`), None for all time or when absent."""
    window = ((content.get("policies") or {}).get("partners") or {}).get("window_months")
    return window if type(window) is int and window > 0 else None


def _headers(**extra: str) -> dict[str, str]:
    """A JSON request's headers, with the request id of the call being served."""
    headers = {"Content-Type": "application/json", **extra}
    if rid := request_id.get():
        headers[REQUEST_ID_HEADER] = rid
    return headers


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ClassifierStatusError):
        return str(exc)
    if isinstance(exc, TimeoutError):
        return "no answer within the budget"
    return f"{type(exc).__name__}: {exc}"
