"""The list to chase: each counted Kampung KB of a region with its timeliness per module."""

import datetime as dt

from pydantic import BaseModel, Field

from kampungkb_shared.timeliness import Timeliness


class ModuleStatus(BaseModel):
    """A module over the months of the period the Kampung KB was counted in (for a month: one of the three is 1)."""

    status: Timeliness = Field(description="`missing` if any month is, else `late` if any is, else `on_time`.")
    on_time: int = Field(description="Months first written by the deadline.")
    late: int = Field(description="Months first written after the deadline.")
    missing: int = Field(description="Months with no submission of the module.")


class LastSubmission(BaseModel):
    """The newest revision the Kampung KB wrote, of any module and period."""

    at: dt.datetime = Field(description="When it was written.")
    by: str | None = Field(description="Who wrote it (the principal).")
    module: str = Field(description="Its module.")
    period: str = Field(description="The month it describes, YYYY-MM.")


class PkbContact(BaseModel):
    """The PKB/PLKB who accompanies the Kampung KB."""

    name: str | None = Field(default=None, description="Their name.")
    nip: str | None = Field(default=None, description="Their civil-service number (NIP).")
    contact: str | None = Field(default=None, description="A telephone number or e-mail.")


class ReportingRow(BaseModel):
    kampung_id: int = Field(description="The Kampung KB.")
    kampung_name: str = Field(description="Its name.")
    desa_code: str = Field(description="Its desa/kelurahan code.")
    desa_name: str = Field(description="The desa/kelurahan's name.")
    status: Timeliness = Field(description="The worst of its modules: rows are listed missing first, then late.")
    profil: ModuleStatus = Field(description="Its profil over the period.")
    kependudukan: ModuleStatus = Field(description="Its kependudukan over the period.")
    kkbpk: ModuleStatus = Field(description="Its kkbpk over the period.")
    last_submission: LastSubmission | None = Field(description="Its newest revision of any module; null if none.")
    pkb_pendamping: bool | None = Field(description="From the profil in force; null without a profil.")
    pengarah: str | None = Field(description="Who directs activities when no PKB/PLKB does (profil in force).")
    pkb_contact: PkbContact | None = Field(
        description="Name, NIP and contact of the PKB/PLKB: the profil does not collect them yet, so null."
    )


class ReportingPage(BaseModel):
    code: str = Field(description="The region.")
    name: str = Field(description="Its name.")
    period: str = Field(description="YYYY-MM, YYYY-Qn or YYYY, as asked.")
    months: list[str] = Field(description="The months the period covers (so far).")
    deadline_day: int = Field(description="A month is on time when first written by the end of this day of the next.")
    time_zone: str = Field(description="The time zone of the deadline (IANA name).")
    items: list[ReportingRow] = Field(description="Kampung KB, missing first, then late, then on time.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last one.")
