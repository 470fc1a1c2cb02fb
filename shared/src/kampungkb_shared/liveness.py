"""A worker's liveness: its event loop's heartbeat, and a `/healthz` beside its metrics that fails once the loop stops.

The workers (`registry-api worker`, report-worker) serve their Prometheus metrics from a thread of their own, which
answers whatever the event loop does: a loop blocked by synchronous code, or hung in a call that never yields, would
still pass a probe of `/metrics`. `Heartbeat.run` stamps the time from a task of the loop every `interval_s`, and
`/healthz` answers 503 once no stamp has come for `stale_after_s`: the kubelet's liveness probe then restarts the pod.
Everything else on the port is the metrics app. Without prometheus_client: each service passes its own metrics app,
and a gauge of its own to stamp (`on_tick`).
"""

import asyncio
import contextlib
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from socketserver import ThreadingMixIn
from typing import Any, TypeVar
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

STALE_AFTER_S = 60.0
"""How long the loop may go without a tick before `/healthz` fails."""
TICK_S = 1.0

LIVENESS_PATH = "/healthz"

T = TypeVar("T")
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class Heartbeat:
    """When the event loop last ran a tick: `run` is a task of the loop, read from the metrics thread."""

    def __init__(
        self,
        *,
        stale_after_s: float = STALE_AFTER_S,
        interval_s: float = TICK_S,
        on_tick: Callable[[], None] | None = None,
    ) -> None:
        self.stale_after_s = stale_after_s
        self.interval_s = interval_s
        self._on_tick = on_tick
        self._last = time.monotonic()  # a process starting counts as a tick: the loop gets `stale_after_s` to begin

    def tick(self) -> None:
        self._last = time.monotonic()
        if self._on_tick is not None:
            self._on_tick()

    def age_s(self) -> float:
        """Seconds since the last tick."""
        return time.monotonic() - self._last

    def alive(self) -> bool:
        return self.age_s() < self.stale_after_s

    async def run(self) -> None:
        """Tick every `interval_s`, until cancelled."""
        while True:
            self.tick()
            await asyncio.sleep(self.interval_s)

    async def beating(self, work: Awaitable[T]) -> T:
        """`work`, with this heartbeat ticking beside it on the same loop."""
        ticking = asyncio.create_task(self.run(), name="heartbeat")
        try:
            return await work
        finally:
            ticking.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticking


def with_liveness(heartbeat: Heartbeat, app: WsgiApp, path: str = LIVENESS_PATH) -> WsgiApp:
    """`app` (the metrics), with `path` answering 200 while the loop ticks and 503 once it has not for too long."""

    def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != path:
            return app(environ, start_response)
        age = heartbeat.age_s()
        if heartbeat.alive():
            status, body = "200 OK", f"ok: the event loop ticked {age:.1f} s ago\n"
        else:
            status, body = "503 Service Unavailable", f"the event loop has not ticked for {age:.0f} s\n"
        encoded = body.encode()
        start_response(status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(encoded)))])
        return [encoded]

    return serve


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """No line per probe or scrape."""


def serve_in_thread(app: WsgiApp, port: int, addr: str = "0.0.0.0") -> WSGIServer:
    """Serve `app` on `port` from a daemon thread; `shutdown()` the server returned to stop it."""
    server = make_server(addr, port, app, server_class=_ThreadingServer, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name=f"metrics:{port}", daemon=True).start()
    return server


@contextlib.contextmanager
def liveness_served(app: WsgiApp, port: int, *, on_tick: Callable[[], None] | None = None) -> Iterator[Heartbeat]:
    """`app` (the metrics) and `/healthz` served on `port` from a thread until the block ends; the heartbeat yielded is
    to run on the event loop (`Heartbeat.beating`)."""
    heartbeat = Heartbeat(on_tick=on_tick)
    server = serve_in_thread(with_liveness(heartbeat, app), port)
    try:
        yield heartbeat
    finally:
        server.shutdown()
        server.server_close()
