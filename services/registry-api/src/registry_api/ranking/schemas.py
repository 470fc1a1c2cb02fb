"""The yearly shortlist: Kampung KB of a region in rank order, with what ranked them."""

from typing import Literal

from pydantic import BaseModel, Field

from registry_api.reports.schemas import Pct

PercontohanLevel = Literal["kecamatan", "kabupaten", "provinsi"]


class RankedIndices(BaseModel):
    input: float | None = Field(description="The input group's index (against 3.00).")
    proses: float | None = Field(description="The proses group's index.")
    output: float | None = Field(description="The output group's index.")


class Ranked(BaseModel):
    rank: int = Field(description="Its place, 1 first.")
    kampung_id: int = Field(description="The Kampung KB.")
    name: str = Field(description="Its name.")
    desa_code: str = Field(description="Its desa/kelurahan code.")
    tier: str = Field(description="Under the primary rule set, as of the year's last month (or the current one).")
    classified_period: str | None = Field(description="The month of the classification the tier and indices are from.")
    indices: RankedIndices = Field(description="Its three group indices.")
    index_sum: float = Field(description="input + proses + output; a group not scored counts 0.")
    months_reported: int = Field(description="Months of the year with a profil, kependudukan or kkbpk submitted.")
    reporting_rate_pct: Pct = Field(description="months_reported over the months of the year so far.")
    months_on_time: int = Field(
        description="Of months_reported, those whose first submission was first written by the deadline day of the "
        "next month (`rule` names the day and time zone)."
    )
    open_flags: int = Field(description="Data-quality flags of the year's months not checked.")
    percontohan: list[PercontohanLevel] = Field(description="The levels it is percontohan of.")
    activities: int = Field(description="Kegiatan dated in the year.")
    activities_by_partner: dict[str, int] = Field(description="Kegiatan of the year per partner institution code.")


class Ranking(BaseModel):
    code: str = Field(description="The region.")
    name: str = Field(description="Its name.")
    year: int = Field(description="The year ranked.")
    ruleset: str = Field(description="The rule set of tiers and indices.")
    as_of: str = Field(description="The month the tiers and indices are taken as of, YYYY-MM.")
    months: int = Field(description="Months of the year counted for reporting (to the current month this year).")
    rule: str = Field(description="How the Kampung KB are ranked.")
    total: int = Field(description="Kampung KB ranked in the region: active and formed by the end of the year.")
    items: list[Ranked] = Field(description="The Kampung KB, best first.")
