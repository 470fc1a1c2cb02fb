"""Rule sets: data files validated at start-up into band tables the scoring reads."""

import hashlib
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from kampungkb_shared.classification import Group, Indicator
from kampungkb_shared.codes import (
    DataSource,
    Facility,
    FundingSource,
    Instansi,
    OperationalItem,
    Poktan,
    Tier,
    tier_rank,
)


def default_rulesets_dir() -> Path:
    """The rule sets packaged in the wheel, else those of the source tree (services/classifier/rulesets)."""
    packaged = Path(__file__).resolve().parent / "rulesets"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parents[2] / "rulesets"


Rounding = Literal["half_away_from_zero", "float8_half_even"]
"""`half_away_from_zero` on exact values (PostgreSQL numeric ROUND); `float8_half_even` computes the ratio in
IEEE doubles and rounds half to even, as PostgreSQL's round(double precision) does on common platforms."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Bands(_Strict):
    """Score bands of a whole-number measure: `[inclusive upper bound, score]`, ascending, the last open-ended."""

    edges: list[tuple[int | None, int]]

    @model_validator(mode="after")
    def _check(self) -> "Bands":
        uppers = [upper for upper, _ in self.edges[:-1]]
        if not self.edges or self.edges[-1][0] is not None or any(u is None for u in uppers):
            raise ValueError("only the last band is open-ended (null)")
        if uppers != sorted(set(uppers)):  # type: ignore[type-var]
            raise ValueError("upper bounds must increase")
        scores = [score for _, score in self.edges]
        if sorted(scores) != list(range(1, len(scores) + 1)) or scores not in (sorted(scores), sorted(scores)[::-1]):
            raise ValueError("scores must run 1, 2, ... in one direction")
        return self

    @property
    def higher_is_better(self) -> bool:
        return self.edges[0][1] < self.edges[-1][1]

    @property
    def max_score(self) -> int:
        return len(self.edges)

    @cached_property
    def table(self) -> tuple[int, ...]:
        """Score by value for every value up to the last finite edge; larger values take the last band."""
        table: list[int] = []
        for upper, score in self.edges[:-1]:
            assert upper is not None
            table.extend([score] * (upper + 1 - len(table)))
        table.append(self.edges[-1][1])
        return tuple(table)

    def score(self, value: int) -> int:
        table = self.table
        return table[value] if value < len(table) else table[-1]

    def bounds(self, score: int) -> tuple[int, int | None]:
        """The smallest and largest values (None: unbounded) that score `score`."""
        lower = 0
        for upper, band_score in self.edges:
            if band_score == score:
                return lower, upper
            assert upper is not None
            lower = upper + 1
        raise ValueError(f"no band scores {score}")


class PokjaBands(_Strict):
    """Scores of the Pokja levels."""

    none: int
    exists: int
    members_or_trained: int
    members_and_trained: int


def _bands(value: Any) -> Any:
    return {"edges": value} if isinstance(value, list) else value


class BandSet(_Strict):
    i_pokja: PokjaBands
    i_sumber_dana: Bands
    i_poktan: Bands
    i_sarana: Bands
    i_pkb_regulasi: Bands
    p_penggunaan_data: Bands
    p_mekop: Bands
    p_lintas_sektor: Bands
    o_poktan: Bands
    o_cpr: Bands
    o_mkjp: Bands
    o_unmet: Bands

    @model_validator(mode="before")
    @classmethod
    def _lists_are_edges(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {key: _bands(value) for key, value in data.items()}
        return data


class DecisionRow(_Strict):
    input: bool
    proses: bool
    output: bool
    tier: Tier


class Rounding_(_Strict):
    percent: Rounding
    index: Literal["half_away_from_zero"]


class PartnerPolicy(_Strict):
    exclude: tuple[Instansi, ...] = ()
    window_months: Annotated[int, Field(ge=1)] | None = None


class Policies(_Strict):
    partners: PartnerPolicy
    missing_data: Literal["official", "strict"]
    null_score: int | None = None
    poktan_mean_over: Literal["all_five"] = "all_five"

    @model_validator(mode="after")
    def _official_needs_null_score(self) -> "Policies":
        if self.missing_data == "official" and self.null_score is None:
            raise ValueError("missing_data official needs null_score")
        return self


class RuleSet(_Strict):
    """One rule set file: bands, rounding, threshold, decision table and policies. `hash` is the file's sha256."""

    id: str
    title: str
    threshold: Decimal
    rounding: Rounding_
    bands: BandSet
    decision: list[DecisionRow]
    policies: Policies
    hash: str = ""

    @model_validator(mode="after")
    def _complete_decision_table(self) -> "RuleSet":
        keys = {(row.input, row.proses, row.output) for row in self.decision}
        if len(keys) != 8 or len(self.decision) != 8:
            raise ValueError("the decision table needs exactly one row per pass/fail combination")
        if any(row.tier is Tier.BELUM_TERKLASIFIKASI for row in self.decision):
            raise ValueError("the decision table decides among the four tiers")
        return self

    @cached_property
    def threshold_hundredths(self) -> int:
        return int(self.threshold * 100)

    @cached_property
    def tier_of(self) -> dict[tuple[bool, bool, bool], Tier]:
        return {(row.input, row.proses, row.output): row.tier for row in self.decision}

    def count_bands(self, indicator: Indicator) -> Bands:
        bands = getattr(self.bands, indicator.value)
        assert isinstance(bands, Bands)
        return bands

    def max_score(self, indicator: Indicator) -> int:
        if indicator is Indicator.I_POKJA:
            pokja = self.bands.i_pokja
            return max(pokja.none, pokja.exists, pokja.members_or_trained, pokja.members_and_trained)
        return self.count_bands(indicator).max_score

    @cached_property
    def reachable_max(self) -> dict[Indicator, int]:
        """The highest score of each indicator that the data can reach (a band may ask for more than exists)."""
        capacity = {**CAPACITY, Indicator.P_LINTAS_SEKTOR: len(Instansi) - len(set(self.policies.partners.exclude))}
        reachable: dict[Indicator, int] = {Indicator.I_POKJA: self.max_score(Indicator.I_POKJA)}
        for indicator in Indicator:
            if indicator is Indicator.I_POKJA:
                continue
            bands = self.count_bands(indicator)
            reachable[indicator] = max(
                score for score in range(1, bands.max_score + 1) if bands.bounds(score)[0] <= capacity[indicator]
            )
        return reachable

    @cached_property
    def tables(self) -> "Tables":
        """Precomputed lookups for the hot path."""
        return Tables.build(self)

    def as_data(self) -> dict[str, Any]:
        """The rule set as JSON-able data, as served by `GET /v1/rulesets/{id}`."""
        return self.model_dump(mode="json")


