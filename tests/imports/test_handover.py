"""Module imports queued together classify once: each hands its classification over to the next one."""

import datetime as dt

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry_api.background.relay import create_relay
from registry_api.changes import outbox as events
from registry_api.db import session_driver
from registry_api.settings import Settings
from tests.imports.conftest import Api, classified_with
from tests.imports.files import (
    KEPENDUDUKAN_COLUMNS,
    KKBPK_COLUMNS,
    MONTH_DESA,
    PERIOD,
    PROFIL_COLUMNS,
    kampung_rows,
    kependudukan_row,
    kkbpk_csv_row,
    profil_csv_row,
    to_csv,
)

CODES = MONTH_DESA
KEPENDUDUKAN_CSV = to_csv(KEPENDUDUKAN_COLUMNS, [kependudukan_row(c) for c in CODES])
KKBPK_CSV = to_csv(KKBPK_COLUMNS, [kkbpk_csv_row(c) for c in CODES])

_HANDED_OVER = text("""
    SELECT count(*) FILTER (WHERE delivered_at IS NULL) AS pending,
           count(*) FILTER (WHERE delivered_at IS NULL AND available_at <= clock_timestamp()) AS due,
           count(*) FILTER (WHERE delivered_at IS NOT NULL) AS delivered
      FROM outbox WHERE topic = 'classify' AND payload ? 'handover'
""")


async def _queue_both(api: Api, kkbpk_csv: str) -> tuple[int, int]:
    await api.run("kampung", to_csv(["desa_code", "name", "formed_on"], kampung_rows(CODES)))
    first = await api.post("kependudukan", KEPENDUDUKAN_CSV, period=PERIOD)
    second = await api.post("kkbpk", kkbpk_csv, period=PERIOD)
    assert first.status_code == second.status_code == 202
    return first.json()["id"], second.json()["id"]


async def test_the_last_of_two_queued_imports_classifies_both(
    api: Api, session: AsyncSession, settings: Settings, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    first_id, second_id = await _queue_both(api, KKBPK_CSV)
    await session.execute(text("DELETE FROM outbox"))
    relay = create_relay(
        settings, sessionmaker=session_factory, classifier=api.app.state.classifier, queue=api.app.state.report_queue
    )

    assert await api.runner.run_once()  # the kependudukan import: the kkbpk one is queued behind it
    first = await api.job(first_id)
    assert first["status"] == "succeeded" and first["timings"]["handed_over"] is not None
    assert first["timings"]["classified"] is None
    assert await session.scalar(text("SELECT count(*) FROM classification")) == 0
    assert tuple((await session.execute(_HANDED_OVER)).one()) == (20, 0, 0)
    assert await session.scalar(text("SELECT count(*) FROM outbox WHERE topic = 'report'")) == 0
    assert await relay.deliver_classify() == 0  # not due: the next import takes them

    assert await api.runner.run_once()
    second = await api.job(second_id)
    assert second["status"] == "succeeded" and second["timings"]["classified"] is not None
    period = dt.date(2024, 6, 1)
    for module in ("kependudukan", "kkbpk"):
        classified = await classified_with(session, period=period, module=module)
        assert classified == 2 * len(CODES), module  # both rule sets, every Kampung KB, with both files' data
    assert tuple((await session.execute(_HANDED_OVER)).one()) == (0, 0, 0)  # taken over: deleted
    keys = await session.execute(text("SELECT key FROM outbox WHERE topic = 'report' ORDER BY key"))
    assert list(keys.scalars()) == ["2024-06:99.01", "2024-06:99.71"]


async def test_when_the_later_import_fails_the_relay_classifies_what_was_handed_over(
    api: Api, session: AsyncSession, settings: Settings, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    rubbish = to_csv(KKBPK_COLUMNS, [{**kkbpk_csv_row(c), "BKB": "many"} for c in CODES])
    first_id, second_id = await _queue_both(api, rubbish)

    assert await api.run_jobs() == 2
    assert (await api.job(first_id))["timings"]["handed_over"] is not None
    second = await api.job(second_id)
    assert second["status"] == "failed" and "no valid rows" in second["reason"]
    assert tuple((await session.execute(_HANDED_OVER)).one()) == (20, 20, 0)  # released: due now

    relay = create_relay(
        settings, sessionmaker=session_factory, classifier=api.app.state.classifier, queue=api.app.state.report_queue
    )
    assert await relay.deliver_classify() == 20
    classified = await classified_with(session, period=dt.date(2024, 6, 1), module="kependudukan")
    assert classified == 2 * len(CODES)
    assert tuple((await session.execute(_HANDED_OVER)).one()) == (0, 0, 20)


async def test_a_dry_run_behind_an_import_takes_nothing_over(api: Api, session: AsyncSession) -> None:
    await api.run("kampung", to_csv(["desa_code", "name", "formed_on"], kampung_rows(CODES)))
    first = await api.post("kependudukan", KEPENDUDUKAN_CSV, period=PERIOD)
    await api.post("kkbpk", KKBPK_CSV, period=PERIOD, dry_run=True)
    assert await api.run_jobs() == 2
    assert (await api.job(first.json()["id"]))["timings"]["classified"] is not None
    assert await classified_with(session, period=dt.date(2024, 6, 1), module="kependudukan") == 40
    assert tuple((await session.execute(_HANDED_OVER)).one()) == (0, 0, 0)


async def test_of_three_queued_imports_the_last_classifies_what_both_others_handed_over(
    api: Api, session: AsyncSession
) -> None:
    _, kkbpk = await _queue_both(api, KKBPK_CSV)
    await api.post("profil", to_csv(PROFIL_COLUMNS, [profil_csv_row(c) for c in CODES]), period=PERIOD)
    # Kependudukan, then profil (the kkbpk, which reads it, waits for it): both hand over.
    assert await api.runner.run_once() and await api.runner.run_once()
    # One event per Kampung KB, not one per file: profil's hand-over is covered by kependudukan's (same period).
    assert tuple((await session.execute(_HANDED_OVER)).one()) == (len(CODES), 0, 0)
    assert await api.runner.run_once()
    assert (await api.job(kkbpk))["timings"]["classified"] is not None
    for module in ("profil", "kependudukan", "kkbpk"):
        classified = await classified_with(session, period=dt.date(2024, 6, 1), module=module)
        assert classified == 2 * len(CODES), module
    assert tuple((await session.execute(_HANDED_OVER)).one()) == (0, 0, 0)


async def test_a_kampung_handed_over_from_a_period_is_not_handed_over_again_from_a_later_one(
    api: Api, session: AsyncSession
) -> None:
    await api.run("kampung", to_csv(["desa_code", "name", "formed_on"], kampung_rows(CODES[:2])))
    first, second = (await session.execute(text("SELECT id FROM kampung ORDER BY id"))).scalars()
    june, july, may = dt.date(2024, 6, 1), dt.date(2024, 7, 1), dt.date(2024, 5, 1)
    await events.add_classify(await session_driver(session), earliest={first: june}, handover_s=120)
    await events.add_classify(await session_driver(session), earliest={first: july, second: july}, handover_s=120)
    await events.add_classify(await session_driver(session), earliest={first: may}, handover_s=120)
    pending = await session.execute(
        text("""SELECT (payload->>'kampung_id')::bigint, payload->>'period' FROM outbox
                 WHERE topic = 'classify' AND payload ? 'handover' ORDER BY 1, 2""")
    )
    assert [tuple(row) for row in pending] == [(first, "2024-05"), (first, "2024-06"), (second, "2024-07")]
