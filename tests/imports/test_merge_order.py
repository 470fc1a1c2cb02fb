"""A month's module files merge side by side where their rules allow, in the order their rules need, whatever order
they arrive and are claimed in: kependudukan and profil share each Kampung KB's lock, a kkbpk waits for both (it reads
its file while they merge), and every file waits for the kampung files filed before it (it reads its file while they
merge)."""

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from registry_api.background.imports import ImportRunner, create_runner
from registry_api.changes import pipeline
from registry_api.db import create_engine, create_sessionmaker
from registry_api.main import create_app
from registry_api.settings import Settings
from tests.factories import auth, load_demo_regions, make_key
from tests.imports.conftest import Api, classified_with, import_settings
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
JUNE = dt.date(2024, 6, 1)
FILES = {
    "profil": to_csv(PROFIL_COLUMNS, [profil_csv_row(c) for c in CODES]),
    "kependudukan": to_csv(KEPENDUDUKAN_COLUMNS, [kependudukan_row(c) for c in CODES]),
    # BKL counts participants: the profil marks it present, so the kkbpk is valid only beside (or after) the profil.
    "kkbpk": to_csv([*KKBPK_COLUMNS, "BKL"], [{**kkbpk_csv_row(c), "BKL": 5} for c in CODES]),
}
ORDERS = [
    ("profil", "kependudukan", "kkbpk"),
    ("kependudukan", "kkbpk", "profil"),
    ("kkbpk", "profil", "kependudukan"),
]


async def test_a_kkbpk_posted_first_is_claimed_after_the_files_it_reads(api: Api, session: AsyncSession) -> None:
    await api.run("kampung", to_csv(["desa_code", "name", "formed_on"], kampung_rows(CODES)))
    ids = {module: (await api.post(module, FILES[module], period=PERIOD)).json()["id"] for module in ORDERS[2]}

    assert await api.runner.run_once() and await api.runner.run_once()
    statuses = {module: (await api.job(job_id))["status"] for module, job_id in ids.items()}
    assert statuses == {"kkbpk": "queued", "profil": "succeeded", "kependudukan": "succeeded"}
    assert await api.runner.run_once()
    kkbpk = await api.job(ids["kkbpk"])
    assert (kkbpk["status"], kkbpk["rows_inserted"], kkbpk["rows_failed"]) == ("succeeded", len(CODES), 0)
    assert not await api.runner.run_once()


async def test_a_kkbpk_does_not_wait_for_a_later_period_or_a_dry_run(api: Api) -> None:
    await api.run("kampung", to_csv(["desa_code", "name", "formed_on"], kampung_rows(CODES)))
    await api.run("kependudukan", FILES["kependudukan"], period=PERIOD)
    kkbpk = (await api.post("kkbpk", FILES["kkbpk"], period=PERIOD)).json()["id"]
    await api.post("kependudukan", FILES["kependudukan"], period="2024-07")
    await api.post("profil", FILES["profil"], period=PERIOD, dry_run=True)

    assert await api.runner.run_once()
    assert (await api.job(kkbpk))["status"] == "succeeded"  # claimed first: nothing it waits for is before it


@pytest.fixture
async def claimers(
    committed_session: AsyncSession,
    fresh_database_url: str,
    redis_url: str,
    classifier_url: str,
    request: pytest.FixtureRequest,
) -> AsyncIterator[tuple[httpx.AsyncClient, str, list[ImportRunner]]]:
    """The app on a committed database, and two claimers with their own connections (as the API and the worker)."""
    await load_demo_regions(committed_session)
    admin = await make_key(committed_session)
    settings: Settings = import_settings(fresh_database_url, redis_url, classifier_url, **request.param)
    app = create_app(settings)
    engine = create_engine(fresh_database_url, pool_size=8)
    try:
        async with app.router.lifespan_context(app):
            maker: async_sessionmaker[AsyncSession] = create_sessionmaker(engine)
            runners = [
                create_runner(
                    settings,
                    kind=kind,
                    sessionmaker=maker,
                    classifier=app.state.classifier,
                    queue=app.state.report_queue,
                )
                for kind in ("api", "worker")
            ]
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://registry.test", timeout=60) as http:
                yield http, admin, runners
    finally:
        await engine.dispose()


