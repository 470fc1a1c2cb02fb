"""Row errors by row and field, with the same rules as a PUT; unchanged rows, revisions, dry runs, classification."""

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from registry_api.auth.service import Role
from registry_api.imports import job as import_job
from tests.factories import make_key
from tests.imports.conftest import Api
from tests.imports.files import (
    DESA,
    KEPENDUDUKAN_COLUMNS,
    KKBPK_COLUMNS,
    PERIOD,
    PROFIL_COLUMNS,
    kampung_rows,
    kependudukan_row,
    kkbpk_csv_row,
    profil_csv_row,
    to_csv,
)

KAMPUNG_CSV = to_csv(["desa_code", "name", "formed_on"], kampung_rows(DESA[:20]))


def _errors(job: dict[str, Any]) -> set[tuple[int, str, str]]:
    return {(e["row"], e["field"], e["kind"]) for e in job["errors"]}


async def _populated(api: Api) -> None:
    await api.run("kampung", KAMPUNG_CSV)
    job = await api.run(
        "kependudukan", to_csv(KEPENDUDUKAN_COLUMNS, [kependudukan_row(c) for c in DESA[:20]]), period=PERIOD
    )
    assert job["rows_inserted"] == 20, job


async def test_row_errors_name_row_and_field_and_valid_rows_load(api: Api, session: AsyncSession) -> None:
    await _populated(api)
    rows = [kkbpk_csv_row(code) for code in DESA[:8]]
    rows[1]["KB_SUNTIK"] = -3  # negative count (row 2)
    rows[2]["HAMIL"] = 5  # users + non-users != PUS (row 3)
    rows[3]["BKB"] = 41  # over families_with_balita = 40 (row 4)
    rows[4]["desa_code"] = "99.01.01.9999"  # unknown desa (row 5)
    rows[5]["desa_code"] = DESA[25]  # a desa without a Kampung KB (row 6)
    rows[6]["BKR"] = "sepuluh"  # wrong type (row 7)
    job = await api.run("kkbpk", to_csv(KKBPK_COLUMNS, rows), period=PERIOD)
    assert job["status"] == "succeeded", job
    assert (job["rows_total"], job["rows_ok"], job["rows_failed"], job["rows_inserted"]) == (8, 2, 6, 2)
    assert _errors(job) == {
        (2, "KB_SUNTIK", "invalid"),
        (3, "kb_users", "cross_module"),
        (4, "poktan_participants.BKB", "cross_module"),
        (5, "desa_code", "unknown_desa"),
        (6, "desa_code", "no_active_kampung"),
        (7, "BKR", "invalid"),
    }
    assert job["error_totals"] == {"invalid": 2, "cross_module": 2, "unknown_desa": 1, "no_active_kampung": 1}
    assert "kependudukan.pus (100)" in next(e["message"] for e in job["errors"] if e["row"] == 3)
    stored = await session.scalar(text("SELECT count(*) FROM submission WHERE module = 'kkbpk'"))
    assert stored == 2


async def test_a_row_error_says_what_a_request_error_says(api: Api) -> None:
    rows = kampung_rows(DESA[:2])
    rows[1]["formed_on"] = "2999-01-01"
    job = await api.run("kampung", to_csv(["desa_code", "name", "formed_on"], rows))
    assert [(e["row"], e["field"], e["message"]) for e in job["errors"]] == [
        (2, "formed_on", "must not be in the future")  # the validator's own words, without pydantic's "Value error, "
    ]


