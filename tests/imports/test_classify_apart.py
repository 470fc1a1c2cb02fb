"""A large import commits its merge, then classifies on connections of its own; a retry resumes there."""

import datetime as dt

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from registry_api.auth.service import Role
from registry_api.background import imports as runner_module
from registry_api.changes import handover
from registry_api.imports import apart
from registry_api.settings import Settings
from tests.factories import make_key
from tests.imports.conftest import Api, classified_with, import_settings
from tests.imports.files import (
    KEPENDUDUKAN_COLUMNS,
    KKBPK_COLUMNS,
    MONTH_DESA,
    PERIOD,
    kampung_rows,
    kependudukan_row,
    kkbpk_csv_row,
    to_csv,
)

CODES = MONTH_DESA
KEPENDUDUKAN_CSV = to_csv(KEPENDUDUKAN_COLUMNS, [kependudukan_row(c) for c in CODES])
KKBPK_CSV = to_csv(KKBPK_COLUMNS, [kkbpk_csv_row(c) for c in CODES])
JUNE = dt.date(2024, 6, 1)

REPORT_LEASE_S = 30
# Released: due, or queued and leased to their job (`REPORT_LEASE_S`), no longer held for the hand-over (two minutes).
_REPORT_EVENTS = text(f"""
    SELECT key, available_at <= clock_timestamp() + interval '{REPORT_LEASE_S} seconds' AS released
      FROM outbox WHERE topic = 'report' ORDER BY key
""")


@pytest.fixture
def settings(database_url: str, redis_url: str, classifier_url: str) -> Settings:
    # One connection: the test's sessions share one. Real processes classify on two (tests/e2e/test_import_restart).
    return import_settings(
        database_url,
        redis_url,
        classifier_url,
        import_classify_apart_from=10,
        import_classify_connections=1,
        report_lease_s=REPORT_LEASE_S,
    )


async def _kampung(api: Api) -> None:
    job = await api.run("kampung", to_csv(["desa_code", "name", "formed_on"], kampung_rows(CODES)))
    assert job["status"] == "succeeded"


async def test_a_large_import_classifies_after_its_merge_with_what_was_handed_over(
    api: Api, session: AsyncSession
) -> None:
    await _kampung(api)
    await session.execute(text("DELETE FROM outbox"))
    first = (await api.post("kependudukan", KEPENDUDUKAN_CSV, period=PERIOD)).json()["id"]
    second = (await api.post("kkbpk", KKBPK_CSV, period=PERIOD)).json()["id"]
    assert await api.run_jobs() == 2

    job = await api.job(second)
    assert job["status"] == "succeeded", job
    assert (job["rows_total"], job["rows_inserted"], job["rows_failed"]) == (20, 20, 0)
    assert job["timings"]["handed_over"] is not None and job["timings"]["classified"] is not None
    assert job["timings"]["total"] >= job["timings"]["loaded"] + job["timings"]["classified"]
    merged = await session.execute(
        text("SELECT id, merged_at IS NOT NULL FROM import_job WHERE id IN (:a, :b)"), {"a": first, "b": second}
    )
    assert {row[0]: row[1] for row in merged} == {first: False, second: True}  # the first handed over to the second
    for module in ("kependudukan", "kkbpk"):
        classified = await classified_with(session, period=JUNE, module=module)
        assert classified == 2 * len(CODES), module  # one classification, with both files' data
    pending = "SELECT count(*) FROM outbox WHERE topic = 'classify' AND delivered_at IS NULL"
    assert await session.scalar(text(pending)) == 0
    reports = [tuple(row) for row in await session.execute(_REPORT_EVENTS)]
    assert reports == [("2024-06:99.01", True), ("2024-06:99.71", True)]  # written due later, made due at the end


