import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from registry_api.imports.formats import ImportModule


class ExportModule(StrEnum):
    """The import modules, read back in their import's columns, and the classifications."""

    KAMPUNG = "kampung"
    PROFIL = "profil"
    KEPENDUDUKAN = "kependudukan"
    KKBPK = "kkbpk"
    KEGIATAN = "kegiatan"
    CLASSIFICATIONS = "classifications"

    @property
    def import_module(self) -> ImportModule | None:
        """The import whose columns this export writes; None for classifications, which nothing imports."""
        return ImportModule(self.value) if self is not ExportModule.CLASSIFICATIONS else None


class ExportFormat(StrEnum):
    CSV = "csv"
    NDJSON = "ndjson"

    @property
    def media_type(self) -> str:
        return "text/csv; charset=utf-8" if self is ExportFormat.CSV else "application/x-ndjson"


@dataclass(frozen=True)
class ExportQuery:
    """What to export, checked: the module, the month in force (or the kegiatan dates), the region and rule set."""

    module: ExportModule
    format: ExportFormat
    region: str
    """`00` for every Kampung KB the key may read, else a region code inside the key's scope."""
    period: dt.date | None = None
    start: dt.date | None = None
    end: dt.date | None = None
    ruleset: str | None = None

    @property
    def filename(self) -> str:
        when = self.period.strftime("%Y-%m") if self.period else f"{self.start or ''}_{self.end or ''}".strip("_")
        parts = [self.module.value, self.region, when]
        return "-".join(part for part in parts if part) + f".{self.format.value}"
