"""A record imported last time is recognised by its source hash and not validated again; any other write forgets it."""

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from registry_api.auth.service import Role
from registry_api.imports.formats import ImportModule
from registry_api.imports.reading import source_hasher
from tests.factories import auth, make_key
from tests.imports.conftest import Api
from tests.imports.files import (
    DESA,
    KEPENDUDUKAN_COLUMNS,
    PERIOD,
    kampung_rows,
    kependudukan_row,
    to_csv,
    to_ndjson,
)

CODES = DESA[:6]  # 99.01
KAMPUNG_CSV = to_csv(["desa_code", "name", "formed_on"], kampung_rows(CODES))
ROWS = [kependudukan_row(code, pus=100 + i) for i, code in enumerate(CODES)]
KEPENDUDUKAN_CSV = to_csv(KEPENDUDUKAN_COLUMNS, ROWS)

_STORED = text("""
    SELECT k.desa_code, s.source_hash FROM submission s JOIN kampung k ON k.id = s.kampung_id
     WHERE s.module = 'kependudukan' ORDER BY k.desa_code
""")


async def _imported(api: Api) -> None:
    assert (await api.run("kampung", KAMPUNG_CSV))["rows_inserted"] == len(CODES)
    assert (await api.run("kependudukan", KEPENDUDUKAN_CSV, period=PERIOD))["rows_inserted"] == len(CODES)


async def test_each_row_keeps_the_hash_of_the_record_it_came_from(api: Api, session: AsyncSession) -> None:
    await _imported(api)
    header, *lines = KEPENDUDUKAN_CSV.splitlines()
    digest = source_hasher(ImportModule.KEPENDUDUKAN, header)
    assert [tuple(row) for row in await session.execute(_STORED)] == [
        (code, digest(line)) for code, line in zip(CODES, lines, strict=True)
    ]
    kampung_header, *kampung_lines = KAMPUNG_CSV.splitlines()
    kampung = await session.execute(text("SELECT source_hash FROM kampung ORDER BY desa_code"))
    assert list(kampung.scalars()) == [source_hasher(ImportModule.KAMPUNG, kampung_header)(x) for x in kampung_lines]


async def test_the_same_records_again_are_unchanged_without_validation(api: Api, session: AsyncSession) -> None:
    await _imported(api)
    # A stored row that no longer matches its content (as no write path leaves one) shows that the record was
    # recognised by its source hash alone: validating it would have found the content changed.
    await session.execute(
        text("UPDATE submission SET content_hash = 'x' WHERE kampung_id = (SELECT min(kampung_id) FROM submission)")
    )
    again = await api.run("kependudukan", KEPENDUDUKAN_CSV, period=PERIOD)
    assert (again["rows_unchanged"], again["rows_updated"], again["rows_failed"]) == (len(CODES), 0, 0), again
    kampung_again = await api.run("kampung", KAMPUNG_CSV)
    assert kampung_again["rows_unchanged"] == len(CODES), kampung_again


async def test_another_header_order_or_format_is_validated_and_found_unchanged_by_content(
    api: Api, session: AsyncSession
) -> None:
    await _imported(api)
    reordered = to_csv(list(reversed(KEPENDUDUKAN_COLUMNS)), ROWS)
    job = await api.run("kependudukan", reordered, period=PERIOD)
    assert (job["rows_unchanged"], job["rows_updated"]) == (len(CODES), 0), job
    ndjson = await api.run("kependudukan", to_ndjson(ROWS), fmt="ndjson", period=PERIOD)
    assert (ndjson["rows_unchanged"], ndjson["rows_updated"]) == (len(CODES), 0), ndjson


