"""A back-dated change refreshes the reports it moves and no others: the month written, up to the Kampung KB's next
classified month (where the tier before it is read), or every later one when nothing supersedes it. Whatever it
leaves alone, every report still equals a rebuild of every month from base data."""

import datetime as dt

import asyncpg
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from kampungkb_local.servers import free_port
from registry_api.changes import outbox
from registry_api.settings import Settings
from report_worker.aggregates import rebuild_period
from tests.factories import kependudukan_payload, kkbpk_payload, make_kampung, make_kegiatan, profil_payload, put_module
from tests.registry_api.conftest import admin, registry_settings
from tests.report_worker.test_aggregates import Table, assert_same, stored
from tests.report_worker.test_registrations import RULESETS, run_report_events

__all__ = ["admin"]

MONTHS = [f"2024-{month:02d}" for month in range(1, 7)]


@pytest.fixture
def settings(database_url: str, classifier_url: str) -> Settings:
    """The real classifier, and no Redis: every report event stays in the outbox, where the test runs it."""
    return registry_settings(database_url, f"redis://127.0.0.1:{free_port()}/0", classifier_url)


LONG_AGO = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


async def written_since_long_ago(pg: asyncpg.Connection) -> list[str]:
    """The months with report rows written since `LONG_AGO` was stamped on every row (`now()` is the same all through
    the test's transaction)."""
    rows = await pg.fetch("SELECT DISTINCT period FROM report_aggregate WHERE computed_at <> $1 ORDER BY 1", LONG_AGO)
    return [f"{row['period']:%Y-%m}" for row in rows]


async def rebuilt(pg: asyncpg.Connection) -> Table:
    """Every month rebuilt whole from base data: what the stored reports must equal."""
    for month in MONTHS:
        await rebuild_period(pg, period=dt.date.fromisoformat(f"{month}-01"), rulesets=RULESETS)
    return await stored(pg)


async def assert_as_rebuilt(pg: asyncpg.Connection) -> None:
    """Every stored report, refreshed or left alone, as a rebuild of every month makes it."""
    refreshed = await stored(pg)
    assert_same(refreshed, await rebuilt(pg))


async def history(client: httpx.AsyncClient, admin: str, session: AsyncSession, pg: asyncpg.Connection) -> list[int]:
    """Three Kampung KB of 99.01 with kependudukan and kkbpk every month, and a profil in the first; every month
    rebuilt and every report event delivered."""
    desa = [
        code
        for (code,) in await session.execute(
            text("SELECT code FROM wilayah WHERE level = 'desa' AND code LIKE '99.01.%' ORDER BY code LIMIT 3")
        )
    ]
    ids = [(await make_kampung(client, admin, desa_code=code))["id"] for code in desa]
    for n, kampung_id in enumerate(ids):
        assert (await put_module(client, admin, kampung_id, "profil", MONTHS[0], profil_payload())).status_code == 201
        for m, month in enumerate(MONTHS):
            population = kependudukan_payload(pus=100 + n)
            assert (await put_module(client, admin, kampung_id, "kependudukan", month, population)).status_code == 201
            users = kkbpk_payload(users=40 + 5 * m + n, non_users=60 - 5 * m)
            assert (await put_module(client, admin, kampung_id, "kkbpk", month, users)).status_code == 201
    await run_report_events(session, pg)
    await rebuilt(pg)
    return ids


async def test_a_correction_superseded_the_next_month_refreshes_two_months(
    client: httpx.AsyncClient, admin: str, session: AsyncSession, pg: asyncpg.Connection
) -> None:
    ids = await history(client, admin, session, pg)
    await pg.execute("UPDATE report_aggregate SET computed_at = $1", LONG_AGO)
    corrected = await put_module(client, admin, ids[0], "kkbpk", MONTHS[1], kkbpk_payload(users=95, non_users=5))
    assert corrected.status_code == 200, corrected.text
    # Its month, and the next one (superseded there by its own kkbpk, but reading this tier as the one before).
    assert await run_report_events(session, pg) == [f"{MONTHS[1]}..{MONTHS[2]}:99.01"]
    assert await written_since_long_ago(pg) == MONTHS[1:3]
    await assert_as_rebuilt(pg)


async def test_a_profil_in_force_for_months_refreshes_each_of_them(
    client: httpx.AsyncClient, admin: str, session: AsyncSession, pg: asyncpg.Connection
) -> None:
    ids = await history(client, admin, session, pg)
    # The first month's profil is in force in every later month: each snapshot moves, and the last has no successor.
    changed = profil_payload(facilities=["SEKRETARIAT", "RUMAH_DATAKU"])
    assert (await put_module(client, admin, ids[1], "profil", MONTHS[0], changed)).status_code == 200
    assert await run_report_events(session, pg) == [f"{MONTHS[0]}:99.01"]
    await assert_as_rebuilt(pg)


