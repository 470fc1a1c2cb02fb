"""Revision counting: a write that changes a submission adds a revision (1, 2, 3, ...), one that leaves it as it is
adds none, by `PUT`, by import, and one after the other."""

from typing import Any

from tests.factories import kependudukan_payload, make_kampung, put_module
from tests.imports.conftest import Api
from tests.imports.files import DESA, KEPENDUDUKAN_COLUMNS, PERIOD, kependudukan_row, to_csv
from tests.write_rules.conftest import revisions


async def _put(api: Api, kampung_id: int, pus: int) -> int:
    response = await put_module(api.http, api.admin, kampung_id, "kependudukan", PERIOD, kependudukan_payload(pus))
    assert response.status_code in (200, 201), response.text
    return int(response.json()["revision"])


async def _import(api: Api, pus: int) -> dict[str, Any]:
    job = await api.run("kependudukan", to_csv(KEPENDUDUKAN_COLUMNS, [kependudukan_row(DESA[0], pus)]), period=PERIOD)
    assert (job["status"], job["errors"]) == ("succeeded", []), job
    return {key: job[key] for key in ("rows_inserted", "rows_updated", "rows_unchanged")}


INSERTED = {"rows_inserted": 1, "rows_updated": 0, "rows_unchanged": 0}
UPDATED = {"rows_inserted": 0, "rows_updated": 1, "rows_unchanged": 0}
UNCHANGED = {"rows_inserted": 0, "rows_updated": 0, "rows_unchanged": 1}


async def test_put_counts_a_revision_per_change_only(api: Api) -> None:
    kampung_id = (await make_kampung(api.http, api.admin, DESA[0]))["id"]
    assert [await _put(api, kampung_id, pus) for pus in (100, 100, 90, 90, 80)] == [1, 1, 2, 2, 3]
    assert await revisions(api, kampung_id, "kependudukan", PERIOD) == [3, 2, 1]


async def test_import_counts_a_revision_per_change_only(api: Api) -> None:
    kampung_id = (await make_kampung(api.http, api.admin, DESA[0]))["id"]
    assert [await _import(api, pus) for pus in (100, 100, 90, 90, 80)] == [
        INSERTED,
        UNCHANGED,
        UPDATED,
        UNCHANGED,
        UPDATED,
    ]
    assert await revisions(api, kampung_id, "kependudukan", PERIOD) == [3, 2, 1]


async def test_put_and_import_count_on_the_same_revisions(api: Api) -> None:
    kampung_id = (await make_kampung(api.http, api.admin, DESA[0]))["id"]
    assert await _put(api, kampung_id, 100) == 1
    # The import compares with what the PUT stored: the same content is unchanged, another one the next revision.
    assert await _import(api, 100) == UNCHANGED
    assert await _import(api, 90) == UPDATED
    assert await revisions(api, kampung_id, "kependudukan", PERIOD) == [2, 1]
    # A PUT of what the import stored changes nothing; a PUT of something else counts on.
    assert await _put(api, kampung_id, 90) == 2
    assert await _put(api, kampung_id, 80) == 3
    assert await _import(api, 80) == UNCHANGED
    assert await _import(api, 70) == UPDATED
    assert await revisions(api, kampung_id, "kependudukan", PERIOD) == [4, 3, 2, 1]


async def test_an_import_first_then_a_put(api: Api) -> None:
    kampung_id = (await make_kampung(api.http, api.admin, DESA[0]))["id"]
    assert await _import(api, 100) == INSERTED
    assert await _put(api, kampung_id, 100) == 1
    assert await _put(api, kampung_id, 95) == 2
    assert await revisions(api, kampung_id, "kependudukan", PERIOD) == [2, 1]
