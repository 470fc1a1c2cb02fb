"""Imports honour approved months row by row: a row into an approved month is a row error, the others load."""

import datetime as dt

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from kampungkb_shared.closing import Closing
from registry_api.approvals.service import refused_writes
from registry_api.auth.service import Role
from tests.factories import auth, make_key, nation_principal
from tests.imports.conftest import Api
from tests.imports.files import DESA, KEPENDUDUKAN_COLUMNS, PERIOD, kampung_rows, kependudukan_row, to_csv, to_ndjson

KECAMATAN = DESA[0][:8]


async def test_rows_into_an_approved_month_are_row_errors(api: Api, session: AsyncSession) -> None:
    await api.run("kampung", to_csv(["desa_code", "name", "formed_on"], kampung_rows(DESA[:20])))
    approved = [code for code in DESA[:20] if code.startswith(KECAMATAN + ".")]
    assert 0 < len(approved) < 20
    kecamatan = await make_key(session, Role.KECAMATAN, KECAMATAN)
    integration = await make_key(session, Role.INTEGRATION, "99")
    response = await api.http.put(f"/v1/approvals/{KECAMATAN}/{PERIOD}", headers=auth(kecamatan))
    assert response.status_code == 200, response.text

    rows = [kependudukan_row(code) for code in DESA[:20]]
    job = await api.run("kependudukan", to_csv(KEPENDUDUKAN_COLUMNS, rows), period=PERIOD, key=integration)
    assert job["status"] == "succeeded", job
    assert (job["rows_failed"], job["rows_inserted"]) == (len(approved), 20 - len(approved))
    failed = {(error["row"], error["field"], error["kind"]) for error in job["errors"]}
    assert failed == {(DESA.index(code) + 1, "desa_code", "period_approved") for code in approved}
    assert job["error_totals"] == {"period_approved": len(approved)}

    # The officer who approved it still corrects it by import; after reopening, the integration's rows load.
    own = [kependudukan_row(code) for code in approved]
    job = await api.run("kependudukan", to_csv(KEPENDUDUKAN_COLUMNS, own), period=PERIOD, key=kecamatan)
    assert (job["rows_failed"], job["rows_inserted"]) == (0, len(approved)), job
    response = await api.http.delete(f"/v1/approvals/{KECAMATAN}/{PERIOD}", headers=auth(kecamatan))
    assert response.status_code == 200, response.text
    changed = [kependudukan_row(code, pus=120) for code in DESA[:20]]
    job = await api.run("kependudukan", to_csv(KEPENDUDUKAN_COLUMNS, changed), period=PERIOD, key=integration)
    assert (job["rows_failed"], job["rows_updated"]) == (0, 20), job


async def test_activities_dated_in_an_approved_month_are_row_errors(api: Api, session: AsyncSession) -> None:
    """A kegiatan file writes into each activity's month: those dated in the approved month fail, naming the date,
    and the same Kampung KB's activities of the month after load."""
    await api.run("kampung", to_csv(["desa_code", "name", "formed_on"], kampung_rows(DESA[:2])))
    kecamatan = await make_key(session, Role.KECAMATAN, KECAMATAN)
    integration = await make_key(session, Role.INTEGRATION, "99")
    response = await api.http.put(f"/v1/approvals/{KECAMATAN}/{PERIOD}", headers=auth(kecamatan))
    assert response.status_code == 200, response.text
    assert DESA[0].startswith(KECAMATAN + ".")

    def activity(day: str) -> dict[str, object]:
        return {"desa_code": DESA[0], "title": f"Penyuluhan {day}", "date": day, "function": "REPRODUKSI"}

    month_after = (dt.date.fromisoformat(f"{PERIOD}-01") + dt.timedelta(days=31)).strftime("%Y-%m")
    rows = [activity(f"{PERIOD}-03"), activity(f"{month_after}-03"), activity(f"{PERIOD}-20")]
    job = await api.run("kegiatan", to_ndjson(rows), fmt="ndjson", key=integration)
    assert job["status"] == "succeeded", job
    assert (job["rows_failed"], job["rows_inserted"]) == (2, 1), job
    assert {(error["row"], error["field"], error["kind"]) for error in job["errors"]} == {
        (1, "date", "period_approved"),
        (3, "date", "period_approved"),
    }
    dates = await session.scalars(text("SELECT date FROM kegiatan"))
    assert [day.isoformat() for day in dates] == [f"{month_after}-03"]

    # The approving officer may still record them.
    job = await api.run("kegiatan", to_ndjson(rows), fmt="ndjson", key=kecamatan)
    assert (job["rows_failed"], job["rows_inserted"], job["rows_unchanged"]) == (0, 2, 1), job


async def test_each_refusal_of_a_closed_month_names_its_own_kampung(api: Api, session: AsyncSession) -> None:
    """The check judges a month without approval rows once per period; each Kampung KB's refusal keeps its own code."""
    await api.run("kampung", to_csv(["desa_code", "name", "formed_on"], kampung_rows(DESA[:3])))
    ids = list((await session.execute(text("SELECT id FROM kampung ORDER BY id"))).scalars())
    integration = nation_principal(Role.INTEGRATION, "closed")
    closed_month = dt.date(2020, 1, 1)
    refused = await refused_writes(
        session,
        kampung_ids=ids,
        periods=[closed_month] * len(ids),
        principal=integration,
        closing=Closing(after_days=5, time_zone="Asia/Jakarta"),
    )
    assert [(status.code, status.state) for status in refused if status is not None] == [
        (str(kampung_id), "closed") for kampung_id in ids
    ]
