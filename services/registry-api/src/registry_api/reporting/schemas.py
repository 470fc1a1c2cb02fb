"""The list to chase: each counted Kampung KB of a region with its timeliness per module."""

import datetime as dt

from pydantic import BaseModel, Field

from kampungkb_shared.timeliness import Timeliness


class ModuleStatus(BaseModel):
    """A module over the months of the period the Kampung KB was counted in (for a month: one of the three is 1)."""

    status: Timeliness = Field(description="`missing` if any month is, else `late` if any is, else `on_time`.")
    on_time: int
    late: int
    missing: int


class LastSubmission(BaseModel):
    """The newest revision the Kampung KB wrote, of any module and period."""

    at: dt.datetime
    by: str | None
    module: str
    period: str


class PkbContact(BaseModel):
    """The PKB/PLKB who accompanies the Kampung KB."""

    name: str | None = None
    nip: str | None = None
    contact: str | None = None


class ReportingRow(BaseModel):
    kampung_id: int
    kampung_name: str
    desa_code: str
    desa_name: str
    status: Timeliness = Field(description="The worst of its modules: rows are listed missing first, then late.")
    profil: ModuleStatus
    kependudukan: ModuleStatus
    kkbpk: ModuleStatus
    last_submission: LastSubmission | None
    pkb_pendamping: bool | None = Field(description="From the profil in force; null without a profil.")
    pengarah: str | None = Field(description="Who directs activities when no PKB/PLKB does (profil in force).")
    pkb_contact: PkbContact | None = Field(
        description="Name, NIP and contact of the PKB/PLKB: the profil does not collect them yet, so null."
    )


class ReportingPage(BaseModel):
    code: str
    name: str
    period: str
    months: list[str]
    deadline_day: int = Field(description="A month is on time when first written by the end of this day of the next.")
    time_zone: str
    items: list[ReportingRow]
    next_cursor: str | None
