"""`kampungkb_shared.liveness`: `/healthz` beside the metrics answers from its thread 200 while the event loop ticks,
503 while the loop is blocked, and 200 again once it runs; every other path is the metrics app."""

import asyncio
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from typing import Any

from kampungkb_local.servers import free_port
from kampungkb_shared.liveness import Heartbeat, serve_in_thread, with_liveness


def metrics_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"some_metric 1\n"]


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


async def test_healthz_fails_while_the_event_loop_is_blocked_and_recovers_when_it_runs() -> None:
    ticks: list[float] = []
    ticked = asyncio.Event()

    def on_tick() -> None:
        ticks.append(time.time())
        ticked.set()

    heartbeat = Heartbeat(stale_after_s=1.0, interval_s=0.05, on_tick=on_tick)
    port = free_port()
    server = serve_in_thread(with_liveness(heartbeat, metrics_app), port)
    base = f"http://127.0.0.1:{port}"
    ticking = asyncio.create_task(heartbeat.run())
    try:
        await asyncio.sleep(0.1)
        assert ticks, "each tick calls on_tick (a gauge's set_to_current_time)"
        assert get(f"{base}/healthz")[0] == 200
        assert get(f"{base}/metrics") == (200, "some_metric 1\n")
        assert get(f"{base}/")[1] == "some_metric 1\n", "every other path is the metrics app"

        # The loop blocked (synchronous work, a call that never yields): the server thread still answers, 503.
        time.sleep(1.5)  # noqa: ASYNC251 (blocking the loop is the point)
        status, body = get(f"{base}/healthz")
        assert status == 503 and "has not ticked" in body, body
        assert get(f"{base}/metrics")[0] == 200, "what the old probe read answers all the same"

        ticked.clear()
        await ticked.wait()  # the loop runs again: the heartbeat ticks
        assert get(f"{base}/healthz")[0] == 200
    finally:
        ticking.cancel()
        server.shutdown()
        server.server_close()


async def test_beating_ticks_beside_the_work_and_stops_with_it() -> None:
    ticks: list[int] = []
    three = asyncio.Event()

    def on_tick() -> None:
        ticks.append(1)
        if len(ticks) == 3:
            three.set()

    heartbeat = Heartbeat(interval_s=0.01, on_tick=on_tick)

    async def work() -> str:
        await three.wait()
        return "done"

    assert await heartbeat.beating(work()) == "done"
    after = len(ticks)
    await asyncio.sleep(0.05)
    assert len(ticks) == after, "no tick once the work has ended"
