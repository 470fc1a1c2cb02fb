"""Report, trend and target documents. Percentages are 0-100 with two decimals, null when the base is zero."""

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, Field

Pct = float | None


class Tiers(BaseModel):
    dasar: int
    berkembang: int
    mandiri: int
    berkelanjutan: int
    belum_terklasifikasi: int


class TierChange(BaseModel):
    """Against the month before: the change in each tier's count, and Kampung KB that moved up or down."""

    previous_period: str
    previous: Tiers
    delta: Tiers
    promoted: int
    demoted: int


class Kkbpk(BaseModel):
    """Ratios of sums over the Kampung KB whose kkbpk in force (newest at or before the period) exists."""

    pus: int = Field(description="Σ PUS of the kependudukan in force, over the Kampung KB that have one.")
    kependudukan_kampung: int
    kkbpk_kampung: int = Field(description="Kampung KB with a kkbpk in force: the base of the three ratios.")
    kkbpk_pus: int = Field(description="Σ (KB users + non-users) of those kkbpk: the PUS they account for.")
    kb_users: int
    mkjp_users: int
    unmet_need: int = Field(description="Σ non-users for IAT + TIAL.")
    cpr_pct: Pct = Field(description="kb_users / kkbpk_pus.")
    mkjp_pct: Pct = Field(description="mkjp_users / kb_users.")
    unmet_need_pct: Pct = Field(description="unmet_need / kkbpk_pus.")


class Share(BaseModel):
    count: int
    pct: Pct


class Ownership(BaseModel):
    """Active Kampung KB whose profil in force has each item, as a share of all active Kampung KB."""

    profil_kampung: int
    pokja: Share
    sk_pokja: Share
    pokja_trained: Share
    rumah_dataku: Share
    sekretariat: Share
    pkb_pendamping: Share
    regulation: Share
    rkm: Share


class Percontohan(BaseModel):
    id: int
    name: str
    desa_code: str
    level: Literal["kabupaten", "provinsi"]


class TargetRead(BaseModel):
    code: str
    year: int
    formation_pct: float | None
    mandiri_plus_pct: float | None
    mandiri_plus_increase_pts: float | None
    updated_at: dt.datetime | None = None


class TargetUpdate(BaseModel):
    formation_pct: Annotated[float | None, Field(ge=0, le=100)] = None
    """Kampung KB formed as % of the desa/kelurahan of the region."""
    mandiri_plus_pct: Annotated[float | None, Field(ge=0, le=100)] = None
    """Mandiri + berkelanjutan as % of the classified Kampung KB."""
    mandiri_plus_increase_pts: Annotated[float | None, Field(ge=0, le=100)] = None
    """Increase of the mandiri + berkelanjutan % over the year, in points (Inpres 3/2022 is quoted as at least 5)."""


class TargetVsActual(TargetRead):
    formation_actual_pct: Pct
    mandiri_plus_actual_pct: Pct


TargetKind = Literal["formation_pct", "mandiri_plus_pct", "mandiri_plus_increase_pts"]


class TargetProgress(BaseModel):
    """One target in force for the region and year, against the actual figure as of the report's last month."""

    target: TargetKind
    value: float = Field(description="The target for the end of the year (% or, for the increase, points).")
    source: str = Field(
        description="The region whose target applies (the region itself or one above it), or `inpres-3-2022`."
    )
    baseline: Pct = Field(description="The same figure in December of the year before; null if not computed.")
    actual: Pct = Field(description="The figure now; for the increase, its change in points since December.")
    gap: Pct = Field(description="value - actual: what is still to gain by the end of the year (negative: beyond).")
    expected_now: Pct = Field(
        description="The straight line from the baseline (the increase: from 0) to the target at the year's end, "
        "read at the report's last month."
    )
    on_track: bool | None = Field(description="actual >= expected_now; null when either is unknown.")


class ModuleTimeliness(BaseModel):
    """Of the Kampung KB counted in each month, those whose month came by the deadline, after it, or not at all."""

    on_time: int
    late: int
    missing: int
    on_time_pct: Pct
    late_pct: Pct
    missing_pct: Pct


class TimelinessRead(BaseModel):
    """Per module; over a quarter or year, counts are Kampung KB-months and rates are over `kampung_months`."""

    profil: ModuleTimeliness
    kependudukan: ModuleTimeliness
    kkbpk: ModuleTimeliness


class Headline(BaseModel):
    """The figures shown per region, per child region and per period."""

    code: str
    name: str
    level: Literal["nasional", "provinsi", "kabupaten", "kecamatan"]
    desa_total: int
    kampung_total: int
    coverage_pct: Pct
    tiers: Tiers
    mandiri_plus_pct: Pct
    reported: int
    reporting_rate_pct: Pct
    pus: int
    cpr_pct: Pct
    mkjp_pct: Pct
    unmet_need_pct: Pct
    timeliness: TimelinessRead


class DesaChild(BaseModel):
    """A desa/kelurahan of a kecamatan, with its Kampung KB (if one counts in the period) and that one's tier."""

    code: str
    name: str
    level: Literal["desa"] = "desa"
    kind: str | None
    kampung_id: int | None
    kampung_name: str | None
    tier: str | None
    reported: bool
    months_reported: int = Field(description="Months of the period with a submission of any module.")


Child = Annotated[Headline | DesaChild, Field(discriminator="level")]


class TrendPoint(Headline):
    period: str
    computed_at: dt.datetime


class Report(Headline):
    period: str = Field(description="YYYY-MM, YYYY-Qn or YYYY, as asked.")
    months: list[str] = Field(description="The months the figures cover (a quarter or year in progress: so far).")
    kampung_months: int = Field(
        description="Σ over the months of the Kampung KB counted in each: the base of `reporting_rate_pct` and "
        "of the timeliness rates (for a month, `kampung_total`)."
    )
    ruleset: str
    computed_at: dt.datetime
    desa: int
    kelurahan: int
    kampung_desa: int
    kampung_kelurahan: int
    kecamatan_total: int
    kecamatan_with_kampung: int
    classified: int
    tier_change: TierChange
    kkbpk: Kkbpk
    ownership: Ownership
    percontohan: list[Percontohan]
    targets: TargetVsActual | None
    target_progress: list[TargetProgress] = Field(
        description="Every target in force (the region's own, one above it, or the Instruction's national default)."
    )
    previous: TrendPoint | None = Field(
        description="The same headline figures for the month, quarter or year before, for the change against it; "
        "null when that one is not computed."
    )
    children: list[Child]


class Trend(BaseModel):
    code: str
    name: str
    ruleset: str
    from_period: str
    to_period: str
    points: list[TrendPoint] = Field(description="One per computed period in the range, oldest first.")
