"""The background loops (outbox relay, import runner, webhook dispatcher) while PostgreSQL is away: a PostgreSQL
server of the test's own is stopped and started again under them.

Each loop counts its failed passes, logs the first with its traceback and each later one as a line, waits longer
between passes (1 s doubling, up to 30 s) rather than failing every poll, and says in one line when the database
answers again.
"""

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from kampungkb_local.servers import resume_postgres, start_postgres, stop_postgres
from registry_api import migrate
from registry_api.background.imports import create_runner
from registry_api.background.loops import FIRST_BACKOFF_S, MAX_BACKOFF_S, stop_loops
from registry_api.background.relay import create_relay
from registry_api.background.report_queue import create_report_queue
from registry_api.background.webhooks import create_dispatcher, webhook_http
from registry_api.classifications.client import classifier_session, create_classifier
from registry_api.db import create_engine, create_sessionmaker
from tests.conftest import create_database
from tests.registry_api.conftest import registry_settings

LOOPS = ("outbox_relay", "import_runner", "webhook_dispatcher")
FAILED_PASSES = 3
"""Failed passes each loop makes while the server is away, before the test starts it again."""
HANG_S = 120.0
"""A bound on each wait, so that a loop that never gets there fails the test rather than hanging it."""


def _failures(loop: str) -> float:
    return REGISTRY.get_sample_value("registry_background_pass_failures_total", {"loop": loop}) or 0.0


async def _until(check: Callable[[], bool], what: str) -> None:
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < HANG_S, f"never: {what}"
        await asyncio.sleep(0.1)


async def test_the_loops_back_off_and_log_a_database_outage_once(
    tmp_path: Path, redis_url: str, classifier_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="registry_api.background")
    pg_dir = tmp_path / "pg"
    server_url = await asyncio.to_thread(start_postgres, pg_dir)
    try:
        database_url = await create_database(server_url, f"kkb_loops_{uuid.uuid4().hex[:8]}")
        await asyncio.to_thread(migrate.upgrade, database_url)
        settings = registry_settings(
            database_url, redis_url, classifier_url, outbox_poll_s=0.1, import_poll_s=0.1, webhook_poll_s=0.1
        )
        engine = create_engine(database_url, pool_size=4)
        queue = create_report_queue(settings)
        stop = asyncio.Event()
        tasks: list[asyncio.Task[None]] = []
        try:
            async with classifier_session(settings.classifier_url) as http, webhook_http() as hooks:
                sessionmaker = create_sessionmaker(engine)
                classifier = create_classifier(http, settings)
                loops = [
                    create_relay(settings, sessionmaker=sessionmaker, classifier=classifier, queue=queue),
                    create_runner(settings, kind="test", sessionmaker=sessionmaker, classifier=classifier, queue=queue),
                    create_dispatcher(settings, sessionmaker=sessionmaker, http=hooks),
                ]
                before = {loop: _failures(loop) for loop in LOOPS}
                tasks = [asyncio.create_task(loop.run(stop)) for loop in loops]

                await asyncio.to_thread(stop_postgres, pg_dir)
                await _until(
                    lambda: all(_failures(loop) >= before[loop] + FAILED_PASSES for loop in LOOPS),
                    f"{FAILED_PASSES} failed passes of each loop",
                )
                await asyncio.to_thread(resume_postgres, pg_dir, server_url)
                await _until(
                    lambda: all(_recovered(caplog.records, loop) for loop in LOOPS), "every loop saw it answer again"
                )
                stop.set()
                await stop_loops(tasks)
        finally:
            stop.set()
            await stop_loops(tasks)
            await queue.close()
            await engine.dispose()
    finally:
        await asyncio.to_thread(stop_postgres, pg_dir)

    for loop in LOOPS:
        records = [r for r in caplog.records if getattr(r, "loop", None) == loop]
        failed = [r for r in records if "pass failed" in r.getMessage()]
        assert len(failed) >= FAILED_PASSES, (loop, [r.getMessage() for r in records])
        assert _failures(loop) == before[loop] + len(failed)
        first, *later = failed
        assert first.exc_info is not None, loop  # the first with its traceback ...
        assert "the database is unreachable" in first.getMessage()
        for record in later:  # ... then one line each
            assert record.exc_info is None and "\n" not in record.getMessage(), record.getMessage()
            assert "still unreachable" in record.getMessage()
        # Each pass waited twice as long as the one before (what the loop says it waits; not timed here).
        waits = [getattr(r, "retry_in_s", None) for r in failed]
        assert waits == [min(FIRST_BACKOFF_S * 2**n, MAX_BACKOFF_S) for n in range(len(failed))], (loop, waits)
        assert [r.getMessage() for r in records[len(failed) :]] == [
            f"{loop}: the database answers again, after {len(failed)} failed passes"
        ]


def _recovered(records: list[logging.LogRecord], loop: str) -> bool:
    return any(getattr(r, "loop", None) == loop and "answers again" in r.getMessage() for r in records)
