"""Report, trend and target documents. Percentages are 0-100 with two decimals, null when the base is zero."""

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from kampungkb_shared.codes import Contraception
from registry_api.approvals.schemas import ApprovalStatus
from registry_api.quality.schemas import QualityCounts

Pct = float | None


class Tiers(BaseModel):
    dasar: int = Field(description="Kampung KB in tier dasar.")
    berkembang: int = Field(description="Kampung KB in tier berkembang.")
    mandiri: int = Field(description="Kampung KB in tier mandiri.")
    berkelanjutan: int = Field(description="Kampung KB in tier berkelanjutan.")
    belum_terklasifikasi: int = Field(description="Kampung KB the rule set could not classify (or never classified).")


class TierChange(BaseModel):
    """Against the month before: the change in each tier's count, and Kampung KB that moved up or down."""

    previous_period: str = Field(description="The month before, `YYYY-MM`.")
    previous: Tiers = Field(description="The tiers of the month before.")
    delta: Tiers = Field(description="This month's count minus the previous one, per tier.")
    promoted: int = Field(description="Kampung KB in a higher tier than the month before.")
    demoted: int = Field(description="Kampung KB in a lower tier than the month before.")


class Kkbpk(BaseModel):
    """Ratios of sums over the Kampung KB whose kkbpk in force (newest at or before the period) exists.

    Over a quarter or a year, `pus` and `kependudukan_kampung` are its last month's; `kkbpk_kampung` and the sums
    of the kkbpk (the four, and each method's) are summed over its months (Kampung KB-months, PUS-months), so that
    each ratio is over the months together."""

    pus: int = Field(description="Σ PUS of the kependudukan in force, over the Kampung KB that have one.")
    kependudukan_kampung: int = Field(description="Kampung KB with a kependudukan in force.")
    kkbpk_kampung: int = Field(description="Kampung KB with a kkbpk in force: the base of the three ratios.")
    kkbpk_pus: int = Field(description="Σ (KB users + non-users) of those kkbpk: the PUS they account for.")
    kb_users: int = Field(description="Σ PUS using a KB method.")
    mkjp_users: int = Field(description="Σ PUS using IUD, MOW, MOP or an implant.")
    kb_users_by_method: dict[Contraception, int] = Field(
        description="Σ PUS using each method (the `contraception` code list), every method with 0 included, from "
        "the same kkbpk as `kb_users`, which they add up to: the method mix (`method_mix_pct`)."
    )
    unmet_need: int = Field(description="Σ non-users for IAT + TIAL.")
    cpr_pct: Pct = Field(description="kb_users / kkbpk_pus.")
    mkjp_pct: Pct = Field(description="mkjp_users / kb_users.")
    unmet_need_pct: Pct = Field(description="unmet_need / kkbpk_pus.")


class Share(BaseModel):
    count: int = Field(description="How many counted Kampung KB have it.")
    pct: Pct = Field(description="count / the counted Kampung KB (`kampung_total`), in percent.")


class Ownership(BaseModel):
    """Active Kampung KB whose profil in force has each item, as a share of all active Kampung KB."""

    profil_kampung: int = Field(
        description="Counted Kampung KB with a profil in force; those without one are counted as having no item."
    )
    pokja: Share = Field(description="With a Pokja.")
    sk_pokja: Share = Field(description="With an SK for the Pokja.")
    pokja_trained: Share = Field(description="With a trained Pokja.")
    rumah_dataku: Share = Field(description="With a Rumah DataKu.")
    sekretariat: Share = Field(description="With a secretariat.")
    pkb_pendamping: Share = Field(description="With a PKB/PLKB pendamping.")
    regulation: Share = Field(description="With at least one regulation.")
    rkm: Share = Field(description="With a community work plan (RKM).")


class Percontohan(BaseModel):
    """A percontohan (model) Kampung KB of the region, once per level it holds, with its tier as of the period."""

    id: int = Field(description="The Kampung KB's id.")
    name: str = Field(description="Its name.")
    desa_code: str = Field(description="Its desa/kelurahan.")
    level: Literal["kecamatan", "kabupaten", "provinsi"] = Field(description="Of which region it is the model.")
    tier: str = Field(description="Under the report's rule set, as of its period; `belum_terklasifikasi` if none.")


