"""Report, trend and target documents. Percentages are 0-100 with two decimals, null when the base is zero."""

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from registry_api.quality.schemas import QualityCounts

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
    """A percontohan (model) Kampung KB of the region, once per level it holds, with its tier as of the period."""

    id: int
    name: str
    desa_code: str
    level: Literal["kecamatan", "kabupaten", "provinsi"]
    tier: str = Field(description="Under the report's rule set, as of its period; `belum_terklasifikasi` if none.")


class TargetRead(BaseModel):
    code: str
    year: int
    formation_pct: float | None
    mandiri_plus_pct: float | None
    updated_at: dt.datetime | None = None


class TargetUpdate(BaseModel):
    formation_pct: Annotated[float | None, Field(ge=0, le=100)] = None
    """Kampung KB formed as % of the desa/kelurahan of the region."""
    mandiri_plus_pct: Annotated[float | None, Field(ge=0, le=100)] = None
    """Mandiri + berkelanjutan as % of the classified Kampung KB."""


class TargetVsActual(TargetRead):
    formation_actual_pct: Pct
    mandiri_plus_actual_pct: Pct


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


Child = Annotated[Headline | DesaChild, Field(discriminator="level")]


class Report(Headline):
    period: str
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
    quality: QualityCounts
    targets: TargetVsActual | None
    children: list[Child]


class TrendPoint(Headline):
    period: str
    computed_at: dt.datetime


class Trend(BaseModel):
    code: str
    name: str
    ruleset: str
    from_period: str
    to_period: str
    points: list[TrendPoint] = Field(description="One per computed period in the range, oldest first.")
