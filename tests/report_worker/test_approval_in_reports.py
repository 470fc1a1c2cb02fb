"""Reports show the approval status of the region's month and of each child region's."""

import asyncpg
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from registry_api.auth.service import Role
from report_worker.aggregates import rebuild_period
from tests.factories import auth, make_key
from tests.report_worker.data import PERIODS, RULESETS, Dataset

PERIOD = PERIODS[2]
MONTH = PERIOD.strftime("%Y-%m")


@pytest.fixture
async def computed(pg: asyncpg.Connection, dataset: Dataset) -> None:
    await rebuild_period(pg, period=PERIOD, rulesets=RULESETS)


async def test_report_children_carry_their_approval(
    client: httpx.AsyncClient, session: AsyncSession, computed: None
) -> None:
    kabupaten = await make_key(session, Role.KABUPATEN, "97.01")
    response = await client.put(f"/v1/approvals/97.01.01/{MONTH}", headers=auth(kabupaten))
    assert response.status_code == 200, response.text

    report = (await client.get(f"/v1/reports/97.01?period={MONTH}")).json()
    assert report["approval"]["state"] == "open"
    states = {child["code"]: child["approval"]["state"] for child in report["children"]}
    assert states["97.01.01"] == "approved" and len(states) > 1
    assert set(states.values()) == {"approved", "open"}
    kecamatan = (await client.get(f"/v1/reports/97.01.01?period={MONTH}")).json()
    assert kecamatan["approval"]["state"] == "approved" and kecamatan["approval"]["approved_in"] == "97.01.01"

    assert (await client.put(f"/v1/approvals/97.01/{MONTH}", headers=auth(kabupaten))).status_code == 200
    report = (await client.get(f"/v1/reports/97.01?period={MONTH}")).json()
    assert report["approval"]["state"] == "approved"
    assert {child["approval"]["approved_in"] for child in report["children"]} == {"97.01"}
    provinsi = (await client.get(f"/v1/reports/97?period={MONTH}")).json()
    by_code = {child["code"]: child["approval"]["state"] for child in provinsi["children"]}
    assert by_code["97.01"] == "approved" and provinsi["approval"]["state"] == "open"
