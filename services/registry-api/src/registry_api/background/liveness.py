"""The registry worker's liveness: its event loop's heartbeat, and `/healthz` beside its metrics on
`REGISTRY_WORKER_METRICS_PORT`, failing once the loop has not ticked for a minute (`kampungkb_shared.liveness`)."""

from prometheus_client import Gauge, make_wsgi_app

from kampungkb_shared.liveness import Heartbeat, serve_in_thread, with_liveness

LOOP_TICK = Gauge(
    "registry_worker_loop_tick_timestamp_seconds",
    "Unix time of the worker's event loop's last heartbeat tick (every second; /healthz fails after 60 s without one)",
)


def serve_metrics(port: int) -> Heartbeat:
    """Serve `/metrics` and `/healthz` on `port` from a thread; the heartbeat returned is to run on the loop
    (`Heartbeat.beating`)."""
    heartbeat = Heartbeat(on_tick=LOOP_TICK.set_to_current_time)
    serve_in_thread(with_liveness(heartbeat, make_wsgi_app()), port)
    return heartbeat
