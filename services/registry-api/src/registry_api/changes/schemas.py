import datetime as dt
from enum import StrEnum

from pydantic import BaseModel, Field


class ChangeKind(StrEnum):
    KAMPUNG = "kampung"
    SUBMISSION = "submission"
    KEGIATAN = "kegiatan"
    CLASSIFICATION = "classification"


class ChangeRead(BaseModel):
    cursor: str = Field(description="this item's position: a client that stores it and asks `after` it misses nothing")
    kind: ChangeKind = Field(description="what changed: a Kampung KB, a submission, an activity, a classification")
    action: str = Field(
        description="`created`, `updated`, `deactivated` or `tier_changed` (kampung); `created` or `updated` "
        "(submission); `created` (kegiatan); `classified` (classification)"
    )
    kampung_id: int = Field(description="the Kampung KB it concerns")
    desa_code: str = Field(description="its desa/kelurahan code")
    module: str | None = Field(description="submission: `profil`, `kependudukan` or `kkbpk`")
    period: str | None = Field(description="submission, classification: the month (YYYY-MM); kegiatan: its month")
    revision: int | None = Field(description="submission: its revision; kampung: its version (the ETag's number)")
    ruleset: str | None = Field(description="classification: the rule set")
    tier: str | None = Field(description="classification: the tier of that period; kampung: its current tier")
    kegiatan_id: int | None = Field(description="kegiatan: the activity's id")
    changed_at: dt.datetime = Field(description="when it was written (commit order is the cursor's, not this)")


class ChangePage(BaseModel):
    items: list[ChangeRead] = Field(description="committed changes, in feed order")
    next_cursor: str = Field(description="ask `after` this next; stored by a client, it never misses a change")


class ChangeHead(BaseModel):
    cursor: str = Field(description="follow the feed `after` this to get every change committed from now on")
