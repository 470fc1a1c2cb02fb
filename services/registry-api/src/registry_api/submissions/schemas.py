import datetime as dt
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kampungkb_shared.codes import ActivityTarget, FamilyFunction, Instansi
from kampungkb_shared.inpres import InpresKegiatan
from kampungkb_shared.modules import CodeList, KependudukanPayload, KkbpkPayload, ProfilPayload
from kampungkb_shared.periods import within_programme
from registry_api.classifications.schemas import ClassificationRead, ClassificationSummary


class Module(StrEnum):
    PROFIL = "profil"
    KEPENDUDUKAN = "kependudukan"
    KKBPK = "kkbpk"


ModulePayload = ProfilPayload | KependudukanPayload | KkbpkPayload


class SubmissionRead(BaseModel):
    kampung_id: int = Field(description="The Kampung KB.")
    module: Module = Field(description="The module: profil, kependudukan or kkbpk.")
    period: str = Field(description="YYYY-MM, the month the data describe")
    payload: dict[str, Any] = Field(description="The module's data, as written (the `PUT` body of the module).")
    revision: int = Field(
        description='1 for the first write of this period, one more for each rewrite; the `ETag` is `"v<revision>"`.'
    )
    submitted_at: dt.datetime = Field(description="When this revision was written.")
    submitted_by: str | None = Field(description="The name of the key that wrote it.")


class PendingClassification(BaseModel):
    status: Literal["pending"] = Field(
        default="pending", description="The classifier could not be reached: the classification follows shortly."
    )


WrittenClassification = ClassificationRead | ClassificationSummary | PendingClassification


class SubmissionWritten(SubmissionRead):
    classification: WrittenClassification = Field(
        description="The stored classification of the period under the primary rule set (its summary under "
        "`Prefer: return=minimal`), or pending"
    )


class RevisionRead(BaseModel):
    revision: int = Field(description="The revision number, 1 first.")
    payload: dict[str, Any] = Field(description="The module's data of this revision.")
    submitted_at: dt.datetime = Field(description="When it was written.")
    submitted_by: str | None = Field(description="The name of the key that wrote it.")


class SubmissionPage(BaseModel):
    items: list[SubmissionRead] = Field(description="This page's items.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last one.")


class KegiatanCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "title": "Penyuluhan KB dan kesehatan reproduksi",
                    "date": "2026-10-10",
                    "function": "REPRODUKSI",
                    "targets": ["PUS", "REMAJA"],
                    "partners": ["PUSKESMAS", "DINAS_KESEHATAN"],
                    "inpres_kegiatan": "KIE_KESPRO_KB",
                }
            ]
        },
    )

    title: str = Field(description="What was done.", min_length=1, max_length=300)
    date: dt.date = Field(description="The day it took place (2016-01-01 or later, not in the future).")
    function: FamilyFunction = Field(description="The family function it serves (`GET /v1/codes/family_function`).")
    targets: CodeList[ActivityTarget] = Field(
        description="Who it was for (`GET /v1/codes/activity_target`).", default_factory=list
    )
    partners: CodeList[Instansi] = Field(
        description="The institutions that took part (`GET /v1/codes/instansi`); they count for lintas sektor.",
        default_factory=list,
    )
    inpres_kegiatan: InpresKegiatan | None = Field(
        default=None, description="The Inpres 3/2022 activity it implements, if any (`GET /v1/codes/inpres_kegiatan`)."
    )

    _date_in_programme = field_validator("date")(within_programme)


class KegiatanRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int = Field(description="The activity's id.")
    kampung_id: int = Field(description="The Kampung KB.")
    title: str = Field(description="What was done.")
    date: dt.date = Field(description="The day it took place.")
    function: FamilyFunction = Field(description="The family function it serves.")
    targets: list[ActivityTarget] = Field(description="Who it was for.")
    partners: list[Instansi] = Field(description="The institutions that took part.")
    inpres_kegiatan: InpresKegiatan | None = Field(description="The Inpres 3/2022 activity it implements, if any.")
    created_by: str | None = Field(description="The name of the key that recorded it.")
    created_at: dt.datetime = Field(description="When it was recorded.")


class KegiatanWritten(KegiatanRead):
    classification: WrittenClassification = Field(
        description="The classification of the activity's month under the primary rule set (its summary under "
        "`Prefer: return=minimal`), or pending"
    )


class KegiatanPage(BaseModel):
    items: list[KegiatanRead] = Field(description="This page's items.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last one.")


class PeriodWrite(BaseModel):
    """Any of the three modules of one period, written together: the rules across modules hold for the set."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "kependudukan": {
                        "pus": 120,
                        "families": 150,
                        "remaja": 60,
                        "families_with_balita": 40,
                        "families_with_remaja": 35,
                        "families_with_lansia": 30,
                    },
                    "kkbpk": {
                        "poktan_participants": {"BKB": 20, "BKR": 10},
                        "kb_users": {"KB_SUNTIK": 56, "KB_IMPLAN": 28},
                        "non_users": {"HAMIL": 18, "IAT": 18},
                    },
                    "if_match": {"kependudukan": '"v1"', "kkbpk": '"v1"'},
                }
            ]
        },
    )

    profil: ProfilPayload | None = Field(default=None, description="The profil, as `PUT .../profil/{period}` takes.")
    kependudukan: KependudukanPayload | None = Field(
        default=None, description="The population figures, as `PUT .../kependudukan/{period}` takes."
    )
    kkbpk: KkbpkPayload | None = Field(
        default=None, description="The KKBPK figures, as `PUT .../kkbpk/{period}` takes."
    )
    if_match: dict[Module, str] = Field(
        default_factory=dict,
        description='Per module, the `ETag` the change is based on (`"v<revision>"`, or `*`): a module whose stored '
        "revision is another one is refused with 412 and its current state. A module left out is not checked.",
    )

    @model_validator(mode="after")
    def _some_module(self) -> "PeriodWrite":
        if not self.payloads():
            raise ValueError("name at least one of profil, kependudukan, kkbpk")
        if unknown := set(self.if_match) - set(self.payloads()):
            raise ValueError(f"if_match names modules not written: {', '.join(sorted(unknown))}")
        return self

    def payloads(self) -> dict[Module, ModulePayload]:
        return {
            module: payload
            for module, payload in (
                (Module.PROFIL, self.profil),
                (Module.KEPENDUDUKAN, self.kependudukan),
                (Module.KKBPK, self.kkbpk),
            )
            if payload is not None
        }


class PeriodWritten(BaseModel):
    kampung_id: int = Field(description="The Kampung KB.")
    period: str = Field(description="YYYY-MM, the month written.")
    profil: SubmissionRead | None = Field(description="The profil as stored, if written.")
    kependudukan: SubmissionRead | None = Field(description="The kependudukan as stored, if written.")
    kkbpk: SubmissionRead | None = Field(description="The kkbpk as stored, if written.")
    classification: WrittenClassification = Field(
        description="The period's classification under the primary rule set (its summary under "
        "`Prefer: return=minimal`), or pending"
    )
