"""The rules that join modules, checked against what is in force: the same refusals by `PUT` (a 422 naming the field)
and by import (a row error naming the same field, kind `cross_module`).

Each test stores the same data for two Kampung KB, then writes the same record to one by `PUT` and to the other by
import, and expects the same outcome.
"""

from typing import Any

from tests.factories import (
    errors_of,
    kependudukan_payload,
    kkbpk_payload,
    make_kampung,
    profil_payload,
    put_module,
)
from tests.imports.conftest import Api
from tests.imports.files import (
    DESA,
    KEPENDUDUKAN_COLUMNS,
    KKBPK_COLUMNS,
    PROFIL_COLUMNS,
    kependudukan_row,
    kkbpk_csv_row,
    profil_csv_row,
    to_csv,
)
from tests.write_rules.conftest import row_errors

BY_PUT, BY_IMPORT = DESA[0], DESA[1]
COLUMNS = {"kependudukan": KEPENDUDUKAN_COLUMNS, "kkbpk": KKBPK_COLUMNS, "profil": PROFIL_COLUMNS}


async def _two_kampung(api: Api, *stored: tuple[str, str, dict[str, Any]]) -> list[int]:
    """Kampung KB on `BY_PUT` and `BY_IMPORT`, each with the `(module, period, body)` submissions stored; their ids."""
    ids = [(await make_kampung(api.http, api.admin, code))["id"] for code in (BY_PUT, BY_IMPORT)]
    for kampung_id in ids:
        for module, period, body in stored:
            response = await put_module(api.http, api.admin, kampung_id, module, period, body)
            assert response.status_code == 201, response.text
    return [int(i) for i in ids]


async def _both_ways(
    api: Api, kampung_id: int, module: str, period: str, body: dict[str, Any], row: dict[str, Any]
) -> tuple[list[list[Any]] | int, set[tuple[int, str, str]] | int]:
    """The same record written by `PUT` (to the first Kampung KB) and by import (to the second): the `PUT`'s error
    locations (or its status when it is stored) and the import's row errors (or its rows inserted)."""
    put = await put_module(api.http, api.admin, kampung_id, module, period, body)
    job = await api.run(module, to_csv(COLUMNS[module], [{**row, "desa_code": BY_IMPORT}]), period=period)
    assert job["status"] in ("succeeded", "failed"), job
    return (
        put.status_code if put.status_code < 400 else errors_of(put),
        job["rows_inserted"] + job["rows_updated"] if not job["errors"] else row_errors(job),
    )


async def test_kkbpk_users_and_non_users_add_up_to_the_pus_in_force(api: Api) -> None:
    kampung_id, other = await _two_kampung(api)
    no_pus = await _both_ways(api, kampung_id, "kkbpk", "2024-02", kkbpk_payload(70, 30), kkbpk_csv_row(BY_PUT))
    assert no_pus == ([["body", "kb_users"]], {(1, "kb_users", "cross_module")})
    for kampung in (kampung_id, other):
        pus = await put_module(api.http, api.admin, kampung, "kependudukan", "2024-01", kependudukan_payload(pus=100))
        assert pus.status_code == 201, pus.text
    wrong = await _both_ways(api, kampung_id, "kkbpk", "2024-02", kkbpk_payload(70, 31), kkbpk_csv_row(BY_PUT, 70, 31))
    assert wrong == ([["body", "kb_users"]], {(1, "kb_users", "cross_module")})
    right = await _both_ways(api, kampung_id, "kkbpk", "2024-02", kkbpk_payload(70, 30), kkbpk_csv_row(BY_PUT, 70, 30))
    assert right == (201, 1)


async def test_poktan_participants_stay_within_their_denominator(api: Api) -> None:
    kampung_id, _ = await _two_kampung(api, ("kependudukan", "2024-01", kependudukan_payload(families_with_balita=40)))
    over = kkbpk_payload(poktan_participants={"BKB": 41, "BKR": 10})
    outcome = await _both_ways(api, kampung_id, "kkbpk", "2024-01", over, {**kkbpk_csv_row(BY_PUT), "BKB": 41})
    assert outcome == ([["body", "poktan_participants", "BKB"]], {(1, "poktan_participants.BKB", "cross_module")})
    at = kkbpk_payload(poktan_participants={"BKB": 40, "BKR": 10})
    assert await _both_ways(api, kampung_id, "kkbpk", "2024-01", at, {**kkbpk_csv_row(BY_PUT), "BKB": 40}) == (201, 1)


async def test_participants_only_for_poktan_the_profil_in_force_marks_present(api: Api) -> None:
    kampung_id, _ = await _two_kampung(
        api,
        ("kependudukan", "2024-01", kependudukan_payload()),
        ("profil", "2024-01", profil_payload(poktan=["BKB"])),
    )
    counted = kkbpk_payload(poktan_participants={"BKB": 20, "BKR": 10})
    outcome = await _both_ways(api, kampung_id, "kkbpk", "2024-02", counted, kkbpk_csv_row(BY_PUT))
    assert outcome == ([["body", "poktan_participants", "BKR"]], {(1, "poktan_participants.BKR", "cross_module")})
    none = kkbpk_payload(poktan_participants={"BKB": 20, "BKR": 0})
    assert await _both_ways(api, kampung_id, "kkbpk", "2024-02", none, {**kkbpk_csv_row(BY_PUT), "BKR": 0}) == (201, 1)


