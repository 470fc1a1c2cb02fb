"""An export imported again is reported by the import as every row unchanged, for each module and each format.

Each test imports a generated file, exports it as CSV and as NDJSON, imports each export again and checks that the
import saw every row unchanged and wrote nothing (no revision, no new row, no changed Kampung KB).
"""

import csv
import io
import json
from typing import Any

from registry_api.imports.formats import FORMATS, ImportModule
from tests.exports.conftest import Registry
from tests.imports.files import (
    DESA,
    KEPENDUDUKAN_COLUMNS,
    PERIOD,
    PROFIL_COLUMNS,
    kampung_rows,
    kependudukan_row,
    kkbpk_csv_row,
    profil_csv_row,
    to_csv,
)

NAMES = ['=HYPERLINK("http://evil.example","x")', "+62 Kampung", "-Kampung Minus", "@Kampung", 'Kampung "Maju", Jaya']
KAMPUNG_COLUMNS = ["desa_code", "name", "formed_on", "scope", "rw_dusun_name", "formation_criteria", "lat", "lon"]
KEGIATAN_COLUMNS = ["desa_code", "title", "date", "function", "targets", "partners", "inpres_kegiatan"]


def kampung_file(desa: list[str] = DESA[:10]) -> str:
    rows: list[dict[str, Any]] = kampung_rows(desa)
    for row, name in zip(rows, NAMES, strict=False):
        row["name"] = name
    rows[1] |= {"scope": "RW", "rw_dusun_name": "=1+1", "formation_criteria": "PESERTA_KB_RENDAH;WILAYAH_KHUSUS"}
    rows[2] |= {"lat": "-6.208763", "lon": "106.845599", "scope": "DUSUN", "rw_dusun_name": "Dusun Krajan"}
    return to_csv(KAMPUNG_COLUMNS, rows)


async def round_trip(registry: Registry, module: ImportModule, body: str, *, writes: str, **params: str) -> str:
    """Import `body`, then export and import again in both formats; returns the CSV export."""
    period = params.get("period")
    first = await registry.imported(module.value, body, period=period)
    assert (first["status"], first["rows_failed"]) == ("succeeded", 0), first
    written = await registry.value(writes)
    exported = {}
    for fmt in ("csv", "ndjson"):
        response = await registry.export(module.value, format=fmt, **params)
        assert response.status_code == 200, response.text
        exported[fmt] = response.text
        again = await registry.imported(module.value, response.content, fmt=fmt, period=period)
        assert again["status"] == "succeeded", again
        assert again["rows_total"] == first["rows_total"], (fmt, again)
        assert again["rows_unchanged"] == again["rows_total"], (fmt, again)
    assert await registry.value(writes) == written
    assert exported["csv"].splitlines()[0] == ",".join(FORMATS[module].columns)
    ndjson = [json.loads(line) for line in exported["ndjson"].splitlines()]
    assert len(ndjson) == first["rows_total"]
    return exported["csv"]


def cells(export: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(export)))


async def test_kampung(registry: Registry) -> None:
    export = await round_trip(
        registry,
        ImportModule.KAMPUNG,
        kampung_file(),
        writes="SELECT sum(version) || max(updated_at)::text FROM kampung",
    )
    rows = cells(export)
    assert [row["desa_code"] for row in rows] == sorted(DESA[:10])
    by_desa = {row["desa_code"]: row for row in rows}
    # Formula starts are quoted in the CSV; the import takes the quote off again (the round trip above).
    assert by_desa[DESA[0]]["name"] == "'" + NAMES[0]
    assert by_desa[DESA[1]]["rw_dusun_name"] == "'=1+1"
    assert by_desa[DESA[4]]["name"] == NAMES[4]
    assert by_desa[DESA[2]]["lat"] == "-6.208763"  # a number keeps its sign: only names are neutralised
    assert await registry.value("SELECT name FROM kampung WHERE desa_code = $1", DESA[0]) == NAMES[0]


