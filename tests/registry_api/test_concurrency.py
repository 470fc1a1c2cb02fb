"""Two writers racing on one submission never lose an update: writes to a Kampung KB serialise on its row lock."""

import asyncio

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from registry_api.classifications.models import Classification, ClassificationSnapshot
from registry_api.submissions.models import SubmissionRevision
from tests.factories import auth, kependudukan_payload, load_demo_regions, make_kampung, make_key, put_module

RACERS = 12


async def test_racing_puts_with_the_same_if_match_one_wins(
    live_client: httpx.AsyncClient, committed_session: AsyncSession
) -> None:
    await load_demo_regions(committed_session)
    key = await make_key(committed_session)
    kampung_id = (await make_kampung(live_client, key))["id"]
    first = await put_module(live_client, key, kampung_id, "kependudukan", "2024-01", kependudukan_payload(pus=1))
    assert first.headers["ETag"] == '"v1"'
    responses = await asyncio.gather(
        *(
            put_module(
                live_client,
                key,
                kampung_id,
                "kependudukan",
                "2024-01",
                kependudukan_payload(pus=10 + n),
                **{"If-Match": '"v1"'},
            )
            for n in range(RACERS)
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [412] * (RACERS - 1)
    winner = next(r for r in responses if r.status_code == 200).json()
    got = await live_client.get(f"/v1/kampung/{kampung_id}/kependudukan/2024-01", headers=auth(key))
    assert got.json()["payload"] == winner["payload"]
    assert got.headers["ETag"] == '"v2"'


async def test_racing_puts_without_if_match_all_land_as_revisions(
    live_client: httpx.AsyncClient, committed_session: AsyncSession
) -> None:
    await load_demo_regions(committed_session)
    key = await make_key(committed_session)
    kampung_id = (await make_kampung(live_client, key))["id"]
    responses = await asyncio.gather(
        *(
            put_module(live_client, key, kampung_id, "kependudukan", "2024-01", kependudukan_payload(pus=100 + n))
            for n in range(RACERS)
        )
    )
    assert sorted(r.status_code for r in responses) == [200] * (RACERS - 1) + [201]
    assert sorted(r.json()["revision"] for r in responses) == list(range(1, RACERS + 1))
    revisions = await live_client.get(f"/v1/kampung/{kampung_id}/kependudukan/2024-01/revisions", headers=auth(key))
    assert sorted(r["payload"]["pus"] for r in revisions.json()) == [100 + n for n in range(RACERS)]
    count = await committed_session.scalar(select(func.count()).select_from(SubmissionRevision))
    assert count == RACERS - 1  # every version but the one in force
    # The classification stored last saw the submission that is in force now (not a stale snapshot).
    current = await live_client.get(f"/v1/kampung/{kampung_id}/kependudukan/2024-01", headers=auth(key))
    stored = await committed_session.scalar(
        select(ClassificationSnapshot.snapshot)
        .join(Classification.snapshot)
        .where(Classification.kampung_id == kampung_id, Classification.ruleset == "kkb-2025")
    )
    assert stored is not None
    assert stored["kependudukan"]["pus"] == current.json()["payload"]["pus"]
