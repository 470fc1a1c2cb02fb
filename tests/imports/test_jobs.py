"""Idempotency-Key, the classifier being down, and the job lease: claims, retries, give-up and the fence."""

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kampungkb_local.servers import free_port
from registry_api.background import imports as imports_runner
from registry_api.db import create_engine, create_sessionmaker
from registry_api.imports.job import LeaseLost, Summary, finish
from registry_api.imports.schemas import ImportStatus
from registry_api.main import create_app
from tests.factories import auth, load_demo_regions, make_key
from tests.imports.conftest import Api, failed_jobs, import_settings, in_test_runner
from tests.imports.files import DESA, KEPENDUDUKAN_COLUMNS, PERIOD, kampung_rows, kependudukan_row, to_csv

KAMPUNG_CSV = to_csv(["desa_code", "name", "formed_on"], kampung_rows(DESA[:10]))
KEPENDUDUKAN_CSV = to_csv(KEPENDUDUKAN_COLUMNS, [kependudukan_row(c) for c in DESA[:10]])


async def test_the_same_idempotency_key_returns_the_first_job(api: Api, session: AsyncSession) -> None:
    await api.run("kampung", KAMPUNG_CSV)
    headers = {"Idempotency-Key": "june-upload-1"}
    first = await api.post("kependudukan", KEPENDUDUKAN_CSV, period=PERIOD, headers=headers)
    assert first.status_code == 202, first.text
    await api.run_jobs()
    again = await api.post("kependudukan", KEPENDUDUKAN_CSV, period=PERIOD, headers=headers)
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert again.json()["status"] == "succeeded"
    assert await api.run_jobs() == 0
    assert await session.scalar(text("SELECT sum(revision) FROM submission")) == 10
    other = await api.post("kependudukan", KEPENDUDUKAN_CSV, period="2024-05", headers=headers)
    assert other.status_code == 409


async def test_another_key_does_not_see_the_job(api: Api, session: AsyncSession) -> None:
    response = await api.post("kampung", KAMPUNG_CSV)
    other = await make_key(session)
    assert (await api.http.get(response.json()["status_url"], headers=auth(other))).status_code == 200  # admin
    from registry_api.auth.service import Role

    kabupaten = await make_key(session, Role.KABUPATEN, "99.01")
    assert (await api.http.get(response.json()["status_url"], headers=auth(kabupaten))).status_code == 404


@pytest.fixture
async def live(
    fresh_database_url: str, redis_url: str, classifier_url: str
) -> AsyncIterator[tuple[httpx.AsyncClient, str, async_sessionmaker[AsyncSession]]]:
    """The app on a committed database with its own import runner, as deployed."""
    engine = create_engine(fresh_database_url, pool_size=2)
    sessionmaker = create_sessionmaker(engine)
    async with sessionmaker() as session:
        await load_demo_regions(session)
        key = await make_key(session)
    settings = import_settings(fresh_database_url, redis_url, classifier_url, imports_in_api=True, import_poll_s=0.1)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://registry.test", timeout=30) as http:
            yield http, key, sessionmaker
    await engine.dispose()


async def _finished(http: httpx.AsyncClient, key: str, job_id: int) -> dict[str, object]:
    for _ in range(300):
        job = (await http.get(f"/v1/imports/{job_id}", headers=auth(key))).json()
        if job["status"] in ("succeeded", "failed"):
            return dict(job)
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish: {job}")