async def test_a_large_import_classifies_a_slice_at_a_time(
    api: Api, session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(apart, "SLICE", 3)
    taken: list[int] = []
    take = handover.take

    async def counted(*args: object, **kwargs: object) -> handover.HandedOver:
        slice_ = await take(*args, **kwargs)  # type: ignore[arg-type]
        taken.append(len(slice_.earliest))
        return slice_

    monkeypatch.setattr(handover, "take", counted)
    await _kampung(api)
    await session.execute(text("DELETE FROM outbox"))
    job_id = (await api.post("kependudukan", KEPENDUDUKAN_CSV, period=PERIOD)).json()["id"]
    assert await api.run_jobs() == 1

    assert (await api.job(job_id))["status"] == "succeeded"
    assert taken == [3, 3, 3, 3, 3, 3, 2, 0]  # 20 Kampung KB, three at a time, then none left
    assert await classified_with(session, period=JUNE, module="kependudukan") == 2 * len(CODES)
    pending = "SELECT count(*) FROM outbox WHERE topic = 'classify' AND delivered_at IS NULL"
    assert await session.scalar(text(pending)) == 0
    reports = [tuple(row) for row in await session.execute(_REPORT_EVENTS)]
    assert set(reports) == {("2024-06:99.01", True), ("2024-06:99.71", True)}  # each slice's, all due at the end


async def test_a_retry_after_the_merge_committed_resumes_at_the_classification(
    api: Api, session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _kampung(api)
    job_id = (await api.post("kependudukan", KEPENDUDUKAN_CSV, period=PERIOD)).json()["id"]

    async def died(*args: object, **kwargs: object) -> list[int]:
        raise RuntimeError("the process stopped after the merge committed")

    with monkeypatch.context() as patched:
        patched.setattr(runner_module, "classify_apart", died)
        assert await api.runner.run_once()
    job = await api.job(job_id)
    assert (job["status"], job["attempts"]) == ("queued", 1)
    assert await session.scalar(text("SELECT count(*) FROM classification")) == 0
    assert await session.scalar(text("SELECT sum(revision) FROM submission")) == len(CODES)

    await session.execute(
        text("UPDATE import_job SET claimed_until = clock_timestamp() - interval '1 second' WHERE id = :id"),
        {"id": job_id},
    )
    assert await api.runner.run_once()
    job = await api.job(job_id)
    assert (job["status"], job["attempts"]) == ("succeeded", 2)
    # The counts are the merge's, not a second reading of the file (which would find every row unchanged).
    assert (job["rows_total"], job["rows_inserted"], job["rows_unchanged"]) == (20, 20, 0)
    assert await session.scalar(text("SELECT sum(revision) FROM submission")) == len(CODES)
    assert await classified_with(session, period=JUNE, module="kependudukan") == 2 * len(CODES)


@pytest.mark.parametrize("when", ["while it classifies", "before its retry"])
async def test_a_key_revoked_after_the_merge_committed_refuses_nothing(
    api: Api, session: AsyncSession, monkeypatch: pytest.MonkeyPatch, when: str
) -> None:
    """The rows are in once the merge committed: a key revoked afterwards does not turn the job into a failure that
    loaded nothing. Its classification, derived from rows already in, is completed and the job says what it loaded."""
    await _kampung(api)
    key = await make_key(session, Role.INTEGRATION, "99")
    job_id = (await api.post("kependudukan", KEPENDUDUKAN_CSV, period=PERIOD, key=key)).json()["id"]
    revoke = text("UPDATE api_key SET revoked_at = now() WHERE prefix = :prefix")
    classify_apart = runner_module.classify_apart

    async def revoked_then_classified(*args: object, **kwargs: object) -> list[int]:
        await session.execute(revoke, {"prefix": key.split("_")[1]})
        return await classify_apart(*args, **kwargs)

    async def died(*args: object, **kwargs: object) -> list[int]:
        await session.execute(revoke, {"prefix": key.split("_")[1]})
        raise RuntimeError("the process stopped after the merge committed")

    with monkeypatch.context() as patched:
        patched.setattr(runner_module, "classify_apart", revoked_then_classified if when.startswith("while") else died)
        assert await api.runner.run_once()
    if when == "before its retry":
        await session.execute(
            text("UPDATE import_job SET claimed_until = clock_timestamp() - interval '1 second' WHERE id = :id"),
            {"id": job_id},
        )
        assert await api.runner.run_once()
    job = await api.job(job_id)
    assert (job["status"], job["reason"], job["rows_inserted"]) == ("succeeded", None, len(CODES)), job
    assert await classified_with(session, period=JUNE, module="kependudukan") == 2 * len(CODES)


async def test_a_small_import_still_classifies_inside_its_own_transaction(api: Api, session: AsyncSession) -> None:
    await _kampung(api)
    few = to_csv(KEPENDUDUKAN_COLUMNS, [kependudukan_row(c) for c in CODES[:5]])
    job = await api.run("kependudukan", few, period=PERIOD)
    assert job["status"] == "succeeded" and job["timings"]["handed_over"] is None
    assert await session.scalar(text("SELECT count(*) FROM import_job WHERE merged_at IS NOT NULL")) == 0
    assert await classified_with(session, period=JUNE, module="kependudukan") == 2 * 5


async def test_a_slice_takes_every_event_of_its_kampung_kb(api: Api, session: AsyncSession) -> None:
    """Two files merged side by side each hand a Kampung KB over (neither sees the other's event before it commits):
    both events fall in one slice, so that no Kampung KB is classified in two."""
    await _kampung(api)
    await session.execute(text("DELETE FROM outbox"))
    ids = list((await session.execute(text("SELECT id FROM kampung ORDER BY id"))).scalars())
    for period in (JUNE, dt.date(2024, 5, 1)):  # the second file's events after all of the first's
        await session.execute(
            text("""INSERT INTO outbox (topic, key, payload, available_at)
                    SELECT 'classify', k::text,
                           jsonb_build_object('kampung_id', k, 'period', CAST(:period AS text), 'handover', true), now()
                      FROM unnest(CAST(:ids AS bigint[])) AS k ORDER BY k"""),
            {"ids": ids, "period": period.strftime("%Y-%m")},
        )
    slices, after = [], 0
    while (taken := await handover.take(session, after=after, limit=3)).last_kampung:
        after = taken.last_kampung
        slices.append(taken.earliest)
    assert [sorted(s) for s in slices] == [ids[i : i + 3] for i in range(0, len(ids), 3)]
    assert all(period == dt.date(2024, 5, 1) for s in slices for period in s.values())  # the earlier of the two
    assert await session.scalar(text("SELECT count(*) FROM outbox WHERE topic = 'classify'")) == 0