class TargetRead(BaseModel):
    code: str = Field(description="The region.")
    year: int = Field(description="The year.")
    formation_pct: float | None = Field(description="Target coverage: Kampung KB / desa + kelurahan, in percent.")
    mandiri_plus_pct: float | None = Field(description="Target share of mandiri + berkelanjutan, in percent.")
    mandiri_plus_increase_pts: float | None = Field(
        description="Target yearly increase of the mandiri + berkelanjutan share, in points."
    )
    updated_at: dt.datetime | None = Field(default=None, description="When the target was last set.")


class TargetUpdate(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"formation_pct": 80.0, "mandiri_plus_pct": 25.0}]})

    formation_pct: Annotated[float | None, Field(ge=0, le=100)] = Field(
        default=None, description="Target coverage: Kampung KB / desa + kelurahan, in percent."
    )
    """Kampung KB formed as % of the desa/kelurahan of the region."""
    mandiri_plus_pct: Annotated[float | None, Field(ge=0, le=100)] = Field(
        default=None, description="Target share of mandiri + berkelanjutan, in percent."
    )
    """Mandiri + berkelanjutan as % of the classified Kampung KB."""
    mandiri_plus_increase_pts: Annotated[float | None, Field(ge=0, le=100)] = Field(
        default=None, description="Target increase of mandiri + berkelanjutan over the year, in points."
    )
    """Increase of the mandiri + berkelanjutan % over the year, in points (no national default: see the README)."""


class TargetVsActual(TargetRead):
    formation_actual_pct: Pct = Field(description="Coverage as of the period, in percent.")
    mandiri_plus_actual_pct: Pct = Field(description="Share of mandiri + berkelanjutan as of the period, in percent.")


TargetKind = Literal["formation_pct", "mandiri_plus_pct", "mandiri_plus_increase_pts"]


class TargetProgress(BaseModel):
    """One target in force for the region and year, against the actual figure as of the report's last month."""

    target: TargetKind = Field(description="Which target.")
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

    on_time: int = Field(description="Written by the deadline day of the next month.")
    late: int = Field(description="Written after the deadline.")
    missing: int = Field(description="Not written.")
    on_time_pct: Pct = Field(description="on_time over the Kampung KB (-months) counted, in percent.")
    late_pct: Pct = Field(description="late over the Kampung KB (-months) counted, in percent.")
    missing_pct: Pct = Field(description="missing over the Kampung KB (-months) counted, in percent.")


class TimelinessRead(BaseModel):
    """Per module; over a quarter or year, counts are Kampung KB-months and rates are over `kampung_months`."""

    profil: ModuleTimeliness = Field(description="The profil module.")
    kependudukan: ModuleTimeliness = Field(description="The kependudukan module.")
    kkbpk: ModuleTimeliness = Field(description="The kkbpk module.")


class Headline(BaseModel):
    """The figures shown per region, per child region and per period."""

    code: str = Field(description="The region's code; `00` for the nation.")
    name: str = Field(description="The region's name.")
    level: Literal["nasional", "provinsi", "kabupaten", "kecamatan"] = Field(description="The region's level.")
    desa_total: int = Field(description="Desa and kelurahan in the region.")
    kampung_total: int = Field(description="Kampung KB counted: active and formed by the end of the period.")
    coverage_pct: Pct = Field(description="kampung_total / desa_total, in percent.")
    tiers: Tiers = Field(description="Kampung KB per tier as of the period.")
    mandiri_plus_pct: Pct = Field(description="(mandiri + berkelanjutan) / classified, in percent.")
    reported: int = Field(description="Counted Kampung KB with a profil, kependudukan or kkbpk of exactly the period.")
    reporting_rate_pct: Pct = Field(description="reported / kampung_total, in percent.")
    pus: int = Field(description="Σ PUS of the kependudukan in force.")
    cpr_pct: Pct = Field(description="Contraceptive prevalence: Σ KB users / Σ (users + non-users), in percent.")
    mkjp_pct: Pct = Field(description="Long-acting methods (IUD, MOW, MOP, implant) / KB users, in percent.")
    unmet_need_pct: Pct = Field(description="Σ (IAT + TIAL) / Σ (users + non-users), in percent.")
    method_mix_pct: dict[Contraception, Pct] = Field(
        description="The method mix: Σ users of each method (the `contraception` code list, every method) / Σ KB "
        "users, in percent; each null when there are no users."
    )
    timeliness: TimelinessRead = Field(description="On time, late and missing per module.")
    approval: ApprovalStatus | None = Field(
        default=None,
        description="In a report and its child regions: whether the month (a quarter or year: its last month) is "
        "approved, closed or open for writes by operators; null in trend points.",
    )


