"""A header and rows as a download: CSV (stdlib csv, with a byte-order mark) or XLSX (openpyxl), every cell made
safe for spreadsheets (`registry_api.cells`)."""

import csv
import io
from collections.abc import Sequence
from typing import Any

from openpyxl import Workbook

from registry_api.cells import safe_cell, safe_text

CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def to_csv(header: Sequence[str], rows: list[list[Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(["" if value is None else safe_cell(value) for value in row] for row in rows)
    # A byte-order mark so that spreadsheet programs read the names as UTF-8.
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(*, title: str, caption: str, header: Sequence[str], rows: list[list[Any]]) -> bytes:
    """One sheet: a caption line, the header, the rows; the first two lines frozen."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = title[:31]
    sheet.append([safe_text(caption)])
    sheet.append(list(header))
    for row in rows:
        sheet.append([safe_cell(value) for value in row])
    sheet.freeze_panes = "A3"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