CAPACITY: dict[Indicator, int] = {
    Indicator.I_SUMBER_DANA: len(FundingSource),
    Indicator.I_POKTAN: len(Poktan),
    Indicator.I_SARANA: len(Facility),
    Indicator.I_PKB_REGULASI: 2,
    Indicator.P_PENGGUNAAN_DATA: len(DataSource),
    Indicator.P_MEKOP: len(OperationalItem),
    Indicator.O_POKTAN: 100,
    Indicator.O_CPR: 100,
    Indicator.O_MKJP: 100,
    Indicator.O_UNMET: 100,
}
"""The largest value each measure can take: the size of its code list, or 100 %."""

GROUP_INDICATORS: dict[Group, tuple[Indicator, ...]] = {
    group: tuple(indicator for indicator in Indicator if indicator.group is group) for group in Group
}


def load_ruleset(path: Path) -> RuleSet:
    """Parse and validate one rule set file; its hash is the sha256 of the file's bytes."""
    raw = path.read_bytes()
    data = yaml.safe_load(raw)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a mapping")
    return RuleSet.model_validate({**data, "hash": hashlib.sha256(raw).hexdigest()})


def load_rulesets(directory: Path | None = None) -> dict[str, RuleSet]:
    """Every `*.yaml` rule set of a directory, by id; duplicate ids are an error."""
    directory = directory or default_rulesets_dir()
    rulesets: dict[str, RuleSet] = {}
    for path in sorted(directory.glob("*.yaml")):
        ruleset = load_ruleset(path)
        if ruleset.id in rulesets:
            raise ValueError(f"duplicate rule set id {ruleset.id!r} in {path}")
        rulesets[ruleset.id] = ruleset
    if not rulesets:
        raise ValueError(f"no rule sets in {directory}")
    return rulesets


