"""A record longer than the limit is that row's error, read chunk by chunk without joining them; the rest loads."""

from collections.abc import AsyncIterator

import pytest

from registry_api.imports.formats import ImportModule
from registry_api.imports.reading import FileRejected, Parsed, RowError, ValidRow, parse_csv, parse_ndjson
from tests.imports.conftest import Api
from tests.imports.files import DESA, KEPENDUDUKAN_COLUMNS, PERIOD, kampung_rows, kependudukan_row, to_csv, to_ndjson

LIMIT = 200


async def chunked(body: str, size: int) -> AsyncIterator[bytes]:
    data = body.encode()
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def parsed(body: str, fmt: str, *, chunk: int) -> list[tuple[int, str]]:
    parse = parse_csv if fmt == "csv" else parse_ndjson
    out: list[Parsed] = []
    async for items in parse(chunked(body, chunk), ImportModule.KEPENDUDUKAN, {}, max_record_bytes=LIMIT):
        out.extend(items)
    return [
        (item.row, item.kind if isinstance(item, RowError) else "ok")
        for item in out
        if isinstance(item, (RowError, ValidRow))
    ]


def csv_line(code: str) -> str:
    row = kependudukan_row(code)
    return ",".join(str(row[column]) for column in KEPENDUDUKAN_COLUMNS) + "\n"


@pytest.mark.parametrize("chunk", [7, 64, 4096])
async def test_ndjson_long_lines_are_row_errors(chunk: int) -> None:
    long_line = '{"desa_code": "' + DESA[1] + '", "pus": "' + "9" * 1000 + '"}\n'
    body = (
        to_ndjson([kependudukan_row(DESA[0])])
        + long_line
        + to_ndjson([kependudukan_row(DESA[2])])
        + '{"desa_code": "'
        + "é" * 150
        + '"}\n'  # 150 characters, 300 bytes
        + to_ndjson([kependudukan_row(DESA[3])])
        + long_line.rstrip("\n")  # the last line, without an end
    )
    assert await parsed(body, "ndjson", chunk=chunk) == [
        (1, "ok"),
        (2, "too_long"),
        (3, "ok"),
        (4, "too_long"),
        (5, "ok"),
        (6, "too_long"),
    ]


@pytest.mark.parametrize("chunk", [5, 64, 4096])
async def test_csv_long_records_are_row_errors_and_quotes_still_end_records(chunk: int) -> None:
    quoted = f'{DESA[4]},"{"x" * 150}\n{"y" * 100} ""quoted"" \n",1,1,1,1,1\n'  # one record over three lines
    body = (
        ",".join(KEPENDUDUKAN_COLUMNS)
        + "\n"
        + csv_line(DESA[0])
        + f"{DESA[1]},{'1' * 500},1,1,1,1,1\n"
        + csv_line(DESA[2])
        + quoted
        + csv_line(DESA[3])
        + f'{DESA[5]},"{"z" * 300}'  # a quoted cell never closed, and too long
    )
    assert await parsed(body, "csv", chunk=chunk) == [
        (1, "ok"),
        (2, "too_long"),
        (3, "ok"),
        (4, "too_long"),
        (5, "ok"),
        (6, "unreadable"),
    ]


async def test_a_csv_header_longer_than_the_limit_rejects_the_file() -> None:
    with pytest.raises(FileRejected, match="longer than 200 bytes"):
        await parsed("desa_code," + "x" * 300 + "\n" + csv_line(DESA[0]), "csv", chunk=64)


async def test_an_import_reports_the_long_record_and_loads_the_rest(api: Api) -> None:
    await api.run("kampung", to_csv(["desa_code", "name", "formed_on"], kampung_rows(DESA[:3])))
    long_row = {**kependudukan_row(DESA[1]), "note": "x" * (64 * 1024)}
    body = to_ndjson([kependudukan_row(DESA[0]), long_row, kependudukan_row(DESA[2])])
    job = await api.run("kependudukan", body, fmt="ndjson", period=PERIOD)
    assert job["status"] == "succeeded", job
    assert [(e["row"], e["field"], e["kind"]) for e in job["errors"]] == [(2, "row", "too_long")]
    assert "at most 65536 bytes" in job["errors"][0]["message"]
    assert (job["rows_inserted"], job["rows_failed"]) == (2, 1)