async def test_a_profil_that_marks_no_poktan_and_a_kependudukan_with_its_population(api: Api) -> None:
    """The kkbpk's rules read only the poktan a profil marks (none at all is no poktan present, not an unknown
    profil) and a kependudukan's counts (its population by age group aside)."""
    population = {"male": list(range(16)), "female": list(range(16, 32))}
    kampung_id, _ = await _two_kampung(
        api,
        ("kependudukan", "2024-01", kependudukan_payload(pus=100, population=population)),
        ("profil", "2024-01", profil_payload(poktan=[])),
    )
    counted = kkbpk_payload(poktan_participants={"BKB": 20, "BKR": 0})
    outcome = await _both_ways(api, kampung_id, "kkbpk", "2024-02", counted, {**kkbpk_csv_row(BY_PUT), "BKR": 0})
    assert outcome == ([["body", "poktan_participants", "BKB"]], {(1, "poktan_participants.BKB", "cross_module")})
    wrong = kkbpk_payload(70, 31, poktan_participants={})
    row = {**kkbpk_csv_row(BY_PUT, 70, 31), "BKB": 0, "BKR": 0}
    assert await _both_ways(api, kampung_id, "kkbpk", "2024-02", wrong, row) == (
        [["body", "kb_users"]],
        {(1, "kb_users", "cross_module")},
    )
    right = kkbpk_payload(70, 30, poktan_participants={})
    row = {**kkbpk_csv_row(BY_PUT, 70, 30), "BKB": 0, "BKR": 0}
    assert await _both_ways(api, kampung_id, "kkbpk", "2024-02", right, row) == (201, 1)


async def test_a_kependudukan_that_would_break_a_stored_kkbpk_is_refused(api: Api) -> None:
    kampung_id, _ = await _two_kampung(
        api,
        ("kependudukan", "2024-01", kependudukan_payload(pus=100)),
        ("kkbpk", "2024-02", kkbpk_payload(70, 30)),
        ("kependudukan", "2024-04", kependudukan_payload(pus=60)),
        ("kkbpk", "2024-05", kkbpk_payload(40, 20)),
    )
    # January's PUS governs February's kkbpk (70 + 30): refused both ways, naming the field and the kkbpk.
    jan = await _both_ways(
        api, kampung_id, "kependudukan", "2024-01", kependudukan_payload(pus=90), kependudukan_row(BY_PUT, pus=90)
    )
    assert jan == ([["body", "pus"]], {(1, "pus", "cross_module")})
    # March governs no kkbpk (none in March, and April's kependudukan governs May's): stored both ways.
    mar = await _both_ways(
        api, kampung_id, "kependudukan", "2024-03", kependudukan_payload(pus=1), kependudukan_row(BY_PUT, pus=1)
    )
    assert mar == (201, 1)
    # A denominator counts too: April's governs May's kkbpk, whose BKB counts 20 participants.
    fewer = kependudukan_payload(pus=60, families_with_balita=5)
    apr = await _both_ways(
        api,
        kampung_id,
        "kependudukan",
        "2024-04",
        fewer,
        kependudukan_row(BY_PUT, pus=60) | {"families_with_balita": 5},
    )
    assert apr == ([["body", "families_with_balita"]], {(1, "families_with_balita", "cross_module")})


async def test_a_profil_that_would_drop_a_counted_poktan_is_refused(api: Api) -> None:
    kampung_id, _ = await _two_kampung(
        api,
        ("kependudukan", "2024-01", kependudukan_payload()),
        ("kkbpk", "2024-02", kkbpk_payload(poktan_participants={"BKR": 10})),
        ("profil", "2024-03", profil_payload(poktan=["BKB", "BKR", "BKL"])),
        ("kkbpk", "2024-04", kkbpk_payload(poktan_participants={"BKL": 5})),
    )
    dropped = profil_payload(poktan=["BKB", "BKL"])
    row = {**profil_csv_row(BY_PUT), "poktan": "BKB;BKL"}
    assert await _both_ways(api, kampung_id, "profil", "2024-01", dropped, row) == (
        [["body", "poktan"]],
        {(1, "poktan", "cross_module")},
    )
    # From March the stored profil governs, and it is March's that must keep BKL for April's kkbpk.
    march = profil_payload(poktan=["BKB", "BKR"])
    row = {**profil_csv_row(BY_PUT), "poktan": "BKB;BKR"}
    assert await _both_ways(api, kampung_id, "profil", "2024-03", march, row) == (
        [["body", "poktan"]],
        {(1, "poktan", "cross_module")},
    )
    later = profil_payload(poktan=["BKB"])
    assert await _both_ways(
        api, kampung_id, "profil", "2024-05", later, {**profil_csv_row(BY_PUT), "poktan": "BKB"}
    ) == (
        201,
        1,
    )