async def test_profil(registry: Registry) -> None:
    await registry.imported("kampung", kampung_file(), period=None)
    rows = [profil_csv_row(code, members=10 + i) for i, code in enumerate(DESA[:10])]
    rows[3] |= {"operational": "", "funding_sources": "", "pengarah": "KADER", "pkb_pendamping": "false"}
    rows[4] |= {"pokja_exists": "false", "pokja_sk": "false", "pokja_members": 0, "pokja_trained_members": 0}
    rows[4] |= {"pokja_trained": "false"}
    export = await round_trip(
        registry,
        ImportModule.PROFIL,
        to_csv(PROFIL_COLUMNS, rows),
        writes="SELECT sum(revision) || max(submitted_at)::text FROM submission",
        period=PERIOD,
    )
    first = cells(export)[0]
    assert first["operational"].split(";") == ["RAPAT_KOORDINASI:BULANAN", "MONEV:TRIWULAN"] or sorted(
        first["operational"].split(";")
    ) == ["MONEV:TRIWULAN", "RAPAT_KOORDINASI:BULANAN"]
    assert (first["pokja_exists"], first["funding_sources"]) == ("true", "APBD;DANA_DESA")


async def test_kependudukan(registry: Registry) -> None:
    await registry.imported("kampung", kampung_file(), period=None)
    rows = [kependudukan_row(code, pus=90 + i) for i, code in enumerate(DESA[:10])]
    columns = [*KEPENDUDUKAN_COLUMNS, "population_male", "population_female"]
    rows[0] |= {"population_male": ";".join(str(n) for n in range(16)), "population_female": ";".join(["7"] * 16)}
    export = await round_trip(
        registry,
        ImportModule.KEPENDUDUKAN,
        to_csv(columns, rows),
        writes="SELECT sum(revision) || max(submitted_at)::text FROM submission",
        period=PERIOD,
    )
    by_desa = {row["desa_code"]: row for row in cells(export)}
    assert by_desa[DESA[0]]["population_male"] == ";".join(str(n) for n in range(16))
    assert by_desa[DESA[1]]["population_male"] == ""


async def test_kkbpk(registry: Registry) -> None:
    await registry.imported("kampung", kampung_file(), period=None)
    await registry.imported("kependudukan", to_csv(KEPENDUDUKAN_COLUMNS, [kependudukan_row(c) for c in DESA[:10]]))
    rows = [kkbpk_csv_row(code) for code in DESA[:10]]
    rows[2] |= {"BKB": 0}  # a zero is kept as a zero, an absent count stays absent
    columns = ["desa_code", "BKB", "BKR", "KB_SUNTIK", "KB_IMPLAN", "HAMIL", "IAT"]
    export = await round_trip(
        registry,
        ImportModule.KKBPK,
        to_csv(columns, rows),
        writes="SELECT sum(revision) || max(submitted_at)::text FROM submission",
        period=PERIOD,
    )
    by_desa = {row["desa_code"]: row for row in cells(export)}
    assert (by_desa[DESA[2]]["BKB"], by_desa[DESA[2]]["KB_PIL"], by_desa[DESA[2]]["KB_SUNTIK"]) == ("0", "", "47")


async def test_kegiatan(registry: Registry) -> None:
    await registry.imported("kampung", kampung_file(), period=None)
    rows = [
        {"desa_code": DESA[0], "title": "=1+1", "date": "2024-06-12", "function": "REPRODUKSI"},
        {"desa_code": DESA[0], "title": "Penyuluhan KB", "date": "2024-06-02", "function": "REPRODUKSI"},
        {"desa_code": DESA[1], "title": "-Senam lansia", "date": "2024-05-30", "function": "PERLINDUNGAN"},
        {"desa_code": DESA[2], "title": "Rapat Pokja, bulanan", "date": "2024-06-01", "function": "PENDIDIKAN"},
    ]
    rows[0] |= {"targets": "PUS;REMAJA", "partners": "PUSKESMAS;BPS", "inpres_kegiatan": "BKB"}
    export = await round_trip(
        registry,
        ImportModule.KEGIATAN,
        to_csv(KEGIATAN_COLUMNS, [{c: "" for c in KEGIATAN_COLUMNS} | row for row in rows]),
        writes="SELECT count(*) || max(id)::text FROM kegiatan",
        from_="2024-05-01",
        to="2024-06-30",
    )
    listed = cells(export)
    assert [(row["desa_code"], row["title"]) for row in listed] == [
        (DESA[0], "Penyuluhan KB"),
        (DESA[0], "'=1+1"),
        (DESA[1], "'-Senam lansia"),
        (DESA[2], "Rapat Pokja, bulanan"),
    ]
    june = await registry.export("kegiatan", from_="2024-06-01", to="2024-06-10")
    assert [row["title"] for row in cells(june.text)] == ["Penyuluhan KB", "Rapat Pokja, bulanan"]
