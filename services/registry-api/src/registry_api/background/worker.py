"""`registry-api worker`: the outbox relay, the import job runners and webhook delivery as a process, with Prometheus
metrics on a port."""

import asyncio
import logging
import signal

import uvloop
from prometheus_client import Gauge, make_wsgi_app

from kampungkb_shared.collector import freeze_startup_objects
from kampungkb_shared.liveness import liveness_served
from registry_api.background.imports import create_runner
from registry_api.background.loops import stop_loops
from registry_api.background.relay import create_relay
from registry_api.background.report_queue import create_report_queue
from registry_api.background.webhooks import create_dispatcher, webhook_http
from registry_api.classifications.client import classifier_session, create_classifier
from registry_api.db import create_engine, create_sessionmaker
from registry_api.settings import Settings

log = logging.getLogger(__name__)

LOOP_TICK = Gauge(
    "registry_worker_loop_tick_timestamp_seconds",
    "Unix time of the worker's event loop's last heartbeat tick (every second; /healthz fails after 60 s without one)",
)


async def run_worker(settings: Settings) -> None:
    """Relay outbox events, run import jobs and deliver webhooks until SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    # The relay's, the dispatcher's and each runner's (its job's and its lease's); as many again in overflow for the
    # connections a large import classifies on (`import_classify_connections`).
    engine = create_engine(settings.database_url, pool_size=2 + 2 * settings.import_runners)
    queue = create_report_queue(settings)
    try:
        async with (
            classifier_session(settings.classifier_url) as http,
            webhook_http(settings.webhook_ca_file) as hooks_http,
        ):
            await queue.open()
            sessionmaker = create_sessionmaker(engine)
            classifier = create_classifier(http, settings)
            relay = create_relay(settings, sessionmaker=sessionmaker, classifier=classifier, queue=queue)
            runners = [
                create_runner(
                    settings, kind="worker", sessionmaker=sessionmaker, classifier=classifier, queue=queue, runner=i
                )
                for i in range(settings.import_runners)
            ]
            dispatcher = create_dispatcher(settings, sessionmaker=sessionmaker, http=hooks_http)
            freeze_startup_objects()
            tasks = [
                asyncio.create_task(relay.run(stop), name="outbox-relay"),
                asyncio.create_task(dispatcher.run(stop), name="webhook-dispatcher"),
                *(asyncio.create_task(r.run(stop), name=f"import-runner-{i}") for i, r in enumerate(runners)),
            ]
            stopped = asyncio.create_task(stop.wait())
            await asyncio.wait([stopped, *tasks], return_when=asyncio.FIRST_COMPLETED)
            ended = [task.get_name() for task in tasks if task.done()]
            stop.set()
            stopped.cancel()
            # Within the grace period: a loop still busy after `STOP_WITHIN_S` is cancelled (an import hands its job
            # back, the attempt not counted), as in the API's lifespan.
            await stop_loops(tasks)
            if ended:
                raise RuntimeError(f"{', '.join(ended)} ended before the worker was told to stop")
    finally:
        await queue.close()
        await engine.dispose()


def serve(settings: Settings) -> None:
    """The worker process, with its metrics and `/healthz` (`kampungkb_shared.liveness`) on `worker_metrics_port`."""
    port = settings.worker_metrics_port
    with liveness_served(make_wsgi_app(), port, on_tick=LOOP_TICK.set_to_current_time) as heartbeat:
        log.info("worker metrics on :%d/metrics, liveness on /healthz", port)
        # On uvloop, as uvicorn runs the API: the default loop's own Python was a tenth of the worker's CPU over an
        # import.
        uvloop.run(heartbeat.beating(run_worker(settings)))