async def _drain(runner: ImportRunner) -> None:
    while await runner.run_once():
        pass


async def _post(http: httpx.AsyncClient, admin: str, module: str, body: str, **params: str) -> int:
    headers = {**auth(admin), "Content-Type": "text/csv"}
    response = await http.post("/v1/imports", params={"module": module, **params}, content=body, headers=headers)
    assert response.status_code == 202, response.text
    return int(response.json()["id"])


@pytest.mark.parametrize(
    "claimers",
    [{}, {"import_classify_apart_from": 10, "import_classify_connections": 2}],
    ids=["in_the_merge", "apart"],
    indirect=True,
)
@pytest.mark.parametrize("order", ORDERS, ids=["-".join(order) for order in ORDERS])
async def test_a_month_posted_together_in_any_order_merges_every_row_and_classifies_with_all_three(
    claimers: tuple[httpx.AsyncClient, str, list[ImportRunner]],
    committed_session: AsyncSession,
    order: tuple[str, ...],
) -> None:
    http, admin, runners = claimers
    await _post(http, admin, "kampung", to_csv(["desa_code", "name", "formed_on"], kampung_rows(CODES)))
    await _drain(runners[0])
    ids = {module: await _post(http, admin, module, FILES[module], period=PERIOD) for module in order}

    await asyncio.gather(*(_drain(runner) for runner in runners))
    while await runners[0].run_once():  # a claimer that found nothing to claim while the other ran
        pass

    for module, job_id in ids.items():
        job = (await http.get(f"/v1/imports/{job_id}", headers=auth(admin))).json()
        assert (job["status"], job["rows_inserted"], job["rows_failed"]) == ("succeeded", len(CODES), 0), module
    await committed_session.commit()  # a new snapshot
    for module in order:
        # Both orders: the kkbpk merged last and classified once, with every file's rows.
        assert await classified_with(committed_session, period=JUNE, module=module) == 2 * len(CODES), module
    owed = "SELECT count(*) FROM outbox WHERE topic = 'classify' AND delivered_at IS NULL"
    assert await committed_session.scalar(text(owed)) == 0


@pytest.mark.parametrize("claimers", [{}], indirect=True)
async def test_kependudukan_and_profil_share_a_kampung_lock_that_a_kkbpk_waits_for(
    claimers: tuple[httpx.AsyncClient, str, list[ImportRunner]], fresh_database_url: str
) -> None:
    http, admin, runners = claimers
    await _post(http, admin, "kampung", to_csv(["desa_code", "name", "formed_on"], kampung_rows(CODES[:3])))
    await _drain(runners[0])
    engine = create_engine(fresh_database_url, pool_size=3)
    try:
        maker = create_sessionmaker(engine)
        async with maker() as kependudukan, maker() as profil, maker() as kkbpk:
            ids = list((await kkbpk.execute(text("SELECT id FROM kampung ORDER BY id"))).scalars())
            assert len(ids) == 3
            assert list(await pipeline.lock(kependudukan, ids, shared=True)) == ids
            assert list(await pipeline.lock(profil, ids, shared=True, skip_locked=True)) == ids
            assert await pipeline.lock(kkbpk, ids, skip_locked=True) == {}
            await kependudukan.commit()
            assert await pipeline.lock(kkbpk, ids, skip_locked=True) == {}  # the profil holds them still
            await profil.commit()
            assert list(await pipeline.lock(kkbpk, ids, skip_locked=True)) == ids
            await kkbpk.rollback()
    finally:
        await engine.dispose()