async def test_a_put_forgets_the_source_so_the_same_file_writes_the_row_back(api: Api, session: AsyncSession) -> None:
    await _imported(api)
    kampung_id = await session.scalar(text("SELECT id FROM kampung WHERE desa_code = :d"), {"d": CODES[0]})
    body = {k: v for k, v in kependudukan_row(CODES[0], pus=999).items() if k != "desa_code"}
    response = await api.http.put(f"/v1/kampung/{kampung_id}/kependudukan/{PERIOD}", json=body, headers=auth(api.admin))
    assert response.status_code == 200, response.text
    stored = {row.desa_code: row.source_hash for row in await session.execute(_STORED)}
    assert stored[CODES[0]] is None and all(stored[code] for code in CODES[1:])
    job = await api.run("kependudukan", KEPENDUDUKAN_CSV, period=PERIOD)
    assert (job["rows_unchanged"], job["rows_updated"]) == (len(CODES) - 1, 1), job
    pus = await session.scalar(
        text("SELECT payload->>'pus' FROM submission WHERE kampung_id = :k AND module = 'kependudukan'"),
        {"k": kampung_id},
    )
    assert pus == "100"


async def test_a_kampung_patch_forgets_the_source(api: Api, session: AsyncSession) -> None:
    await _imported(api)
    kampung_id = await session.scalar(text("SELECT id FROM kampung WHERE desa_code = :d"), {"d": CODES[0]})
    response = await api.http.patch(f"/v1/kampung/{kampung_id}", json={"name": "Renamed"}, headers=auth(api.admin))
    assert response.status_code == 200, response.text
    assert await session.scalar(text("SELECT source_hash FROM kampung WHERE id = :k"), {"k": kampung_id}) is None
    job = await api.run("kampung", KAMPUNG_CSV)
    assert (job["rows_unchanged"], job["rows_updated"]) == (len(CODES) - 1, 1), job


async def test_recognised_rows_still_need_the_key_scope(api: Api, session: AsyncSession) -> None:
    await _imported(api)
    kota_key = await make_key(session, Role.KABUPATEN, "99.71")
    job = await api.run("kependudukan", KEPENDUDUKAN_CSV, period=PERIOD, key=kota_key)
    assert job["status"] == "failed" and {e["kind"] for e in job["errors"]} == {"out_of_scope"}, job


async def test_recognised_rows_repeated_or_beside_a_changed_row_of_their_desa_are_duplicates(api: Api) -> None:
    await _imported(api)
    header, *lines = KEPENDUDUKAN_CSV.splitlines()
    changed = to_csv(KEPENDUDUKAN_COLUMNS, [kependudukan_row(CODES[1], pus=999)]).splitlines()[1]
    # Rows 1-6 as imported, then row 1 again (recognised), then desa 2 with new content (validated): both repeats.
    body = "\n".join([header, *lines, lines[0], changed]) + "\n"
    job = await api.run("kependudukan", body, period=PERIOD)
    assert (job["rows_unchanged"], job["rows_updated"], job["rows_failed"]) == (len(CODES), 0, 2), job
    assert [(e["row"], e["kind"], e["message"][:35]) for e in job["errors"]] == [
        (7, "duplicate", "this desa_code appears already at r"),
        (8, "duplicate", "this desa_code appears already at r"),
    ]
    assert "row 1:" in job["errors"][0]["message"] and "row 2:" in job["errors"][1]["message"]

    # Nothing staged (every row recognised): a repeat among them still fails.
    body = "\n".join([header, *lines, lines[2]]) + "\n"
    job = await api.run("kependudukan", body, period=PERIOD)
    assert (job["rows_unchanged"], job["rows_updated"], job["rows_failed"]) == (len(CODES), 0, 1), job
    assert [(e["row"], e["kind"]) for e in job["errors"]] == [(7, "duplicate")]
    assert "row 3:" in job["errors"][0]["message"]

    # A changed row first, its recognised twin after it: the recognised one is the repeat.
    body = "\n".join([header, changed, *lines]) + "\n"
    job = await api.run("kependudukan", body, period=PERIOD)
    assert (job["rows_unchanged"], job["rows_updated"], job["rows_failed"]) == (len(CODES) - 1, 1, 1), job
    assert [(e["row"], e["kind"]) for e in job["errors"]] == [(3, "duplicate")]
