"""Data-quality flag documents: one flag with the values that raised it, a page of them, a check, the counts."""

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from kampungkb_shared.quality import FlagKind

FlagStatus = Literal["open", "checked"]


class FlagRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kampung_id: int
    kampung_name: str
    desa_code: str
    period: str = Field(description="The month of the submission the flag is about, YYYY-MM.")
    kind: FlagKind
    subject: str = Field(
        description="kkbpk_outlier: a method code or TOTAL; jump: pus or population; "
        "implausible_ratio: single_method or cpr_100."
    )
    value: int = Field(description="The value flagged: the count, the PUS or population, or the users.")
    evidence: dict[str, Any] = Field(
        description="What raised it: the history (period, value), median, MAD, min, max and z; the previous value "
        "and its period; the users and non-users."
    )
    status: FlagStatus
    raised_at: dt.datetime
    checked_by: str | None
    checked_at: dt.datetime | None
    note: str | None


class FlagPage(BaseModel):
    code: str
    period: str
    items: list[FlagRead]
    next_cursor: str | None


class FlagCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(min_length=1, max_length=1000, description="What was checked, and what was found.")


class QualityCounts(BaseModel):
    """Data-quality flags of the region's Kampung KB for the period: open ones by kind (checked ones stop counting)."""

    open: int
    checked: int
    open_by_kind: dict[FlagKind, int]
