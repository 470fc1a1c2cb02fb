"""The list to chase as a table: CSV streamed row by row, XLSX built whole (openpyxl)."""

import csv
import io
from collections.abc import AsyncIterator, Iterable
from typing import Any

from openpyxl import Workbook

from kampungkb_shared.timeliness import TIMELY_MODULES
from registry_api.cells import safe_cell
from registry_api.reporting.schemas import ReportingRow

COLUMNS = (
    "kampung_id",
    "kampung_name",
    "desa_code",
    "desa_name",
    "status",
    *(f"{module}{suffix}" for module in TIMELY_MODULES for suffix in ("", "_on_time", "_late", "_missing")),
    "last_submitted_at",
    "last_submitted_by",
    "last_module",
    "last_period",
    "pkb_pendamping",
    "pengarah",
    "pkb_contact",
)
"""One column per figure: a module's status, then its months on time, late and missing."""


def cells(row: ReportingRow) -> list[Any]:
    """A row's values in the order of `COLUMNS`, each made safe to open in a spreadsheet (`safe_cell`): a name or a
    contact is free text a client wrote."""
    values: list[Any] = [row.kampung_id, row.kampung_name, row.desa_code, row.desa_name, row.status.value]
    for module in TIMELY_MODULES:
        status = getattr(row, module)
        values += [status.status.value, status.on_time, status.late, status.missing]
    last = row.last_submission
    values += [None, None, None, None] if last is None else [last.at.isoformat(), last.by, last.module, last.period]
    contact = row.pkb_contact
    values += [row.pkb_pendamping, row.pengarah, None if contact is None else contact.contact]
    return [safe_cell(value) for value in values]


def _line(values: Iterable[Any]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow("" if value is None else value for value in values)
    return out.getvalue()


async def csv_lines(rows: AsyncIterator[ReportingRow], *, batch: int = 500) -> AsyncIterator[bytes]:
    """UTF-8 with a byte-order mark (spreadsheet programs read names right), a header, then the rows in batches."""
    chunk = ["\ufeff" + _line(COLUMNS)]
    async for row in rows:
        chunk.append(_line(cells(row)))
        if len(chunk) >= batch:
            yield "".join(chunk).encode("utf-8")
            chunk = []
    yield "".join(chunk).encode("utf-8")


async def xlsx(rows: AsyncIterator[ReportingRow], *, title: str) -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title[:31])
    sheet.append(list(COLUMNS))
    async for row in rows:
        sheet.append(cells(row))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
