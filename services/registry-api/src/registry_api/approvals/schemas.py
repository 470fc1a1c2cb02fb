"""Approval status of a region's month, and its history."""

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

State = Literal["open", "approved", "closed"]


class ApprovalStatus(BaseModel):
    """Whether operators may still write into a region's month."""

    code: str = Field(description="The region's code.", examples=["99.01.01"])
    state: State = Field(
        description="`approved`: approved for this region or one holding it; `closed`: closed by the passing of "
        "time (`REGISTRY_PERIOD_CLOSES_AFTER_DAYS` after the month's end) and not reopened; `open` otherwise. "
        "Operators and integrations get 409 `period-approved` writing into an approved or closed month.",
        examples=["approved"],
    )
    approved_in: str | None = Field(
        default=None, description="The region whose approval applies (this one or the widest one above it approved)."
    )
    approved_by: str | None = Field(default=None, description="Who approved it (`principal:<id>`).")
    approved_at: dt.datetime | None = Field(default=None, description="When it was approved.")


class ApprovalEvent(BaseModel):
    """One approval or reopening, as kept."""

    action: Literal["approved", "reopened"] = Field(description="What was done.")
    actor: str = Field(description="Who did it (`principal:<id>`).")
    role: str = Field(description="The role of the key that did it.")
    at: dt.datetime = Field(description="When.")


class ApprovalRead(ApprovalStatus):
    """A region's month: its status, every approval and reopening of it, and the status of each child region."""

    period: str = Field(description="The month, YYYY-MM.", examples=["2026-10"])
    history: list[ApprovalEvent] = Field(
        description="Every approval and reopening of this region's month, oldest first."
    )
    children: list[ApprovalStatus] = Field(description="The status of each child region (desa inherit theirs).")
