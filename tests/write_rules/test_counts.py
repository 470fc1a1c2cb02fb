"""Counts are bounded (`MAX_COUNT`): one beyond it is refused by `PUT` (a 422 naming the field) and by import (a row
error naming the same field), never stored, and never a 500 (a count past 64 bits once failed the write)."""

from kampungkb_shared.modules import MAX_COUNT
from tests.factories import errors_of, kependudukan_payload, make_kampung, put_module
from tests.imports.conftest import Api
from tests.imports.files import DESA, KEPENDUDUKAN_COLUMNS, kependudukan_row, to_csv
from tests.write_rules.conftest import row_errors


async def test_a_count_beyond_the_bound_is_refused_both_ways(api: Api) -> None:
    kampung_id = (await make_kampung(api.http, api.admin, DESA[0]))["id"]
    await make_kampung(api.http, api.admin, DESA[1])
    for pus in (MAX_COUNT + 1, 2**64 + 1):
        put = await put_module(api.http, api.admin, kampung_id, "kependudukan", "2024-01", kependudukan_payload(pus))
        assert errors_of(put) == [["body", "pus"]]
        job = await api.run(
            "kependudukan", to_csv(KEPENDUDUKAN_COLUMNS, [kependudukan_row(DESA[1], pus)]), period="2024-01"
        )
        assert {(row, field) for row, field, _ in row_errors(job)} == {(1, "pus")}, job
    at = await put_module(api.http, api.admin, kampung_id, "kependudukan", "2024-01", kependudukan_payload(MAX_COUNT))
    assert at.status_code == 201, at.text