INDICATOR_NAMES: tuple[str, ...] = tuple(indicator.value for indicator in Indicator)
GROUP_NAMES: tuple[tuple[str, tuple[str, ...]], ...] = tuple(
    (group.value, tuple(i.value for i in indicators)) for group, indicators in GROUP_INDICATORS.items()
)


@dataclass(frozen=True, slots=True)
class Tables:
    """A rule set flattened into plain tuples and dicts keyed by strings (enum hashing is slow in CPython)."""

    bands: dict[str, tuple[int, ...]]
    pokja: tuple[int, int, int, int]
    pkb: tuple[int, ...]
    reachable: dict[str, int]
    threshold: int
    threshold_value: float
    tier_of: dict[tuple[bool, bool, bool], str]
    official: bool
    null_score: int | None
    half_away: bool
    exclude: frozenset[str]
    window_months: int | None
    min_sums: tuple[int, ...]
    caps: tuple[tuple[int, ...], ...]
    climbs: dict[tuple[bool, bool, bool], tuple[tuple[tuple[int, ...], str, int], ...]]
    # Memos of `classifier.explain` and `classifier.actions`: pure functions of small keys, per rule set.
    memo_groups: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)
    memo_choices: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)
    memo_actions: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def build(cls, ruleset: "RuleSet") -> "Tables":
        b = ruleset.bands
        pokja = (b.i_pokja.none, b.i_pokja.exists, b.i_pokja.members_or_trained, b.i_pokja.members_and_trained)
        threshold = ruleset.threshold_hundredths
        min_sums = []
        for _, names in GROUP_NAMES:
            total = len(names)
            while (200 * total + len(names)) // (2 * len(names)) < threshold:
                total += 1
            min_sums.append(total)
        tier_of = {key: tier.value for key, tier in ruleset.tier_of.items()}
        return cls(
            bands={i.value: _wide(ruleset.count_bands(i).table) for i in Indicator if i is not Indicator.I_POKJA},
            pokja=pokja,
            pkb=_wide(b.i_pkb_regulasi.table),
            reachable={i.value: score for i, score in ruleset.reachable_max.items()},
            threshold=ruleset.threshold_hundredths,
            threshold_value=ruleset.threshold_hundredths / 100,
            tier_of=tier_of,
            official=ruleset.policies.missing_data == "official",
            null_score=ruleset.policies.null_score,
            half_away=ruleset.rounding.percent == "half_away_from_zero",
            exclude=frozenset(code.value for code in ruleset.policies.partners.exclude),
            window_months=ruleset.policies.partners.window_months,
            min_sums=tuple(min_sums),
            caps=tuple(tuple(ruleset.reachable_max[Indicator(n)] for n in names) for _, names in GROUP_NAMES),
            climbs={state: _climbs(state, tier_of) for state in tier_of},
        )


WIDE = 256
"""Length of the hot-path band tables: values from 0 to WIDE - 1 index them directly."""


def _wide(table: tuple[int, ...]) -> tuple[int, ...]:
    return table + (table[-1],) * max(0, WIDE - len(table))


_SUBSETS = ((0,), (1,), (2,), (0, 1), (0, 2), (1, 2), (0, 1, 2))


def _climbs(
    state: tuple[bool, bool, bool], tier_of: dict[tuple[bool, bool, bool], str]
) -> tuple[tuple[tuple[int, ...], str, int], ...]:
    """From a pass/fail state: the sets of failing groups whose passing lifts the tier, with the tier reached.

    Fewest groups first, then in group order (input, proses, output): the tie-break order of `next_tier`.
    """
    rank = tier_rank(tier_of[state])
    climbs = []
    for subset in _SUBSETS:
        if any(state[k] for k in subset):
            continue
        new = tier_of[(state[0] or 0 in subset, state[1] or 1 in subset, state[2] or 2 in subset)]
        if tier_rank(new) > rank:
            climbs.append((subset, new, tier_rank(new)))
    return tuple(climbs)
