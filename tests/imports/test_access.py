"""Imports and access: a revoked key's job fails at its claim or before it commits, writing nothing; claims go to
the principal with the fewest jobs running, and no principal runs more than its limit at once."""

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry_api.auth.service import Role
from registry_api.settings import Settings
from tests.factories import auth, make_key
from tests.imports.conftest import Api, failed_jobs, in_test_runner
from tests.imports.files import DESA, kampung_rows, to_csv

KAMPUNG_CSV = to_csv(["desa_code", "name", "formed_on"], kampung_rows(DESA[:5]))


async def _revoke(api: Api, key: str) -> None:
    response = await api.http.delete(f"/v1/keys/{key.split('_')[1]}", headers=auth(api.admin))
    assert response.status_code == 204, response.text


async def test_a_queued_job_of_a_revoked_key_fails_at_its_claim(api: Api, session: AsyncSession) -> None:
    sender = await make_key(session, Role.INTEGRATION, "99")
    posted = await api.post("kampung", KAMPUNG_CSV, key=sender)
    assert posted.status_code == 202, posted.text
    await _revoke(api, sender)
    revoked = failed_jobs("key_revoked")
    assert await api.run_jobs() == 1
    job = await api.job(posted.json()["id"])
    assert (job["status"], job["reason"]) == ("failed", "key revoked")
    assert await session.scalar(text("SELECT count(*) FROM kampung")) == 0
    assert failed_jobs("key_revoked") == revoked + 1


async def test_a_running_job_of_a_key_revoked_meanwhile_fails_before_it_commits(
    api: Api, session: AsyncSession
) -> None:
    sender = await make_key(session, Role.INTEGRATION, "99")
    posted = await api.post("kampung", KAMPUNG_CSV, key=sender)
    claimed = await api.runner._claim()  # claimed while the key was valid ...
    assert claimed is not None
    await _revoke(api, sender)  # ... revoked while it runs
    revoked = failed_jobs("key_revoked")
    await api.runner._execute(claimed[0])
    job = await api.job(posted.json()["id"])
    assert (job["status"], job["reason"]) == ("failed", "key revoked")
    assert await session.scalar(text("SELECT count(*) FROM kampung")) == 0
    assert failed_jobs("key_revoked") == revoked + 1


async def test_claims_are_fair_across_principals_and_limited_per_principal(api: Api, session: AsyncSession) -> None:
    busy = await make_key(session, Role.INTEGRATION, "99")
    other = await make_key(session, Role.INTEGRATION, "99")
    limit = api.runner.running_per_principal
    assert limit == 3
    busy_jobs = [(await api.post("kampung", KAMPUNG_CSV, key=busy)).json()["id"] for _ in range(limit + 1)]
    other_job = (await api.post("kampung", KAMPUNG_CSV, key=other)).json()["id"]

    claimed = []
    while (claim := await api.runner._claim()) is not None:
        claimed.append(claim[0].id)
    # the other principal's job, sent last, runs second: before the busy principal's second job
    assert claimed == [busy_jobs[0], other_job, *busy_jobs[1:limit]]
    # the busy principal's last job waits until one of its running jobs ends
    queued = await session.scalar(text("SELECT status FROM import_job WHERE id = :id"), {"id": busy_jobs[limit]})
    assert queued == "queued"


async def test_the_runners_of_one_process_each_claim_as_themselves(
    api: Api, settings: Settings, session_factory: async_sessionmaker[AsyncSession], session: AsyncSession
) -> None:
    """`REGISTRY_IMPORT_RUNNERS` runners in one process claim under names of their own, so that the fence on
    `claimed_by` keeps each job to the runner that claimed it."""
    second = in_test_runner(api.app, settings, session_factory, runner=1)
    jobs = [(await api.post("kampung", KAMPUNG_CSV)).json()["id"] for _ in range(2)]
    first_claim, second_claim = await api.runner._claim(), await second._claim()
    assert first_claim is not None and second_claim is not None
    names = {row.id: row.claimed_by for row in await session.execute(text("SELECT id, claimed_by FROM import_job"))}
    assert names[jobs[1]] == f"{names[jobs[0]]}/1"
    await second._execute(second_claim[0])
    await api.runner._execute(first_claim[0])
    assert [(await api.job(job))["status"] for job in jobs] == ["succeeded", "succeeded"]
