"""A registry process on a committed database holding two provinces of computed reports, and Debian's Chromium
driven by Playwright (no browser is downloaded: without a Chromium on the machine the tests are skipped)."""

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import pytest
from playwright.async_api import Browser, async_playwright

from kampungkb_local import processes
from kampungkb_local.servers import free_port
from registry_api.db import create_engine, create_sessionmaker
from report_worker.aggregates import rebuild_period
from tests.factories import make_key
from tests.report_worker.data import PERIODS, RULESETS, generate

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

needs_chromium = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"
)


@dataclass
class Site:
    url: str
    key: str


@pytest.fixture
async def site(fresh_database_url: str, redis_url: str) -> AsyncIterator[Site]:
    """The registry as a process, its reports computed for the periods of the report tests."""
    connection = await asyncpg.connect(fresh_database_url)
    try:
        await generate(connection)
        for period in PERIODS:
            await rebuild_period(connection, period=period, rulesets=RULESETS)
    finally:
        await connection.close()
    engine = create_engine(fresh_database_url, pool_size=1)
    async with create_sessionmaker(engine)() as session:
        key = await make_key(session)
    await engine.dispose()
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": fresh_database_url,
        "REDIS_URL": redis_url,
        "REGISTRY_CLASSIFIER_URL": f"http://127.0.0.1:{free_port()}",
        "REGISTRY_OUTBOX_RELAY_IN_API": "false",
        "REGISTRY_IMPORTS_IN_API": "false",
        "LOG_JSON": "false",
        "LOG_LEVEL": "WARNING",
    }
    service = processes.registry_api(port).start(base_env=env, quiet=True)
    try:
        await asyncio.to_thread(service.wait_ready)
        yield Site(f"http://127.0.0.1:{port}", key)
    finally:
        service.stop()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()
