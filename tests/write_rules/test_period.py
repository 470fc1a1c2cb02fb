"""A submission's period: a month from 2016-01 (the programme's start) up to this month, whichever way it arrives."""

import pytest

from kampungkb_shared.periods import add_months, format_period
from tests.factories import errors_of, kependudukan_payload, make_kampung, put_module, today
from tests.imports.conftest import Api
from tests.imports.files import DESA, KEPENDUDUKAN_COLUMNS, kependudukan_row, to_csv

KEPENDUDUKAN_CSV = to_csv(KEPENDUDUKAN_COLUMNS, [kependudukan_row(DESA[1])])


@pytest.mark.parametrize(
    ("period", "why"),
    [("2015-12", "before the programme"), (format_period(add_months(today(), 1)), "in the future")],
)
async def test_a_month_outside_the_programme_is_refused_both_ways(api: Api, period: str, why: str) -> None:
    kampung = await make_kampung(api.http, api.admin, DESA[0])
    await make_kampung(api.http, api.admin, DESA[1])
    put = await put_module(api.http, api.admin, kampung["id"], "kependudukan", period, kependudukan_payload())
    assert errors_of(put) == [["path", "period"]], why
    # The import's period is one for the whole file: the request is refused before any job is queued.
    posted = await api.post("kependudukan", KEPENDUDUKAN_CSV, period=period)
    assert errors_of(posted) == [["query", "period"]], why
    assert await api.run_jobs() == 0


@pytest.mark.parametrize("period", ["2016-01", format_period(today())], ids=["first-month", "this-month"])
async def test_the_first_month_and_this_month_are_accepted_both_ways(api: Api, period: str) -> None:
    kampung = await make_kampung(api.http, api.admin, DESA[0])
    await make_kampung(api.http, api.admin, DESA[1])
    put = await put_module(api.http, api.admin, kampung["id"], "kependudukan", period, kependudukan_payload())
    assert put.status_code == 201, put.text
    job = await api.run("kependudukan", KEPENDUDUKAN_CSV, period=period)
    assert (job["status"], job["rows_inserted"], job["errors"]) == ("succeeded", 1, []), job