async def test_racing_requests_with_one_key_make_one_job(
    live: tuple[httpx.AsyncClient, str, async_sessionmaker[AsyncSession]],
) -> None:
    http, key, sessionmaker = live
    headers = {**auth(key), "Content-Type": "text/csv", "Idempotency-Key": "race"}
    params = {"module": "kampung"}
    responses = await asyncio.gather(
        *(http.post("/v1/imports", params=params, content=KAMPUNG_CSV, headers=headers) for _ in range(4))
    )
    assert sorted(r.status_code for r in responses) == [200, 200, 200, 202], [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    job = await _finished(http, key, responses[0].json()["id"])
    assert job["status"] == "succeeded" and job["rows_inserted"] == 10
    async with sessionmaker() as session:
        assert await session.scalar(text("SELECT count(*) FROM import_job")) == 1
        assert await session.scalar(text("SELECT count(*) FROM kampung")) == 10


async def test_classifier_down_the_import_succeeds_and_leaves_classify_events(
    database_url: str, redis_url: str, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    settings = import_settings(
        database_url, redis_url, f"http://127.0.0.1:{free_port()}", import_classifier_budget_s=0.5
    )
    async with session_factory() as session:
        await load_demo_regions(session)
        key = await make_key(session)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        app.state.sessionmaker = session_factory
        runner = in_test_runner(app, settings, session_factory)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://registry.test") as http:
            api = Api(app=app, http=http, admin=key, runner=runner)
            await api.run("kampung", KAMPUNG_CSV)
            job = await api.run("kependudukan", KEPENDUDUKAN_CSV, period=PERIOD)
    assert job["status"] == "succeeded" and job["rows_inserted"] == 10, job
    async with session_factory() as session:
        assert await session.scalar(text("SELECT count(*) FROM classification")) == 0
        topics = dict((await session.execute(text("SELECT topic, count(*) FROM outbox GROUP BY topic"))).all())
    assert topics == {"classify": 10, "report": 2}


async def test_a_job_whose_claimer_died_is_claimed_again(api: Api, session: AsyncSession) -> None:
    response = await api.post("kampung", KAMPUNG_CSV)
    job_id = response.json()["id"]
    # As if another process had claimed it and died: running, its lease run out.
    await session.execute(
        text("""UPDATE import_job SET status = 'running', attempts = 1, claimed_by = 'api:gone:1',
                claimed_until = now() - interval '1 second' WHERE id = :id"""),
        {"id": job_id},
    )
    assert await api.run_jobs() == 1
    job = await api.job(job_id)
    assert (job["status"], job["attempts"], job["rows_inserted"]) == ("succeeded", 2, 10)


async def test_a_job_within_its_lease_is_left_alone(api: Api, session: AsyncSession) -> None:
    response = await api.post("kampung", KAMPUNG_CSV)
    await session.execute(
        text("""UPDATE import_job SET status = 'running', attempts = 1, claimed_by = 'api:busy:1',
                claimed_until = now() + interval '1 minute' WHERE id = :id"""),
        {"id": response.json()["id"]},
    )
    assert await api.run_jobs() == 0


async def test_after_max_attempts_the_job_fails_with_its_reason(api: Api, session: AsyncSession) -> None:
    response = await api.post("kampung", KAMPUNG_CSV)
    job_id = response.json()["id"]
    await session.execute(
        text("""UPDATE import_job SET status = 'running', attempts = 3, claimed_by = 'api:gone:1',
                last_error = 'OperationalError: connection reset',
                claimed_until = now() - interval '1 second' WHERE id = :id"""),
        {"id": job_id},
    )
    assert await api.run_jobs() == 1
    job = await api.job(job_id)
    assert job["status"] == "failed"
    assert "gave up after 3 attempts" in job["reason"] and "connection reset" in job["reason"]
    assert await session.scalar(text("SELECT count(*) FROM kampung")) == 0


async def test_every_final_failure_is_counted_with_its_reason(api: Api, session: AsyncSession) -> None:
    gave_up, rejected = failed_jobs("gave_up"), failed_jobs("rejected")
    job_id = (await api.post("kampung", KAMPUNG_CSV)).json()["id"]
    await session.execute(
        text("""UPDATE import_job SET status = 'running', attempts = 3, claimed_by = 'api:gone:1',
                claimed_until = now() - interval '1 second' WHERE id = :id"""),
        {"id": job_id},
    )
    assert await api.run_jobs() == 1
    assert (await api.job(job_id))["status"] == "failed"
    assert (failed_jobs("gave_up"), failed_jobs("rejected")) == (gave_up + 1, rejected)

    no_rows = await api.run("kampung", to_csv(["desa_code", "name", "formed_on"], []))
    assert no_rows["status"] == "failed", no_rows
    assert (failed_jobs("gave_up"), failed_jobs("rejected")) == (gave_up + 1, rejected + 1)


async def test_interruptions_that_are_not_the_file_s_are_not_counted(
    api: Api, session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An accepted file is never given up for its process stopping (a deploy) or the database being away, however
    often: such an attempt is handed back uncounted. Only its own errors, or a process dying on it, count."""
    job_id = (await api.post("kampung", KAMPUNG_CSV)).json()["id"]
    run_job = imports_runner.run_job
    interruptions: list[BaseException] = [ConnectionRefusedError("the database restarts")] * 4
    interruptions += [asyncio.CancelledError()] * 2

    async def interrupted(*args: object, **kwargs: object) -> object:
        if interruptions:
            raise interruptions.pop(0)
        return await run_job(*args, **kwargs)

    monkeypatch.setattr(imports_runner, "run_job", interrupted)
    monkeypatch.setattr(imports_runner, "HAND_BACK_TRIES_S", ())
    state = text("SELECT status, attempts, claimed_by, last_error FROM import_job WHERE id = :id")
    for _ in range(4):
        await session.execute(text("UPDATE import_job SET claimed_until = NULL WHERE id = :id"), {"id": job_id})
        assert await api.runner.run_once()
        row = (await session.execute(state, {"id": job_id})).one()
        assert (row.status, row.attempts, row.claimed_by) == ("queued", 0, None)
        assert "the database restarts" in row.last_error
    for _ in range(2):
        await session.execute(text("UPDATE import_job SET claimed_until = NULL WHERE id = :id"), {"id": job_id})
        with pytest.raises(asyncio.CancelledError):
            await api.runner.run_once()
        row = (await session.execute(state, {"id": job_id})).one()
        assert (row.status, row.attempts, row.claimed_by) == ("queued", 0, None)
    assert await api.run_jobs() == 1
    job = await api.job(job_id)
    assert (job["status"], job["attempts"], job["rows_inserted"]) == ("succeeded", 1, 10)


async def test_the_final_status_is_fenced_by_the_claim(api: Api, session: AsyncSession) -> None:
    await api.post("kampung", KAMPUNG_CSV)
    claimed = await api.runner._claim()
    assert claimed is not None
    job, _ = claimed
    await session.execute(text("UPDATE import_job SET claimed_by = 'worker:other:2' WHERE id = :id"), {"id": job.id})
    with pytest.raises(LeaseLost):
        await finish(
            session,
            job=job,
            claimer=api.runner.context.claimer,
            summary=Summary(),
            status=ImportStatus.SUCCEEDED,
            reason=None,
        )


async def test_finished_jobs_count_their_rows_for_prometheus(api: Api) -> None:
    def rows(outcome: str) -> float:
        return (
            REGISTRY.get_sample_value("registry_import_rows_total", {"module": "kependudukan", "outcome": outcome}) or 0
        )

    inserted, unchanged = rows("inserted"), rows("unchanged")
    await api.run("kampung", KAMPUNG_CSV)
    assert (await api.run("kependudukan", KEPENDUDUKAN_CSV, period=PERIOD))["rows_inserted"] == 10
    await api.run("kependudukan", KEPENDUDUKAN_CSV, period=PERIOD)
    assert (rows("inserted"), rows("unchanged")) == (inserted + 10, unchanged + 10)
