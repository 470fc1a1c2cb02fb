import datetime as dt
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from kampungkb_shared.codes import ActivityTarget, FamilyFunction, Instansi
from kampungkb_shared.inpres import InpresKegiatan
from kampungkb_shared.modules import CodeList, KependudukanPayload, KkbpkPayload, ProfilPayload
from kampungkb_shared.periods import within_programme
from registry_api.classifications.schemas import ClassificationRead


class Module(StrEnum):
    PROFIL = "profil"
    KEPENDUDUKAN = "kependudukan"
    KKBPK = "kkbpk"


ModulePayload = ProfilPayload | KependudukanPayload | KkbpkPayload


class SubmissionRead(BaseModel):
    kampung_id: int
    module: Module
    period: str = Field(description="YYYY-MM, the month the data describe")
    payload: dict[str, Any]
    revision: int
    submitted_at: dt.datetime
    submitted_by: str | None


class PendingClassification(BaseModel):
    status: Literal["pending"] = "pending"


class SubmissionWritten(SubmissionRead):
    classification: ClassificationRead | PendingClassification = Field(
        description="The stored classification of the period under the primary rule set, or pending"
    )


class RevisionRead(BaseModel):
    revision: int
    payload: dict[str, Any]
    submitted_at: dt.datetime
    submitted_by: str | None


class SubmissionPage(BaseModel):
    items: list[SubmissionRead]
    next_cursor: str | None


class KegiatanCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=300)
    date: dt.date
    function: FamilyFunction
    targets: CodeList[ActivityTarget] = Field(default_factory=list)
    partners: CodeList[Instansi] = Field(default_factory=list)
    inpres_kegiatan: InpresKegiatan | None = None

    _date_in_programme = field_validator("date")(within_programme)


class KegiatanRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kampung_id: int
    title: str
    date: dt.date
    function: FamilyFunction
    targets: list[ActivityTarget]
    partners: list[Instansi]
    inpres_kegiatan: InpresKegiatan | None
    created_by: str | None
    created_at: dt.datetime


class KegiatanWritten(KegiatanRead):
    classification: ClassificationRead | PendingClassification = Field(
        description="The classification of the activity's month under the primary rule set, or pending"
    )


class KegiatanPage(BaseModel):
    items: list[KegiatanRead]
    next_cursor: str | None
