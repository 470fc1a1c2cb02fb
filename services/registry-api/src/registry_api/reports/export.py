"""A report's children as a table: CSV (stdlib csv) or XLSX (openpyxl)."""

from collections.abc import Sequence
from typing import Any

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
)
DESA_COLUMNS = ("code", "name", "kind", "kampung_id", "kampung_name", "tier", "reported")


def table(report: Report) -> tuple[Sequence[str], list[list[Any]]]:
    """Header and rows: one row per child region (or per desa/kelurahan of a kecamatan)."""
    if report.level == "kecamatan":
        return DESA_COLUMNS, [
            [getattr(child, column) for column in DESA_COLUMNS]
            for child in report.children
            if isinstance(child, DesaChild)
        ]
    rows = []
    for child in report.children:
        if isinstance(child, Headline):
            flat = {**child.model_dump(exclude={"tiers"}), **child.tiers.model_dump()}
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
