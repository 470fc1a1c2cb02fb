"""A rule set that counts partners over the months ending with the period (`kkb-2025`: 12) scores a Kampung KB again
in the month a partner leaves that window: written with the activity when that month has come, swept by the relay
when it comes later."""

import asyncio
import datetime as dt
import os
import sys
import time
from typing import Any

import asyncpg
import httpx
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry_api.background.relay import WINDOWS_UNKNOWN_S, Relay
from registry_api.background.report_queue import ReportQueue
from registry_api.changes.models import OutboxEvent
from registry_api.classifications.client import ClassifierClient, classifier_session
from registry_api.classifications.models import Classification
from tests.factories import (
    auth,
    kependudukan_payload,
    kkbpk_payload,
    load_demo_regions,
    make_kampung,
    make_kegiatan,
    make_key,
    profil_payload,
    put_module,
)

PARTNERS = ["DINAS_KESEHATAN", "PUSKESMAS", "BPS", "TNI_POLRI"]


async def classified_periods(session: AsyncSession, kampung_id: int, ruleset: str) -> list[str]:
    periods = await session.scalars(
        select(Classification.period)
        .where(Classification.kampung_id == kampung_id, Classification.ruleset == ruleset)
        .order_by(Classification.period)
    )
    return [f"{period:%Y-%m}" for period in periods]


