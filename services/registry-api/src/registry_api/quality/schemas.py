"""Data-quality flag documents: one flag with the values that raised it, a page of them, a check, the counts."""

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from kampungkb_shared.quality import FlagKind

FlagStatus = Literal["open", "checked"]


class FlagRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int = Field(description="The flag's id.")
    kampung_id: int = Field(description="The Kampung KB it is about.")
    kampung_name: str = Field(description="Its name.")
    desa_code: str = Field(description="Its desa/kelurahan code.")
    period: str = Field(description="The month of the submission the flag is about, YYYY-MM.")
    kind: FlagKind = Field(description="kkbpk_outlier, jump or implausible_ratio.")
    subject: str = Field(
        description="kkbpk_outlier: a method code or TOTAL; jump: pus or population; "
        "implausible_ratio: single_method or cpr_100."
    )
    value: int = Field(description="The value flagged: the count, the PUS or population, or the users.")
    evidence: dict[str, Any] = Field(
        description="What raised it: the history (period, value), median, MAD, min, max and z; the previous value "
        "and its period; the users and non-users."
    )
    status: FlagStatus = Field(description="open, or checked (it stops counting).")
    raised_at: dt.datetime = Field(description="When report-worker raised it.")
    checked_by: str | None = Field(description="Who checked it.")
    checked_at: dt.datetime | None = Field(description="When it was checked.")
    note: str | None = Field(description="What the checker found.")


class FlagPage(BaseModel):
    code: str = Field(description="The region.")
    period: str = Field(description="The month, YYYY-MM.")
    items: list[FlagRead] = Field(description="Flags, by id.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last one.")


class FlagCheck(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"note": "Dicek ke PKB: jumlah peserta KB benar, ada pelayanan KB massal."}]},
    )

    note: str = Field(min_length=1, max_length=1000, description="What was checked, and what was found.")


class QualityCounts(BaseModel):
    """Data-quality flags of the region's Kampung KB for the period: open ones by kind (checked ones stop counting)."""

    open: int = Field(description="Flags not checked.")
    checked: int = Field(description="Flags checked.")
    open_by_kind: dict[FlagKind, int] = Field(description="Flags not checked, by kind.")
