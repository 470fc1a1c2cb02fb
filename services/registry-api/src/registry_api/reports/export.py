"""A report's children as a table: CSV (stdlib csv) or XLSX (openpyxl), every cell made safe (`cells`)."""

from collections.abc import Sequence
from typing import Any, Literal

from kampungkb_shared.timeliness import TIMELY_MODULES
from registry_api.cells import safe_cell
from registry_api.reports import tables
from registry_api.reports.schemas import DesaChild, Headline, Report
from registry_api.reports.tables import CSV_TYPE, XLSX_TYPE

__all__ = ["CSV_TYPE", "XLSX_TYPE", "filename", "table", "to_csv", "to_xlsx"]

REGION_COLUMNS = (
    "code",
    "name",
    "level",
    "desa_total",
    "kampung_total",
    "coverage_pct",
    "dasar",
    "berkembang",
    "mandiri",
    "berkelanjutan",
    "belum_terklasifikasi",
    "mandiri_plus_pct",
    "reported",
    "reporting_rate_pct",
    "pus",
    "cpr_pct",
    "mkjp_pct",
    "unmet_need_pct",
    "profil_on_time_pct",
    "kependudukan_on_time_pct",
    "kkbpk_on_time_pct",
)
DESA_COLUMNS = ("code", "name", "kind", "kampung_id", "kampung_name", "tier", "reported")


def table(report: Report) -> tuple[Sequence[str], list[list[Any]]]:
    """Header and rows: one row per child region (or per desa/kelurahan of a kecamatan), each cell made safe."""
    if report.level == "kecamatan":
        return DESA_COLUMNS, [
            [safe_cell(getattr(child, column)) for column in DESA_COLUMNS]
            for child in report.children
            if isinstance(child, DesaChild)
        ]
    rows = []
    for child in report.children:
        if isinstance(child, Headline):
            flat = {**child.model_dump(exclude={"tiers", "timeliness"}), **child.tiers.model_dump()}
            flat |= {f"{name}_on_time_pct": getattr(child.timeliness, name).on_time_pct for name in TIMELY_MODULES}
            rows.append([flat[column] for column in REGION_COLUMNS])
    return REGION_COLUMNS, rows


def to_csv(report: Report) -> bytes:
    return tables.to_csv(*table(report))


def to_xlsx(report: Report) -> bytes:
    header, rows = table(report)
    caption = f"{report.name} ({report.code}), {report.period}, rule set {report.ruleset}"
    return tables.to_xlsx(title=f"{report.code} {report.period}", caption=caption, header=header, rows=rows)


def filename(report: Report, extension: str) -> str:
    return f"kampungkb-report-{report.code.replace('.', '')}-{report.period}-{report.ruleset}.{extension}"


def as_file(report: Report, format: Literal["csv", "xlsx"]) -> tuple[bytes, str, str]:
    """The children table as a download: its bytes, media type and `Content-Disposition`."""
    body, media_type = (to_csv(report), CSV_TYPE) if format == "csv" else (to_xlsx(report), XLSX_TYPE)
    return body, media_type, f'attachment; filename="{filename(report, format)}"'