async def test_rules_across_modules_find_errors_on_every_page(
    api: Api, session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rules run a page of rows at a time, each against its own rows' stored modules: pages of 3 rows, errors on
    the first page, a middle one and the last, short one."""
    monkeypatch.setattr(import_job, "_RULES_BATCH", 3)
    await api.run("kampung", KAMPUNG_CSV)
    # Each desa its own PUS, so that a row checked against another row's stored modules fails where it should not.
    codes = DESA[:11]
    kependudukan = [kependudukan_row(code, pus=100 + n) for n, code in enumerate(codes)]
    await api.run("kependudukan", to_csv(KEPENDUDUKAN_COLUMNS, kependudukan), period=PERIOD)
    rows = [kkbpk_csv_row(code, users=70 + n) for n, code in enumerate(codes)]
    for bad in (0, 4, 5, 10):
        rows[bad]["HAMIL"] = 5  # users + non-users != PUS
    job = await api.run("kkbpk", to_csv(KKBPK_COLUMNS, rows), period=PERIOD)
    assert (job["rows_ok"], job["rows_failed"]) == (7, 4), job
    assert _errors(job) == {(row, "kb_users", "cross_module") for row in (1, 5, 6, 11)}
    # A kependudukan of the same period must not break the kkbpk now stored: PUS off by 10 on rows of every page.
    for n in (1, 4, 7):
        kependudukan[n]["pus"] -= 10
    job = await api.run("kependudukan", to_csv(KEPENDUDUKAN_COLUMNS, kependudukan), period=PERIOD)
    failed = {(row, field) for row, field, kind in _errors(job) if kind == "cross_module"}
    assert failed == {(2, "pus"), (8, "pus")}, job  # row 5: its desa holds no kkbpk
    stored = await session.scalar(text("SELECT count(*) FROM submission WHERE module = 'kkbpk'"))
    assert stored == 7


async def test_wrong_codes_and_rules_within_one_payload(api: Api) -> None:
    await api.run("kampung", KAMPUNG_CSV)
    rows = [profil_csv_row(code) for code in DESA[:4]]
    rows[0]["funding_sources"] = "APBD;MONEY_TREE"
    rows[1]["operational"] = "MONEV:SOMETIMES"
    rows[2]["pokja_trained_members"] = 40  # more than its 12 members
    rows[3]["poktan"] = "BKB;BKB"
    job = await api.run("profil", to_csv(PROFIL_COLUMNS, rows), period=PERIOD)
    fields = {(e["row"], e["field"]) for e in job["errors"]}
    assert fields == {(1, "funding_sources"), (2, "operational"), (3, "pokja"), (4, "poktan")}, job["errors"]
    assert job["status"] == "failed" and "no valid rows" in job["reason"]


async def test_rows_outside_the_key_scope_never_load(api: Api, session: AsyncSession) -> None:
    await _populated(api)
    kabupaten_key = await make_key(session, Role.KABUPATEN, "99.01")
    inside, outside = DESA[0], DESA[16]  # 99.01 and 99.71
    rows = [kkbpk_csv_row(inside), kkbpk_csv_row(outside)]
    job = await api.run("kkbpk", to_csv(KKBPK_COLUMNS, rows), period=PERIOD, key=kabupaten_key)
    assert job["status"] == "succeeded" and job["rows_inserted"] == 1, job
    assert [(e["row"], e["kind"]) for e in job["errors"]] == [(2, "out_of_scope")]
    assert job["errors"][0]["message"].startswith("forbidden")
    desa = await session.scalar(
        text("SELECT k.desa_code FROM submission s JOIN kampung k ON k.id = s.kampung_id WHERE s.module = 'kkbpk'")
    )
    assert desa == inside


async def test_unchanged_rows_are_skipped_and_a_change_makes_a_revision(api: Api, session: AsyncSession) -> None:
    await _populated(api)
    rows = [kkbpk_csv_row(code) for code in DESA[:5]]
    first = await api.run("kkbpk", to_csv(KKBPK_COLUMNS, rows), period=PERIOD)
    assert first["rows_inserted"] == 5
    revisions = "SELECT sum(revision) FROM submission"
    before = await session.scalar(text(revisions))
    again = await api.run("kkbpk", to_csv(KKBPK_COLUMNS, rows), period=PERIOD)
    assert (again["rows_unchanged"], again["rows_inserted"], again["rows_updated"]) == (5, 0, 0), again
    assert await session.scalar(text(revisions)) == before
    rows[0] = kkbpk_csv_row(DESA[0], users=60, non_users=40)
    changed = await api.run("kkbpk", to_csv(KKBPK_COLUMNS, rows), period=PERIOD)
    assert (changed["rows_unchanged"], changed["rows_updated"]) == (4, 1), changed
    # The version in force is the submission; the one it replaced is kept as its revision.
    history = await session.execute(
        text("""
        SELECT v.revision, v.payload->'kb_users' AS users
          FROM submission s JOIN kampung k ON k.id = s.kampung_id
         CROSS JOIN LATERAL (SELECT s.revision, s.payload
                             UNION ALL
                             SELECT r.revision, r.payload FROM submission_revision r WHERE r.submission_id = s.id) v
         WHERE k.desa_code = :d AND s.module = 'kkbpk' ORDER BY v.revision"""),
        {"d": DESA[0]},
    )
    assert [(row.revision, sum(row.users.values())) for row in history] == [(1, 70), (2, 60)]


async def test_dry_run_counts_and_writes_nothing(api: Api, session: AsyncSession) -> None:
    await _populated(api)
    rows = [kkbpk_csv_row(code) for code in DESA[:3]]
    rows[2]["HAMIL"] = 99
    counts = (
        "SELECT (SELECT count(*) FROM submission), (SELECT count(*) FROM classification), (SELECT count(*) FROM outbox)"
    )
    before = (await session.execute(text(counts))).one()
    job = await api.run("kkbpk", to_csv(KKBPK_COLUMNS, rows), period=PERIOD, dry_run=True)
    assert job["dry_run"] and job["status"] == "succeeded"
    assert (job["rows_ok"], job["rows_failed"], job["rows_inserted"], job["rows_updated"]) == (2, 1, 2, 0)
    assert (await session.execute(text(counts))).one() == before


async def test_classified_and_one_report_event_per_kabupaten_and_period(api: Api, session: AsyncSession) -> None:
    await _populated(api)
    await session.execute(text("DELETE FROM outbox"))
    rows = [kkbpk_csv_row(code) for code in DESA[:20]]  # 15 in 99.01, 5 in 99.71
    job = await api.run("kkbpk", to_csv(KKBPK_COLUMNS, rows), period=PERIOD)
    assert job["rows_inserted"] == 20 and job["timings"]["classified"] is not None
    classified = await session.execute(
        text("""
        SELECT c.ruleset, count(*) AS n FROM classification c JOIN kampung k ON k.id = c.kampung_id
          JOIN classification_snapshot s ON s.hash = c.snapshot_hash
         WHERE c.period = :p AND s.snapshot->'kkbpk' IS NOT NULL AND s.snapshot->'kkbpk' <> 'null'
         GROUP BY c.ruleset"""),
        {"p": dt.date(2024, 6, 1)},
    )
    assert dict(classified.all()) == {"bkkbn-web-2021": 20, "kkb-2025": 20}
    assert await session.scalar(text("SELECT count(*) FROM kampung WHERE tier IS NOT NULL")) == 20
    keys = await session.execute(text("SELECT topic, key FROM outbox ORDER BY key"))
    assert [tuple(row) for row in keys] == [("report", "2024-06:99.01"), ("report", "2024-06:99.71")]