class DesaChild(BaseModel):
    """A desa/kelurahan of a kecamatan, with its Kampung KB (if one counts in the period) and that one's tier."""

    code: str = Field(description="The desa/kelurahan code.")
    name: str = Field(description="Its name.")
    level: Literal["desa"] = Field(default="desa", description="Always desa.")
    kind: str | None = Field(description="desa or kelurahan.")
    kampung_id: int | None = Field(description="Its Kampung KB, if it has one.")
    kampung_name: str | None = Field(description="The Kampung KB's name.")
    tier: str | None = Field(description="The Kampung KB's tier as of the period.")
    reported: bool = Field(description="Whether the Kampung KB submitted a module of exactly the period.")
    months_reported: int = Field(description="Months of the period with a submission of any module.")


Child = Annotated[Headline | DesaChild, Field(discriminator="level")]


ComputedVersion = Annotated[
    str,
    Field(
        exclude=True,
        description="Each of its months' `computed_at` (`spans.Combined.computed_version`): what a chart of these "
        "figures is tagged by. Not sent.",
    ),
]


class TrendPoint(Headline):
    period: str = Field(description="The month, quarter or year.")
    computed_at: dt.datetime = Field(
        description="When it was computed (a quarter or year: its least recently computed month)."
    )
    computed_version: ComputedVersion


class Report(Headline):
    period: str = Field(description="YYYY-MM, YYYY-Qn or YYYY, as asked.")
    months: list[str] = Field(description="The months the figures cover (a quarter or year in progress: so far).")
    kampung_months: int = Field(
        description="Σ over the months of the Kampung KB counted in each: the base of `reporting_rate_pct` and "
        "of the timeliness rates (for a month, `kampung_total`)."
    )
    ruleset: str = Field(description="The rule set of the tiers.")
    computed_at: dt.datetime = Field(
        description="When report-worker computed these figures (a quarter or year: its least recently computed month)."
    )
    computed_version: ComputedVersion
    desa: int = Field(description="Desa in the region.")
    kelurahan: int = Field(description="Kelurahan in the region.")
    kampung_desa: int = Field(description="Counted Kampung KB in a desa.")
    kampung_kelurahan: int = Field(description="Counted Kampung KB in a kelurahan.")
    kecamatan_total: int = Field(description="Kecamatan in the region.")
    kecamatan_with_kampung: int = Field(description="Kecamatan with at least one counted Kampung KB.")
    classified: int = Field(description="Counted Kampung KB with a tier.")
    tier_change: TierChange = Field(description="The change against the month before.")
    kkbpk: Kkbpk = Field(description="KKBPK sums and ratios.")
    ownership: Ownership = Field(description="Shares of Kampung KB with each organisational element.")
    percontohan: list[Percontohan] = Field(description="The region's model Kampung KB.")
    quality: QualityCounts = Field(description="Open data-quality flags by kind, and how many were checked.")
    targets: TargetVsActual | None = Field(description="The year's targets beside the actual figures, if set.")
    target_progress: list[TargetProgress] = Field(
        description="Every target in force (the region's own, one above it, or the Instruction's national default)."
    )
    previous: TrendPoint | None = Field(
        description="The same headline figures for the month, quarter or year before, for the change against it; "
        "null when that one is not computed."
    )
    children: list[Child] = Field(
        description="The same headline figures per child region (per desa below a kecamatan)."
    )


class Trend(BaseModel):
    code: str = Field(description="The region's code.")
    name: str = Field(description="The region's name.")
    ruleset: str = Field(description="The rule set of the tiers.")
    from_period: str = Field(description="The first month asked for.")
    to_period: str = Field(description="The last month asked for.")
    points: list[TrendPoint] = Field(description="One per computed period in the range, oldest first.")
