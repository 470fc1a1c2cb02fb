"""What every background loop (the outbox relay, the import runners, the webhook dispatcher) shares: how a failed pass
is counted, logged and waited out, and how the loops are stopped.

A failed pass is counted in `registry_background_pass_failures_total{loop}`. While the database is unreachable
(`kampungkb_shared.unreachable.database_unreachable`), the loop waits before its next pass 1 s, then twice as long
each time up to 30 s, and logs the first failure with its traceback, each later one as a line, and one line once a
pass succeeds again: an outage of an hour is some 120 lines a loop, not a traceback every half second. Any other
failure is logged with its traceback and the loop goes on at its usual pace.
"""

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from prometheus_client import Counter

from kampungkb_shared.unreachable import database_unreachable
from registry_api.background.polling import any_set

log = logging.getLogger(__name__)

PASS_FAILURES = Counter(
    "registry_background_pass_failures_total", "Passes of a background loop that failed (retried)", ["loop"]
)
FIRST_BACKOFF_S = 1.0
MAX_BACKOFF_S = 30.0
STOP_WITHIN_S = 5.0
"""How long a loop has to finish its pass once told to stop, before it is cancelled (an import cut short is rolled
back and handed back, its attempt not counted: `background.imports`)."""


@dataclass
class Passes:
    """The passes of one loop (`loop`: its name in the metric and the log)."""

    loop: str
    log: logging.Logger
    unreachable: int = field(default=0, init=False)
    """Passes failed in a row with the database unreachable."""

    def __post_init__(self) -> None:
        PASS_FAILURES.labels(loop=self.loop)  # at 0 from the start, so that an alert's `rate` sees the first one

    @contextlib.contextmanager
    def one(self) -> Iterator[None]:
        """One pass: an exception it raises is counted, logged and swallowed (a failure must not end the loop)."""
        try:
            yield
        except Exception as exc:
            self._failed(exc)
        else:
            if self.unreachable:
                self.log.warning(
                    "%s: the database answers again, after %d failed passes",
                    self.loop,
                    self.unreachable,
                    extra={"loop": self.loop},
                )
                self.unreachable = 0

    @property
    def backoff_s(self) -> float:
        """How long to wait before the next pass: 0 unless the database is unreachable."""
        if not self.unreachable:
            return 0.0
        return float(min(FIRST_BACKOFF_S * 2 ** (self.unreachable - 1), MAX_BACKOFF_S))

    async def back_off(self, stop: asyncio.Event) -> bool:
        """While the database is unreachable, wait `backoff_s` (or until `stop`) and return True; else False."""
        if not self.unreachable:
            return False
        await any_set(stop, timeout_s=self.backoff_s)
        return True

    def _failed(self, exc: Exception) -> None:
        PASS_FAILURES.labels(loop=self.loop).inc()
        if not database_unreachable(exc):
            self.log.exception("%s pass failed", self.loop, extra={"loop": self.loop})
            return
        self.unreachable += 1
        extra = {"loop": self.loop, "retry_in_s": self.backoff_s}
        if self.unreachable == 1:
            self.log.exception(
                "%s pass failed: the database is unreachable; next pass in %g s, then less often until it answers",
                self.loop,
                self.backoff_s,
                extra=extra,
            )
        else:
            first_line = (str(exc).splitlines() or [""])[0][:300]
            self.log.warning(
                "%s pass failed: the database is still unreachable (%s: %s); next pass in %g s",
                self.loop,
                type(exc).__name__,
                first_line,
                self.backoff_s,
                extra=extra,
            )


async def stop_loops(tasks: Iterable["asyncio.Task[None] | None"], *, within_s: float = STOP_WITHIN_S) -> None:
    """Wait for the loops' tasks (their `stop` set) to finish, at most `within_s` all together; then cancel those
    still running and wait for them to clean up (an import hands its job back)."""
    running = {task for task in tasks if task is not None}
    if not running:
        return
    _, late = await asyncio.wait(running, timeout=within_s)
    for task in late:
        log.warning("%s still running %g s after the stop: cancelled", task.get_name(), within_s)
        task.cancel()
    await asyncio.gather(*late, return_exceptions=True)
    for task in running:
        if not task.cancelled() and (error := task.exception()) is not None:
            log.error("%s ended with an error", task.get_name(), exc_info=error)
