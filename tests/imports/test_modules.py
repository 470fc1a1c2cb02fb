"""Every module imports from CSV and from NDJSON, and lands as the PUT path would store it."""

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import auth
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
    kkbpk_ndjson_row,
    profil_csv_row,
    profil_payload,
    to_csv,
    to_ndjson,
)


async def _kampung_ids(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(text("SELECT desa_code, id FROM kampung WHERE active"))
    return {row.desa_code: row.id for row in rows}


async def test_kampung_csv_creates_then_reimport_is_unchanged(api: Api, session: AsyncSession) -> None:
    body = to_csv(["desa_code", "name", "formed_on"], kampung_rows(DESA[:10]))
    job = await api.run("kampung", body)
    assert job["status"] == "succeeded", job
    assert (job["rows_total"], job["rows_ok"], job["rows_inserted"], job["rows_failed"]) == (10, 10, 10, 0)
    assert set(await _kampung_ids(session)) == set(DESA[:10])
    again = await api.run("kampung", body)
    assert (again["rows_unchanged"], again["rows_inserted"], again["rows_updated"]) == (10, 0, 0)


async def test_kampung_ndjson_updates_the_active_one(api: Api, session: AsyncSession) -> None:
    await api.run("kampung", to_ndjson(kampung_rows(DESA[:3])), fmt="ndjson")
    changed = [{**kampung_rows(DESA[:1])[0], "name": "Kampung KB Melati", "scope": "RW", "rw_dusun_name": "RW 02"}]
    job = await api.run("kampung", to_ndjson(changed), fmt="ndjson")
    assert (job["rows_updated"], job["rows_inserted"]) == (1, 0), job
    name = await session.scalar(text("SELECT name FROM kampung WHERE desa_code = :d"), {"d": DESA[0]})
    assert name == "Kampung KB Melati"
    assert await session.scalar(text("SELECT count(*) FROM kampung")) == 3


async def test_profil_csv_and_ndjson_store_the_same_payload_as_put(api: Api, session: AsyncSession) -> None:
    await api.run("kampung", to_csv(["desa_code", "name", "formed_on"], kampung_rows(DESA[:4])))
    csv_job = await api.run("profil", to_csv(PROFIL_COLUMNS, [profil_csv_row(c) for c in DESA[:2]]), period=PERIOD)
    ndjson_rows = [{"desa_code": c, **profil_payload()} for c in DESA[2:4]]
    ndjson_job = await api.run("profil", to_ndjson(ndjson_rows), fmt="ndjson", period=PERIOD)
    assert csv_job["status"] == ndjson_job["status"] == "succeeded", (csv_job, ndjson_job)
    assert csv_job["rows_inserted"] == ndjson_job["rows_inserted"] == 2
    ids = await _kampung_ids(session)
    for code in DESA[:4]:
        response = await api.http.get(f"/v1/kampung/{ids[code]}/profil/{PERIOD}", headers=auth(api.admin))
        assert response.status_code == 200, response.text
        assert response.json()["payload"] == profil_payload()
        assert response.json()["revision"] == 1
    hashes = await session.execute(text("SELECT DISTINCT content_hash FROM submission WHERE module = 'profil'"))
    assert len(hashes.all()) == 1


async def test_kependudukan_and_kkbpk_in_both_formats(api: Api, session: AsyncSession) -> None:
    await api.run("kampung", to_csv(["desa_code", "name", "formed_on"], kampung_rows(DESA[:4])))
    job = await api.run(
        "kependudukan", to_csv(KEPENDUDUKAN_COLUMNS, [kependudukan_row(c) for c in DESA[:2]]), period=PERIOD
    )
    assert job["rows_inserted"] == 2, job
    job = await api.run(
        "kependudukan", to_ndjson([kependudukan_row(c) for c in DESA[2:4]]), fmt="ndjson", period=PERIOD
    )
    assert job["rows_inserted"] == 2, job
    job = await api.run("kkbpk", to_csv(KKBPK_COLUMNS, [kkbpk_csv_row(c) for c in DESA[:2]]), period=PERIOD)
    assert (job["status"], job["rows_inserted"]) == ("succeeded", 2), job
    job = await api.run("kkbpk", to_ndjson([kkbpk_ndjson_row(c) for c in DESA[2:4]]), fmt="ndjson", period=PERIOD)
    assert (job["status"], job["rows_inserted"]) == ("succeeded", 2), job
    payloads = await session.execute(text("SELECT DISTINCT payload FROM submission WHERE module = 'kkbpk'"))
    assert [row.payload for row in payloads] == [{k: v for k, v in kkbpk_ndjson_row("x").items() if k != "desa_code"}]


async def test_kegiatan_in_both_formats(api: Api, session: AsyncSession) -> None:
    await api.run("kampung", to_csv(["desa_code", "name", "formed_on"], kampung_rows(DESA[:2])))
    columns = ["desa_code", "title", "date", "function", "targets", "partners", "inpres_kegiatan"]
    rows = [
        {
            "desa_code": DESA[0],
            "title": "Penyuluhan KB",
            "date": "2024-06-12",
            "function": "REPRODUKSI",
            "targets": "PUS;REMAJA",
            "partners": "PUSKESMAS;BPS",
            "inpres_kegiatan": "",
        },
        {
            "desa_code": DESA[0],
            "title": "Senam lansia",
            "date": "2024-05-02",
            "function": "PERLINDUNGAN",
            "targets": "",
            "partners": "DINAS_SOSIAL",
            "inpres_kegiatan": "",
        },
    ]
    job = await api.run("kegiatan", to_csv(columns, rows))
    assert (job["status"], job["rows_inserted"]) == ("succeeded", 2), job
    ndjson = [
        {
            "desa_code": DESA[1],
            "title": "Rapat Pokja",
            "date": "2024-06-01",
            "function": "PENDIDIKAN",
            "partners": ["PUSKESMAS"],
        }
    ]
    job = await api.run("kegiatan", to_ndjson(ndjson), fmt="ndjson")
    assert job["rows_inserted"] == 1, job
    again = await api.run("kegiatan", to_csv(columns, rows))
    assert (again["rows_unchanged"], again["rows_inserted"]) == (2, 0), again
    assert await session.scalar(text("SELECT count(*) FROM kegiatan")) == 3
