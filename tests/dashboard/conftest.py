"""A registry process on a committed database holding two provinces of computed reports, and Debian's Chromium
driven by Playwright (no browser is downloaded: without a Chromium on the machine the tests are skipped)."""

import asyncio
import datetime as dt
import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from playwright.async_api import Browser, async_playwright

from kampungkb_local import processes
from kampungkb_local.servers import free_port
from kampungkb_shared.periods import add_months
from registry_api.db import create_engine, create_sessionmaker
from report_worker.aggregates import rebuild_period
from tests.factories import make_key
from tests.report_worker.data import PERIODS, RULESETS, generate
from tests.report_worker.test_dashboard_pages import explained_as

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


TIME_ZONE = "Asia/Jakarta"
"""The programme's time zone the registry processes are given (`REPORTING_TIME_ZONE`, its default)."""


def this_month() -> dt.date:
    """The first of the current month in the programme's time zone."""
    return dt.datetime.now(ZoneInfo(TIME_ZONE)).date().replace(day=1)


@dataclass
class Site:
    url: str
    key: str
    explained: list[int] = field(default_factory=list)
    """Kampung KB whose classification the real classifier explains (next steps on a signed-in page)."""


@asynccontextmanager
async def running_site(
    database_url: str, redis_url: str, *, periods: list[dt.date], classifier_url: str | None = None
) -> AsyncIterator[Site]:
    """The registry as a process on `database_url` (generated data, reports computed for `periods`); with
    `classifier_url`, a real classifier explaining one Kampung KB of the kecamatan 97.01.01."""
    explained = []
    connection = await asyncpg.connect(database_url)
    try:
        await generate(connection)
        for period in periods:
            await rebuild_period(connection, period=period, rulesets=RULESETS)
        if classifier_url is not None:
            kampung_id = await connection.fetchval(
                """SELECT c.kampung_id FROM classification c JOIN kampung k ON k.id = c.kampung_id
                    WHERE k.desa_code LIKE '97.01.01.%' AND c.ruleset = $1 ORDER BY c.kampung_id LIMIT 1""",
                RULESETS[0],
            )
            month = PERIODS[-1].strftime("%Y-%m")
            await explained_as(connection, classifier_url, kampung_id=kampung_id, ruleset=RULESETS[0], period=month)
            explained.append(kampung_id)
    finally:
        await connection.close()
    engine = create_engine(database_url, pool_size=1)
    async with create_sessionmaker(engine)() as session:
        key = await make_key(session)
    await engine.dispose()
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "REGISTRY_CLASSIFIER_URL": classifier_url or f"http://127.0.0.1:{free_port()}",
        "REPORTING_TIME_ZONE": TIME_ZONE,
        "REGISTRY_OUTBOX_RELAY_IN_API": "false",
        "REGISTRY_IMPORTS_IN_API": "false",
        "LOG_JSON": "false",
        "LOG_LEVEL": "WARNING",
    }
    service = processes.registry_api(port).start(base_env=env, quiet=True)
    try:
        await asyncio.to_thread(service.wait_ready)
        yield Site(f"http://127.0.0.1:{port}", key, explained)
    finally:
        service.stop()


@pytest.fixture
async def site(fresh_database_url: str, redis_url: str) -> AsyncIterator[Site]:
    """The registry as a process, its reports computed for the periods of the report tests."""
    async with running_site(fresh_database_url, redis_url, periods=PERIODS) as running:
        yield running


@pytest.fixture
async def site_now(fresh_database_url: str, redis_url: str, classifier_url: str) -> AsyncIterator[Site]:
    """As `site`, with the current month and the one before it computed too (as report-worker computes a month
    while its data come in), and the real classifier explaining a Kampung KB of 97.01.01."""
    now = [add_months(this_month(), -1), this_month()]
    async with running_site(
        fresh_database_url, redis_url, periods=[*PERIODS, *now], classifier_url=classifier_url
    ) as running:
        yield running


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()
