"""What an export holds: the newest row at or before the period, of active Kampung KB, and classifications without
their explanation."""

import csv
import io
import json

from kampungkb_shared.classification import Indices, Scores
from tests.exports.conftest import Registry
from tests.exports.test_round_trip import kampung_file
from tests.imports.files import (
    DESA,
    KEPENDUDUKAN_COLUMNS,
    PROFIL_COLUMNS,
    kependudukan_row,
    kkbpk_csv_row,
    profil_csv_row,
    to_csv,
)

KKBPK_COLUMNS = ["desa_code", "BKB", "BKR", "KB_SUNTIK", "KB_IMPLAN", "HAMIL", "IAT"]


def rows_of(text: str) -> dict[str, dict[str, str]]:
    return {row["desa_code"]: row for row in csv.DictReader(io.StringIO(text))}


async def test_the_newest_submission_at_or_before_the_period(registry: Registry) -> None:
    await registry.imported("kampung", kampung_file(DESA[:3]), period=None)
    may = [kependudukan_row(code, pus=80) for code in DESA[:2]]
    await registry.imported("kependudukan", to_csv(KEPENDUDUKAN_COLUMNS, may), period="2024-05")
    june = [kependudukan_row(DESA[1], pus=120), kependudukan_row(DESA[2], pus=130)]
    await registry.imported("kependudukan", to_csv(KEPENDUDUKAN_COLUMNS, june), period="2024-06")
    await registry.value(
        "UPDATE kampung SET active = false WHERE desa_code = $1", DESA[2]
    )  # no longer a Kampung KB: not exported

    in_june = rows_of((await registry.export("kependudukan", period="2024-06")).text)
    assert {code: row["pus"] for code, row in in_june.items()} == {DESA[0]: "80", DESA[1]: "120"}
    in_may = rows_of((await registry.export("kependudukan", period="2024-05")).text)
    assert {code: row["pus"] for code, row in in_may.items()} == {DESA[0]: "80", DESA[1]: "80"}
    in_april = await registry.export("kependudukan", period="2024-04")
    assert in_april.text.splitlines() == [",".join([*KEPENDUDUKAN_COLUMNS, "population_male", "population_female"])]
    formed = rows_of((await registry.export("kampung", period="2019-02")).text)
    assert formed == {}  # the test Kampung KB were formed in 2019-03


async def test_classifications_of_a_rule_set_without_explanation(registry: Registry) -> None:
    desa = DESA[:4]
    await registry.imported("kampung", kampung_file(desa), period=None)
    await registry.imported("profil", to_csv(PROFIL_COLUMNS, [profil_csv_row(c) for c in desa]))
    await registry.imported("kependudukan", to_csv(KEPENDUDUKAN_COLUMNS, [kependudukan_row(c) for c in desa]))
    job = await registry.imported("kkbpk", to_csv(KKBPK_COLUMNS, [kkbpk_csv_row(c) for c in desa]))
    assert job["rows_inserted"] == 4, job

    primary = await registry.export("classifications", period="2024-07")
    assert primary.status_code == 200, primary.text
    rows = rows_of(primary.text)
    assert sorted(rows) == sorted(desa)
    header = primary.text.splitlines()[0].split(",")
    assert [*Scores.model_fields] == header[8:20]
    assert [f"{group}_index" for group in Indices.model_fields] == header[5:8]
    for code, row in rows.items():
        stored = await registry.value(
            """SELECT c.tier || ' ' || c.ruleset_hash FROM classification c JOIN kampung k ON k.id = c.kampung_id
                WHERE k.desa_code = $1 AND c.ruleset = 'bkkbn-web-2021' AND c.period = '2024-06-01'""",
            code,
        )
        assert f"{row['tier']} {row['ruleset_hash']}" == stored
        assert (row["period"], row["ruleset"]) == ("2024-06", "bkkbn-web-2021")
        assert row["input_passed"] in ("true", "false")

    other = await registry.export("classifications", period="2024-06", ruleset="kkb-2025", format="ndjson")
    lines = [json.loads(line) for line in other.text.splitlines()]
    assert {line["ruleset"] for line in lines} == {"kkb-2025"}
    assert set(lines[0]) == {"desa_code", "period", "ruleset", "ruleset_hash", "tier", "indices", "scores", "passed"}
    assert set(lines[0]["scores"]) == set(Scores.model_fields)
    before = await registry.export("classifications", period="2024-05")
    assert len(before.text.splitlines()) == 1  # the header only: nothing was classified before June


async def test_each_kampung_kb_s_classification_of_the_month_or_else_the_newest_before(registry: Registry) -> None:
    """The month's own classification where it has one, the newest before it where it has none: the two in one
    export, under each rule set."""
    desa = DESA[:3]
    await registry.imported("kampung", kampung_file(desa), period=None)
    await registry.imported("profil", to_csv(PROFIL_COLUMNS, [profil_csv_row(c) for c in desa]))
    await registry.imported("kependudukan", to_csv(KEPENDUDUKAN_COLUMNS, [kependudukan_row(c) for c in desa]))
    await registry.imported("kkbpk", to_csv(KKBPK_COLUMNS, [kkbpk_csv_row(c) for c in desa]))
    july = [kkbpk_csv_row(DESA[1], users=90, non_users=10)]
    job = await registry.imported("kkbpk", to_csv(KKBPK_COLUMNS, july), period="2024-07")
    assert job["rows_inserted"] == 1, job

    for ruleset in ("bkkbn-web-2021", "kkb-2025"):
        rows = rows_of((await registry.export("classifications", period="2024-07", ruleset=ruleset)).text)
        assert {code: row["period"] for code, row in rows.items()} == {
            DESA[0]: "2024-06",
            DESA[1]: "2024-07",
            DESA[2]: "2024-06",
        }
        assert {row["ruleset"] for row in rows.values()} == {ruleset}
        stored = await registry.value(
            """SELECT c.tier FROM classification c JOIN kampung k ON k.id = c.kampung_id
                WHERE k.desa_code = $1 AND c.ruleset = $2 AND c.period = '2024-07-01'""",
            DESA[1],
            ruleset,
        )
        assert rows[DESA[1]]["tier"] == stored