async def as_of(client: httpx.AsyncClient, key: str, kampung_id: int, period: str, ruleset: str) -> dict[str, Any]:
    response = await client.get(
        f"/v1/kampung/{kampung_id}/classification", params={"period": period, "ruleset": ruleset}, headers=auth(key)
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def with_partners(client: httpx.AsyncClient, key: str, kampung_id: int) -> None:
    """Every module in 2024-01; four partners active in January 2024, and one of them again in June."""
    for module, payload in (
        ("profil", profil_payload()),
        ("kependudukan", kependudukan_payload()),
        ("kkbpk", kkbpk_payload()),
    ):
        assert (await put_module(client, key, kampung_id, module, "2024-01", payload)).status_code == 201
    assert (await make_kegiatan(client, key, kampung_id, "2024-01-10", PARTNERS)).status_code == 201
    assert (await make_kegiatan(client, key, kampung_id, "2024-06-03", ["PUSKESMAS"])).status_code == 201


async def test_a_write_classifies_the_months_its_partners_leave_the_window(
    client: httpx.AsyncClient, session: AsyncSession, admin: str, kampung_id: int
) -> None:
    await with_partners(client, admin, kampung_id)
    # Three partners leave in January 2025, twelve months after their one activity; PUSKESMAS in June 2025.
    assert await classified_periods(session, kampung_id, "kkb-2025") == ["2024-01", "2024-06", "2025-01", "2025-06"]
    december = await as_of(client, admin, kampung_id, "2024-12", "kkb-2025")
    assert (december["period"], december["raw"]["n_partners"]) == ("2024-06", 4)
    spring = await as_of(client, admin, kampung_id, "2025-03", "kkb-2025")
    assert (spring["period"], spring["raw"]["n_partners"]) == ("2025-01", 1)
    later = await as_of(client, admin, kampung_id, "2026-01", "kkb-2025")
    assert (later["period"], later["raw"]["n_partners"]) == ("2025-06", 0)
    assert later["scores"]["p_lintas_sektor"] == 1 < december["scores"]["p_lintas_sektor"]
    # The rule set that counts partners of all time scores those months alike.
    official = await as_of(client, admin, kampung_id, "2026-01", "bkkbn-web-2021")
    assert official["raw"]["n_partners"] == 4


async def test_the_relay_classifies_a_month_a_partner_left_once_it_has_come(
    client: httpx.AsyncClient,
    session: AsyncSession,
    session_factory: async_sessionmaker[AsyncSession],
    admin: str,
    kampung_id: int,
    database_url: str,
    redis_url: str,
    classifier_url: str,
) -> None:
    await with_partners(client, admin, kampung_id)
    # As if the activities had been written in 2024: the months partners leave had not come, nothing classified them.
    await session.execute(delete(Classification).where(Classification.period >= dt.date(2025, 1, 1)))
    await session.execute(delete(OutboxEvent))
    async with classifier_session(classifier_url) as http:
        classifier = ClassifierClient(http, attempts=2, timeout_s=2.0, breaker_s=0.0)
        queue = ReportQueue(redis_url, defer_s=60, lease_s=120)
        relay = Relay(
            sessionmaker=session_factory, classifier=classifier, queue=queue, rulesets=["bkkbn-web-2021", "kkb-2025"]
        )
        try:
            other = await asyncpg.connect(database_url)  # another relay, sweeping
            try:
                async with other.transaction():
                    await other.execute("SELECT pg_advisory_xact_lock(hashtext('kampungkb:partner-window-sweep'))")
                    assert await relay.sweep_partner_windows(today=dt.date(2025, 1, 1)) == 0
            finally:
                await other.close()
            assert await relay.sweep_partner_windows(today=dt.date(2024, 12, 31)) == 0  # January has not come
            assert await relay.sweep_partner_windows(today=dt.date(2025, 1, 1)) == 1
            [event] = (await session.scalars(select(OutboxEvent).where(OutboxEvent.topic == "classify"))).all()
            assert event.payload == {"kampung_id": kampung_id, "period": "2025-01"}
            assert await relay.sweep_partner_windows(today=dt.date(2025, 1, 2)) == 0  # owed already
            assert await relay.deliver_classify() == 1
            # From January on, with the months by today's clock: June 2025, when PUSKESMAS leaves, has come too.
            every = ["2024-01", "2024-06", "2025-01", "2025-06"]
            assert await classified_periods(session, kampung_id, "kkb-2025") == every
            # Had it not: a relay down over the turn of the month still finds June two months later.
            await session.execute(delete(Classification).where(Classification.period == dt.date(2025, 6, 1)))
            assert await relay.sweep_partner_windows(today=dt.date(2025, 8, 20)) == 1
            assert await relay.deliver_classify() == 1
            assert await relay.sweep_partner_windows(today=dt.date(2025, 8, 21)) == 0
        finally:
            await queue.close()
    assert await classified_periods(session, kampung_id, "kkb-2025") == ["2024-01", "2024-06", "2025-01", "2025-06"]
    assert (await as_of(client, admin, kampung_id, "2025-07", "kkb-2025"))["raw"]["n_partners"] == 0
    # The months the relay classified moved the kabupaten's reports.
    reports = (await session.scalars(select(OutboxEvent.key).where(OutboxEvent.topic == "report"))).all()
    assert {key.split(":")[0].split("..")[0] for key in reports} >= {"2025-01", "2025-06"}


async def partner_windows_cli(database_url: str, classifier_url: str, *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "registry_api.cli",
        "partner-windows",
        *args,
        env={**os.environ, "DATABASE_URL": database_url, "REGISTRY_CLASSIFIER_URL": classifier_url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_a_registry_with_history_owes_the_months_its_partners_left_before(
    live_client: httpx.AsyncClient, committed_session: AsyncSession, fresh_database_url: str, classifier_url: str
) -> None:
    """History written before the registry classified the months partners leave: `registry-api partner-windows
    --since` owes each Kampung KB a classification from its earliest such month, for the relay to deliver."""
    await load_demo_regions(committed_session)
    admin = await make_key(committed_session)
    await committed_session.commit()
    kampung_id = int((await make_kampung(live_client, admin))["id"])
    await with_partners(live_client, admin, kampung_id)
    await committed_session.execute(delete(Classification).where(Classification.period >= dt.date(2025, 1, 1)))
    await committed_session.execute(delete(OutboxEvent))
    await committed_session.commit()

    code, out, err = await partner_windows_cli(fresh_database_url, classifier_url, "--since", "2024-01")
    assert code == 0, err
    assert out.strip() == "1 Kampung KB owe a classification; the relay delivers them"
    events = (await committed_session.scalars(select(OutboxEvent).where(OutboxEvent.topic == "classify"))).all()
    assert [e.payload for e in events] == [{"kampung_id": kampung_id, "period": "2025-01"}]
    # Owed already: asked again, nothing more.
    assert (await partner_windows_cli(fresh_database_url, classifier_url, "--since", "2024-01"))[1].startswith("0 ")
    code, _, err = await partner_windows_cli(fresh_database_url, classifier_url, "--since", "2024-13")
    assert code != 0 and "--since" in err


async def test_a_relay_whose_classifier_is_away_tries_the_sweep_again_within_a_minute_not_every_pass(
    session_factory: async_sessionmaker[AsyncSession], redis_url: str, dead_url: str
) -> None:
    async with classifier_session(dead_url) as http:
        classifier = ClassifierClient(http, attempts=1, timeout_s=0.5, breaker_s=0.0)
        queue = ReportQueue(redis_url, defer_s=60, lease_s=120)
        relay = Relay(sessionmaker=session_factory, classifier=classifier, queue=queue, rulesets=["kkb-2025"])
        try:
            assert await relay.sweep_partner_windows() is None  # the rule sets' windows are not known
            before = time.monotonic()
            await relay._housekeeping()
            # Not at the next pass (each try would wait for the classifier), nor an hour later: within a minute.
            assert before + WINDOWS_UNKNOWN_S - 1 <= relay._next_window_sweep < before + relay.partner_window_sweep_s
        finally:
            await queue.close()
