"""Files that are not what they should be fail cleanly with a reason (or a 4xx before any job); never a 500."""

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry_api.main import create_app
from registry_api.settings import Settings
from tests.factories import auth, make_key
from tests.imports.conftest import Api, import_settings
from tests.imports.files import DESA, KEPENDUDUKAN_COLUMNS, PERIOD, kampung_rows, to_csv

GOOD_HEADER = ",".join(KEPENDUDUKAN_COLUMNS)


@pytest.mark.parametrize(
    ("body", "fmt", "reason"),
    [
        (b"PK\x03\x04\x00\x00binary\x00\xff" * 50, "csv", "binary content"),
        (GOOD_HEADER.replace(",", ";") + "\n" + f"{DESA[0]};100;150;60;40;35;30\n", "csv", "separated by commas"),
        ("desa_code,pus,families\n" + f"{DESA[0]},100,150\n", "csv", "missing columns: remaja"),
        (GOOD_HEADER + ",colour\n" + f"{DESA[0]},1,1,1,1,1,1,red\n", "csv", "unknown columns: colour"),
        (GOOD_HEADER + "\n" + "".join(f"{c},many,150,60,40,35,30\n" for c in DESA[:5]), "csv", "no valid rows"),
        (GOOD_HEADER.encode() + b"\n" + DESA[0].encode() + b",10\xe9,150,60,40,35,30\n", "csv", "not UTF-8"),
        (GOOD_HEADER + "\n", "csv", "no data rows"),
        ("\n\n", "csv", "no header"),
        ("{not json}\n[1, 2]\n", "ndjson", "no valid rows"),
        (b"\xff\xfe{}\n", "ndjson", "not UTF-8"),
    ],
    ids=["binary", "delimiter", "missing", "unknown", "types", "utf8", "header-only", "blank", "ndjson", "ndjson-utf8"],
)
async def test_rubbish_fails_with_a_reason_and_writes_nothing(
    api: Api, session: AsyncSession, body: bytes | str, fmt: str, reason: str
) -> None:
    await api.run("kampung", to_csv(["desa_code", "name", "formed_on"], kampung_rows(DESA[:5])))
    job = await api.run("kependudukan", body, fmt=fmt, period=PERIOD)
    assert job["status"] == "failed", job
    assert reason in job["reason"], job["reason"]
    assert (job["rows_inserted"], job["rows_updated"]) == (0, 0)
    assert await session.scalar(text("SELECT count(*) FROM submission")) == 0
    assert await session.scalar(text("SELECT count(*) FROM import_chunk")) == 0


async def test_every_row_wrong_reports_each_row(api: Api) -> None:
    await api.run("kampung", to_csv(["desa_code", "name", "formed_on"], kampung_rows(DESA[:5])))
    body = GOOD_HEADER + "\n" + "".join(f"{c},-1,150,60,40,35,30\n" for c in DESA[:5])
    job = await api.run("kependudukan", body, period=PERIOD)
    assert job["status"] == "failed"
    assert [(e["row"], e["field"]) for e in job["errors"]] == [(n, "pus") for n in range(1, 6)]
    assert job["error_totals"] == {"invalid": 5} and job["rows_failed"] == 5


@pytest.mark.parametrize(
    ("params", "content_type", "body", "status"),
    [
        ({"module": "kependudukan", "period": PERIOD}, "text/csv", b"", 422),
        ({"module": "kependudukan", "period": PERIOD}, "application/pdf", b"%PDF", 415),
        ({"module": "kependudukan"}, "text/csv", GOOD_HEADER.encode(), 422),
        ({"module": "kependudukan", "period": "2024-13"}, "text/csv", GOOD_HEADER.encode(), 422),
        ({"module": "kependudukan", "period": "2999-01"}, "text/csv", GOOD_HEADER.encode(), 422),
        ({"module": "wilayah", "period": PERIOD}, "text/csv", GOOD_HEADER.encode(), 422),
    ],
    ids=["empty", "media-type", "no-period", "bad-period", "future", "module"],
)
async def test_answered_before_a_job(
    api: Api, session: AsyncSession, params: dict[str, str], content_type: str, body: bytes, status: int
) -> None:
    headers = {**auth(api.admin), "Content-Type": content_type}
    response = await api.http.post("/v1/imports", params=params, content=body, headers=headers)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert await session.scalar(text("SELECT count(*) FROM import_job")) == 0


async def test_a_reader_key_cannot_import(api: Api, session: AsyncSession) -> None:
    viewer = await make_key(session, role=__import__("registry_api.auth.service", fromlist=["Role"]).Role.VIEWER)
    response = await api.post("kependudukan", GOOD_HEADER, period=PERIOD, key=viewer)
    assert response.status_code == 403


async def test_over_the_limit_is_413_before_the_body_is_read(
    database_url: str, redis_url: str, classifier_url: str, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    settings: Settings = import_settings(database_url, redis_url, classifier_url, max_import_bytes=1000)
    async with session_factory() as session:
        key = await make_key(session)
    app = create_app(settings)
    read: list[int] = []

    async def body(size: int):  # type: ignore[no-untyped-def]
        for _ in range(size // 500):
            read.append(500)
            yield b"x" * 500

    async with app.router.lifespan_context(app):
        app.state.sessionmaker = session_factory
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://registry.test") as http:
            params = {"module": "kependudukan", "period": PERIOD}
            headers = {**auth(key), "Content-Type": "text/csv", "Content-Length": "5000"}
            response = await http.post("/v1/imports", params=params, content=body(5000), headers=headers)
            assert response.status_code == 413, response.text
            assert response.headers["content-type"] == "application/problem+json"
            assert read == [], "the body was read"
            # Without a Content-Length the limit is counted while streaming: still 413, and no job left behind.
            headers = {**auth(key), "Content-Type": "text/csv"}
            response = await http.post("/v1/imports", params=params, content=body(5000), headers=headers)
            assert response.status_code == 413, response.text
    async with session_factory() as session:
        assert await session.scalar(text("SELECT count(*) FROM import_job")) == 0


async def test_ndjson_text_that_cannot_be_stored_fails_its_row_only(api: Api, session: AsyncSession) -> None:
    # `\u0000` is valid JSON that PostgreSQL cannot store: its row's error, naming the field, and the other rows are
    # written; a pair of surrogate escapes is one character. The rows as a client's JSON text, escapes as they are.
    named = [
        (DESA[0], "Kampung KB Mawar"),
        (DESA[1], "Kampung KB \\u0000"),
        (DESA[2] + "\\u0000", "Kampung KB Melati"),
        (DESA[3], "Kampung KB Anggrek \\ud83c\\udf38"),
    ]
    rows = [f'{{"desa_code": "{desa}", "name": "{name}", "formed_on": "2019-03-01"}}' for desa, name in named]
    job = await api.run("kampung", "\n".join(rows) + "\n", fmt="ndjson")
    assert job["status"] == "succeeded", job
    assert [(e["row"], e["field"], e["kind"]) for e in job["errors"]] == [
        (2, "name", "invalid"),
        (3, "desa_code", "invalid"),
    ]
    names = (await session.scalars(text("SELECT name FROM kampung ORDER BY name"))).all()
    assert names == ["Kampung KB Anggrek \U0001f338", "Kampung KB Mawar"]