async def test_a_submission_that_moves_no_snapshot_refreshes_its_own_month(
    client: httpx.AsyncClient, admin: str, session: AsyncSession, pg: asyncpg.Connection
) -> None:
    ids = await history(client, admin, session, pg)
    # The same profil as the one in force: no snapshot moves, but the month is now reported for profil, and on time
    # or late by its own first write.
    assert (await put_module(client, admin, ids[2], "profil", MONTHS[3], profil_payload())).status_code == 201
    assert await run_report_events(session, pg) == [f"{MONTHS[3]}..{MONTHS[3]}:99.01"]
    await assert_as_rebuilt(pg)


async def test_an_activity_refreshes_the_months_whose_partners_it_changes(
    client: httpx.AsyncClient, admin: str, session: AsyncSession, pg: asyncpg.Connection
) -> None:
    ids = await history(client, admin, session, pg)
    for month in MONTHS[2:5]:
        assert (await make_kegiatan(client, admin, ids[0], f"{month}-10", ["DINAS_KESEHATAN"])).status_code == 201
    await run_report_events(session, pg)
    await rebuilt(pg)
    # An earlier activity with the same partner moves only the months before that partner's next activity.
    assert (await make_kegiatan(client, admin, ids[0], f"{MONTHS[0]}-10", ["DINAS_KESEHATAN"])).status_code == 201
    assert await run_report_events(session, pg) == [f"{MONTHS[0]}..{MONTHS[2]}:99.01"]
    await assert_as_rebuilt(pg)


async def test_a_bulk_change_rebuilds_the_months_between_and_after_those_it_names(
    client: httpx.AsyncClient,
    admin: str,
    session: AsyncSession,
    pg: asyncpg.Connection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await history(client, admin, session, pg)
    # Two more Kampung KB: one reports in the first and fourth months, one in the first only. In the months between
    # and after, their reports read the tier of the first month, which no later classification stands for.
    desa = [
        code
        for (code,) in await session.execute(
            text("SELECT code FROM wilayah WHERE level = 'desa' AND code LIKE '99.01.%' ORDER BY code OFFSET 3 LIMIT 2")
        )
    ]
    gaps = [(await make_kampung(client, admin, desa_code=code))["id"] for code in desa]
    for kampung_id, months in zip(gaps, [[MONTHS[0], MONTHS[3]], [MONTHS[0]]], strict=True):
        for month in months:
            assert (await put_module(client, admin, kampung_id, "profil", month, profil_payload())).status_code == 201
            population = kependudukan_payload(pus=100)
            assert (await put_module(client, admin, kampung_id, "kependudukan", month, population)).status_code == 201
            users = kkbpk_payload(users=40, non_users=60)
            assert (await put_module(client, admin, kampung_id, "kkbpk", month, users)).status_code == 201
    await run_report_events(session, pg)
    await rebuilt(pg)
    # As a bulk import across the nation would: every period a change names is rebuilt whole.
    monkeypatch.setattr(outbox, "REBUILD_FROM_KABUPATEN", 1)
    await pg.execute("UPDATE report_aggregate SET computed_at = $1", LONG_AGO)
    corrected = await put_module(client, admin, gaps[0], "kkbpk", MONTHS[0], kkbpk_payload(users=95, non_users=5))
    assert corrected.status_code == 200, corrected.text
    # Its month through the one before its next classified month, then that one (the tier before it).
    assert await run_report_events(session, pg) == [f"{MONTHS[0]}..{MONTHS[2]}", MONTHS[3]]
    assert await written_since_long_ago(pg) == MONTHS[:4]
    await assert_as_rebuilt(pg)
    await pg.execute("UPDATE report_aggregate SET computed_at = $1", LONG_AGO)
    corrected = await put_module(client, admin, gaps[1], "kkbpk", MONTHS[0], kkbpk_payload(users=95, non_users=5))
    assert corrected.status_code == 200, corrected.text
    # Nothing supersedes it: every computed month from its own on.
    assert await run_report_events(session, pg) == [f"{MONTHS[0]}.."]
    computed = await pg.fetch("SELECT DISTINCT period FROM report_aggregate ORDER BY 1")
    assert await written_since_long_ago(pg) == [f"{row['period']:%Y-%m}" for row in computed]
    assert MONTHS[-1] in await written_since_long_ago(pg)
    await assert_as_rebuilt(pg)
