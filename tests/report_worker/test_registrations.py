"""Registering Kampung KB one by one moves a region's coverage at once: a registration, a deactivation and a new
`formed_on` each queue the refresh of their region's reports (no submission needed in the kabupaten)."""

import datetime as dt
from typing import Any

import asyncpg
import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from kampungkb_shared.jobs import RebuildPeriod, report_job
from kampungkb_shared.periods import format_period, parse_period
from report_worker.aggregates import rebuild_period, refresh_chain
from tests.factories import auth, kependudukan_payload, make_kampung, put_module
from tests.registry_api.conftest import admin

__all__ = ["admin"]

RULESETS = ["bkkbn-web-2021", "kkb-2025"]
THIS_MONTH = format_period(dt.datetime.now(dt.UTC).date())


async def run_report_events(session: AsyncSession, pg: asyncpg.Connection) -> list[str]:
    """What report-worker does with the report events the registry wrote: run each job; returns their keys."""
    rows = (
        await session.execute(
            text("SELECT id, key, payload FROM outbox WHERE topic = 'report' AND delivered_at IS NULL ORDER BY id")
        )
    ).all()
    for row in rows:
        job = report_job(row.payload)
        through = None if job.through is None else parse_period(job.through)
        if isinstance(job, RebuildPeriod):
            await rebuild_period(
                pg, period=parse_period(job.period), rulesets=RULESETS, through=through, onward=through is None
            )
        else:
            await refresh_chain(
                pg,
                period=parse_period(job.period),
                kabupaten_code=job.kabupaten_code,
                rulesets=RULESETS,
                through=through,
            )
    await session.execute(text("UPDATE outbox SET delivered_at = now() WHERE topic = 'report'"))
    return [row.key for row in rows]


async def report(client: httpx.AsyncClient, code: str, period: str) -> dict[str, Any]:
    response = await client.get(f"/v1/reports/{code}", params={"period": period})
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_each_registration_counts_in_the_report_without_any_submission(
    client: httpx.AsyncClient, admin: str, session: AsyncSession, pg: asyncpg.Connection
) -> None:
    desa = [
        code
        for (code,) in await session.execute(
            text("SELECT code FROM wilayah WHERE level = 'desa' AND code LIKE '99.01.%' ORDER BY code")
        )
    ]
    first = [await make_kampung(client, admin, desa_code=code) for code in desa[:4]]
    await put_module(client, admin, first[0]["id"], "kependudukan", THIS_MONTH, kependudukan_payload())
    assert f"{THIS_MONTH}:99.01" in await run_report_events(session, pg)
    before = await report(client, "99.01", THIS_MONTH)
    assert before["kampung_total"] == 4 and before["reported"] == 1

    more = [await make_kampung(client, admin, desa_code=code) for code in desa[4:10]]
    assert await run_report_events(session, pg)  # the registrations alone queued the refresh
    after = await report(client, "99.01", THIS_MONTH)
    assert after["kampung_total"] == 10
    assert after["coverage_pct"] > before["coverage_pct"]
    assert (await report(client, "99", THIS_MONTH))["kampung_total"] == 10

    patched = await client.patch(f"/v1/kampung/{more[0]['id']}", json={"active": False}, headers=auth(admin))
    assert patched.status_code == 200
    assert await run_report_events(session, pg)
    assert (await report(client, "99.01", THIS_MONTH))["kampung_total"] == 9


async def test_a_registration_refreshes_every_computed_period_since_its_formation(
    client: httpx.AsyncClient, admin: str, session: AsyncSession, pg: asyncpg.Connection
) -> None:
    for period in ("2023-01", "2024-01"):
        await rebuild_period(pg, period=parse_period(period), rulesets=RULESETS)
    kampung = await make_kampung(client, admin, formed_on="2023-06-15")
    keys = await run_report_events(session, pg)
    assert keys == ["2024-01:99.01"]  # the chain refresh of 2024-01 covers the later computed periods
    assert (await report(client, "99.01", "2024-01"))["kampung_total"] == 1
    assert (await report(client, "99.01", "2023-01"))["kampung_total"] == 0  # formed after it
    moved = await client.patch(f"/v1/kampung/{kampung['id']}", json={"formed_on": "2022-03-01"}, headers=auth(admin))
    assert moved.status_code == 200
    assert await run_report_events(session, pg) == ["2023-01:99.01"]
    assert (await report(client, "99.01", "2023-01"))["kampung_total"] == 1
