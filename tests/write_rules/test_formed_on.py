"""A Kampung KB's `formed_on` (tanggal pencanangan): from 2016-01-01, the programme's launch, up to today."""

import datetime as dt

import pytest

from tests.factories import auth, errors_of, make_kampung, today
from tests.imports.conftest import Api
from tests.imports.files import DESA, to_csv
from tests.write_rules.conftest import kampung_at, row_errors

KAMPUNG_COLUMNS = ["desa_code", "name", "formed_on"]
REFUSED = [("2015-12-31", "before the programme"), ((today() + dt.timedelta(days=1)).isoformat(), "in the future")]
ACCEPTED = ["2016-01-01", today().isoformat()]


def _kampung_csv(*rows: tuple[str, str]) -> str:
    return to_csv(KAMPUNG_COLUMNS, [{"desa_code": c, "name": f"Kampung KB {c}", "formed_on": f} for c, f in rows])


@pytest.mark.parametrize(("formed_on", "why"), REFUSED)
async def test_post_and_patch_refuse_a_date_outside_the_programme(api: Api, formed_on: str, why: str) -> None:
    body = {"name": "Kampung KB Baru", "desa_code": DESA[0], "formed_on": formed_on}
    created = await api.http.post("/v1/kampung", json=body, headers=auth(api.admin))
    assert errors_of(created) == [["body", "formed_on"]], why
    kampung = await make_kampung(api.http, api.admin, DESA[0], formed_on="2020-05-01")
    patched = await api.http.patch(
        f"/v1/kampung/{kampung['id']}", json={"formed_on": formed_on}, headers=auth(api.admin)
    )
    assert errors_of(patched) == [["body", "formed_on"]], why
    assert (await kampung_at(api, DESA[0]))[0]["formed_on"] == "2020-05-01"


async def test_import_refuses_a_date_outside_the_programme_as_a_row_error(api: Api) -> None:
    await make_kampung(api.http, api.admin, DESA[2], formed_on="2020-05-01")
    (early, _), (late, _) = REFUSED
    # New Kampung KB (rows 1, 2) and an update of a registered one (row 3) alike.
    job = await api.run("kampung", _kampung_csv((DESA[0], early), (DESA[1], late), (DESA[2], early)))
    assert row_errors(job) == {(1, "formed_on", "invalid"), (2, "formed_on", "invalid"), (3, "formed_on", "invalid")}
    assert job["status"] == "failed", job
    assert await kampung_at(api, DESA[0]) == [] and await kampung_at(api, DESA[1]) == []
    assert (await kampung_at(api, DESA[2]))[0]["formed_on"] == "2020-05-01"


async def test_the_first_day_and_today_are_accepted_both_ways(api: Api) -> None:
    first, now = ACCEPTED
    assert (await make_kampung(api.http, api.admin, DESA[0], formed_on=first))["formed_on"] == first
    kampung = await make_kampung(api.http, api.admin, DESA[1], formed_on=first)
    patched = await api.http.patch(f"/v1/kampung/{kampung['id']}", json={"formed_on": now}, headers=auth(api.admin))
    assert (patched.status_code, patched.json()["formed_on"]) == (200, now), patched.text
    job = await api.run("kampung", _kampung_csv((DESA[2], first), (DESA[3], now), (DESA[0], now)))
    assert (job["status"], job["rows_inserted"], job["rows_updated"], job["errors"]) == ("succeeded", 2, 1, []), job
    assert [(await kampung_at(api, code))[0]["formed_on"] for code in DESA[:4]] == [now, now, first, now]