async def _register_kampung(http: httpx.AsyncClient, admin: str, runner: ImportRunner) -> None:
    await _post(http, admin, "kampung", to_csv(["desa_code", "name", "formed_on"], kampung_rows(CODES)))
    await _drain(runner)


async def _classified_with_all_three(session: AsyncSession) -> None:
    for module in ("profil", "kependudukan", "kkbpk"):
        assert await classified_with(session, period=JUNE, module=module) == 2 * len(CODES), module


async def _job(http: httpx.AsyncClient, admin: str, job_id: int) -> dict[str, Any]:
    return dict((await http.get(f"/v1/imports/{job_id}", headers=auth(admin))).json())


async def _until(check: Callable[[], Awaitable[bool]], timeout_s: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("claimers", [{}], indirect=True)
async def test_a_kkbpk_reads_its_file_while_the_profil_merges_then_merges_after_it(
    claimers: tuple[httpx.AsyncClient, str, list[ImportRunner]],
    committed_session: AsyncSession,
    fresh_database_url: str,
) -> None:
    http, admin, runners = claimers
    await _register_kampung(http, admin, runners[0])
    await _post(http, admin, "kependudukan", FILES["kependudukan"], period=PERIOD)
    await _drain(runners[0])
    # Every Kampung KB held: the profil's merge waits behind it.
    profil, kkbpk = await _read_beside_a_waiting_merge(
        claimers,
        fresh_database_url,
        hold="SELECT id FROM kampung FOR UPDATE",
        merging=("profil", FILES["profil"]),
        reading=("kkbpk", FILES["kkbpk"]),  # claimed: the profil is claimed, not queued
    )

    jobs = {module: await _job(http, admin, job_id) for module, job_id in (("profil", profil), ("kkbpk", kkbpk))}
    for module, job in jobs.items():
        assert (job["status"], job["rows_inserted"], job["rows_failed"]) == ("succeeded", len(CODES), 0), module
    assert jobs["kkbpk"]["started_at"] < jobs["profil"]["finished_at"]  # read beside the profil's merge
    assert jobs["kkbpk"]["timings"]["waited"] > 0
    await committed_session.commit()
    await _classified_with_all_three(committed_session)  # merged after the profil: classified once, with all three


KAMPUNG_FILE = to_csv(["desa_code", "name", "formed_on"], kampung_rows(CODES))


@pytest.mark.parametrize("claimers", [{}], indirect=True)
async def test_a_month_posted_with_its_kampung_file_merges_every_row_after_it(
    claimers: tuple[httpx.AsyncClient, str, list[ImportRunner]], committed_session: AsyncSession
) -> None:
    http, admin, runners = claimers
    kampung = await _post(http, admin, "kampung", KAMPUNG_FILE)
    ids = {module: await _post(http, admin, module, FILES[module], period=PERIOD) for module in ORDERS[2]}

    await asyncio.gather(*(_drain(runner) for runner in runners))
    while await runners[0].run_once():  # a claimer that found nothing to claim while the other ran
        pass

    assert (await _job(http, admin, kampung))["rows_inserted"] == len(CODES)
    for module, job_id in ids.items():
        job = await _job(http, admin, job_id)
        assert (job["status"], job["rows_inserted"], job["rows_failed"]) == ("succeeded", len(CODES), 0), module
    await committed_session.commit()
    await _classified_with_all_three(committed_session)


@pytest.mark.parametrize("claimers", [{}], indirect=True)
async def test_a_profil_reads_its_file_while_the_kampung_file_merges_then_addresses_its_rows(
    claimers: tuple[httpx.AsyncClient, str, list[ImportRunner]], fresh_database_url: str
) -> None:
    http, admin, _ = claimers
    kampung, profil = await _read_beside_a_waiting_merge(
        claimers,
        fresh_database_url,
        hold="LOCK TABLE kampung IN SHARE MODE",  # the kampung file's merge waits behind it
        merging=("kampung", KAMPUNG_FILE),
        reading=("profil", FILES["profil"]),  # claimed: the kampung file is claimed, not queued
    )

    jobs = {module: await _job(http, admin, job_id) for module, job_id in (("kampung", kampung), ("profil", profil))}
    assert (jobs["kampung"]["status"], jobs["kampung"]["rows_inserted"]) == ("succeeded", len(CODES))
    job = jobs["profil"]
    assert (job["status"], job["rows_inserted"], job["rows_failed"]) == ("succeeded", len(CODES), 0)
    assert job["started_at"] < jobs["kampung"]["finished_at"]  # read beside the kampung file's merge
    assert job["timings"]["waited"] > 0


@pytest.mark.parametrize("claimers", [{}], indirect=True)
async def test_a_file_defers_to_a_kampung_file_whose_claimer_died_and_is_not_claimed_before_it(
    claimers: tuple[httpx.AsyncClient, str, list[ImportRunner]], committed_session: AsyncSession
) -> None:
    http, admin, runners = claimers
    kampung = await _post(http, admin, "kampung", KAMPUNG_FILE)
    kependudukan = await _post(http, admin, "kependudukan", FILES["kependudukan"], period=PERIOD)
    # Another claimer took the kampung file and died: its lease runs out in 3 s, and nobody renews it.
    await committed_session.execute(text(_CLAIMED_BY_ANOTHER), {"id": kampung, "lease": 3.0})
    await committed_session.commit()

    assert await runners[0].run_once()  # the kependudukan, read, then given back once the lease has run out
    assert tuple((await committed_session.execute(text(_JOB_STATE), {"id": kependudukan})).one()) == ("queued", 0)
    await committed_session.commit()
    assert await runners[0].run_once()  # the kampung file first, claimed again
    assert (await _job(http, admin, kampung))["status"] == "succeeded"
    assert await runners[0].run_once()
    job = await _job(http, admin, kependudukan)
    assert (job["status"], job["rows_inserted"], job["rows_failed"]) == ("succeeded", len(CODES), 0)


_CLAIMED_BY_ANOTHER = """UPDATE import_job SET status = 'running', attempts = 1, claimed_by = 'other:host:1',
                                 claimed_until = clock_timestamp() + :lease * interval '1 second' WHERE id = :id"""
_JOB_STATE = "SELECT status, attempts FROM import_job WHERE id = :id"


@pytest.mark.parametrize("claimers", [{}], indirect=True)
async def test_a_kkbpk_defers_to_a_profil_whose_claimer_died(
    claimers: tuple[httpx.AsyncClient, str, list[ImportRunner]], committed_session: AsyncSession
) -> None:
    http, admin, runners = claimers
    await _register_kampung(http, admin, runners[0])
    await _post(http, admin, "kependudukan", FILES["kependudukan"], period=PERIOD)
    await _drain(runners[0])
    profil = await _post(http, admin, "profil", FILES["profil"], period=PERIOD)
    kkbpk = await _post(http, admin, "kkbpk", FILES["kkbpk"], period=PERIOD)
    # Another claimer took the profil and died: its lease runs out in 3 s, and nobody renews it.
    await committed_session.execute(text(_CLAIMED_BY_ANOTHER), {"id": profil, "lease": 3.0})
    await committed_session.commit()

    # The kkbpk, claimed beside a running profil, reads its file and waits; once the lease has run out it goes back
    # to the queue, its attempt not counted, rather than wait for a claimer that may be itself.
    assert await runners[0].run_once()
    assert tuple((await committed_session.execute(text(_JOB_STATE), {"id": kkbpk})).one()) == ("queued", 0)
    await committed_session.commit()
    assert await runners[0].run_once()  # the profil, claimed again
    assert (await _job(http, admin, profil))["status"] == "succeeded"
    assert await runners[0].run_once()  # then the kkbpk: its BKL rows need the profil, merged before it
    job = await _job(http, admin, kkbpk)
    assert (job["status"], job["rows_inserted"], job["rows_failed"]) == ("succeeded", len(CODES), 0)
    await _classified_with_all_three(committed_session)


@pytest.mark.parametrize("claimers", [{}], indirect=True)
async def test_a_kkbpk_defers_to_a_profil_posted_while_it_reads(
    claimers: tuple[httpx.AsyncClient, str, list[ImportRunner]],
    committed_session: AsyncSession,
    fresh_database_url: str,
) -> None:
    http, admin, runners = claimers
    await _register_kampung(http, admin, runners[0])
    kependudukan = await _post(http, admin, "kependudukan", FILES["kependudukan"], period=PERIOD)
    await committed_session.execute(text(_CLAIMED_BY_ANOTHER), {"id": kependudukan, "lease": 60})
    await committed_session.commit()
    kkbpk = await _post(http, admin, "kkbpk", FILES["kkbpk"], period=PERIOD)
    engine = create_engine(fresh_database_url, pool_size=1)
    try:
        reading = asyncio.ensure_future(runners[0].run_once())  # claimed: the kependudukan is claimed, not queued
        await _until(lambda: _waiting_for_merges(engine))
    finally:
        await engine.dispose()
    profil = await _post(http, admin, "profil", FILES["profil"], period=PERIOD)  # posted just after, as together

    assert await reading
    assert tuple((await committed_session.execute(text(_JOB_STATE), {"id": kkbpk})).one()) == ("queued", 0)
    release = "UPDATE import_job SET status = 'queued', claimed_by = NULL, claimed_until = NULL WHERE id = :id"
    await committed_session.execute(text(release), {"id": kependudukan})  # its claimer gives it back
    await committed_session.commit()
    await _drain(runners[0])
    for job_id in (kependudukan, profil, kkbpk):
        job = await _job(http, admin, job_id)
        assert (job["status"], job["rows_inserted"], job["rows_failed"]) == ("succeeded", len(CODES), 0)
    await _classified_with_all_three(committed_session)


async def _read_beside_a_waiting_merge(
    claimers: tuple[httpx.AsyncClient, str, list[ImportRunner]],
    database_url: str,
    *,
    hold: str,
    merging: tuple[str, str],
    reading: tuple[str, str],
) -> tuple[int, int]:
    """Post two files (module, body) while a transaction that ran `hold` keeps the first one's merge waiting: the
    first runs on one claimer until it waits on that lock, the second on the other until it has read its file and
    waits for the first (both then running); then both finish. Returns the two jobs' ids."""
    http, admin, runners = claimers
    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as holder:
            await holder.execute(text(hold))
            first, second = [
                await _post(http, admin, module, body, **({} if module == "kampung" else {"period": PERIOD}))
                for module, body in (merging, reading)
            ]
            merged = asyncio.ensure_future(runners[0].run_once())
            await _until(lambda: _blocked_on_lock(engine))
            read = asyncio.ensure_future(runners[1].run_once())
            await _until(lambda: _waiting_for_merges(engine))
            for job_id in (first, second):
                assert (await _job(http, admin, job_id))["status"] == "running"
            await holder.rollback()
        assert await merged and await read
    finally:
        await engine.dispose()
    return first, second


async def _blocked_on_lock(engine: AsyncEngine) -> bool:
    waiting = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
    async with engine.connect() as connection:
        return bool(await connection.scalar(text(waiting)))


async def _waiting_for_merges(engine: AsyncEngine) -> bool:
    """Whether the kkbpk has read its file and now waits (its timings are written when it ends: seen from outside, a
    backend that asked whether an import merging before it still runs)."""
    asked = """SELECT count(*) FROM pg_stat_activity
                WHERE datname = current_database() AND query LIKE '%d.claimed_until >= clock_timestamp()%'
                  AND backend_type = 'client backend' AND pid <> pg_backend_pid()"""
    async with engine.connect() as connection:
        return bool(await connection.scalar(text(asked)))
