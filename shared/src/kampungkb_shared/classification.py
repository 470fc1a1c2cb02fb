"""What the registry sends the classifier and what it gets back.

A `Snapshot` is what the registry has in force for one Kampung KB as of a period. A
`ClassificationResult` is the tier with its explanation: the 12 sub-scores, the three group indices
against the threshold, the raw measures they came from, what data is missing, and the cheapest way
to the next tier.
"""

import datetime as dt
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from kampungkb_shared.codes import Instansi, Tier
from kampungkb_shared.errors import FieldError
from kampungkb_shared.modules import KependudukanPayload, KkbpkPayload, ProfilPayload
from kampungkb_shared.periods import Period


class Group(StrEnum):
    """The three indicator groups; each passes when its index reaches the threshold."""

    INPUT = "input"
    PROSES = "proses"
    OUTPUT = "output"


class Indicator(StrEnum):
    """The 12 sub-indicators, in the order of the official algorithm."""

    I_POKJA = "i_pokja"
    I_SUMBER_DANA = "i_sumber_dana"
    I_POKTAN = "i_poktan"
    I_SARANA = "i_sarana"
    I_PKB_REGULASI = "i_pkb_regulasi"
    P_PENGGUNAAN_DATA = "p_penggunaan_data"
    P_MEKOP = "p_mekop"
    P_LINTAS_SEKTOR = "p_lintas_sektor"
    O_POKTAN = "o_poktan"
    O_CPR = "o_cpr"
    O_MKJP = "o_mkjp"
    O_UNMET = "o_unmet"

    @property
    def group(self) -> Group:
        """The group the indicator belongs to."""
        return {"i": Group.INPUT, "p": Group.PROSES, "o": Group.OUTPUT}[self.value[0]]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PartnerActivity(_Model):
    """One distinct partner institution of the Kampung KB's activities and the date of its latest activity."""

    code: Instansi
    last_activity: dt.date


class Snapshot(_Model):
    """The modules in force for a Kampung KB as of a period (None where never submitted) and its partners."""

    profil: ProfilPayload | None = None
    kependudukan: KependudukanPayload | None = None
    kkbpk: KkbpkPayload | None = None
    partners: list[PartnerActivity] = Field(default_factory=list)


class ClassifyRequest(_Model):
    """`POST /v1/classify`: one snapshot; `ruleset` defaults to the classifier's default rule set."""

    ruleset: str | None = None
    period: Period
    snapshot: Snapshot


class BatchItem(_Model):
    """One snapshot of a batch, with the caller's id, echoed in the result or error."""

    id: str | int
    period: Period
    snapshot: Snapshot


class BatchRequest(_Model):
    """`POST /v1/classify/batch`: up to 10,000 items, each scored with `ruleset` or with every one of `rulesets`."""

    ruleset: str | None = Field(default=None, description="The rule set; default: the classifier's default.")
    rulesets: Annotated[list[str], Field(min_length=1, json_schema_extra={"uniqueItems": True})] | None = Field(
        default=None,
        description=(
            "Instead of `ruleset`, never with it: distinct rule set ids. Each valid item is scored under each, "
            "its results in this order."
        ),
    )
    items: list[BatchItem]

    @model_validator(mode="after")
    def _one_way_to_name_rule_sets(self) -> "BatchRequest":
        if self.ruleset is not None and self.rulesets is not None:
            raise ValueError("give either ruleset or rulesets")
        if self.rulesets is not None and len(set(self.rulesets)) != len(self.rulesets):
            raise ValueError("rulesets must be distinct")
        return self


class Scores(_Model):
    """The 12 sub-scores (1-4; sarana and PKB/regulasi reach 3), None where the rule set could not score."""

    i_pokja: int | None = None
    i_sumber_dana: int | None = None
    i_poktan: int | None = None
    i_sarana: int | None = None
    i_pkb_regulasi: int | None = None
    p_penggunaan_data: int | None = None
    p_mekop: int | None = None
    p_lintas_sektor: int | None = None
    o_poktan: int | None = None
    o_cpr: int | None = None
    o_mkjp: int | None = None
    o_unmet: int | None = None


class Indices(_Model):
    """Group indices: the mean of the group's sub-scores rounded to 2 decimals, None if the group was not scored."""

    input: float | None = None
    proses: float | None = None
    output: float | None = None


class Passed(_Model):
    """Whether each group's index reaches the threshold; None if the group was not scored."""

    input: bool | None = None
    proses: bool | None = None
    output: bool | None = None


class RawMeasures(_Model):
    """The measures the sub-scores were banded from. Percentages are the whole numbers the bands saw."""

    pokja_exists: bool | None = None
    pokja_members: int | None = None
    pokja_trained: bool | None = None
    n_funding_sources: int | None = None
    n_poktan: int | None = None
    n_facilities: int | None = None
    pkb_pendamping: bool | None = None
    has_regulation: bool | None = None
    n_data_sources: int | None = None
    n_operational: int | None = None
    n_partners: int | None = Field(default=None, description="Distinct partners the rule set counts.")
    poktan_pct: dict[str, int | None] | None = Field(default=None, description="Participation % per poktan.")
    poktan_participation_pct: int | None = None
    pus: int | None = None
    kb_users: int | None = None
    mkjp_users: int | None = None
    unmet_need: int | None = Field(default=None, description="PUS not using KB because of IAT or TIAL.")
    cpr_pct: int | None = None
    mkjp_pct: int | None = None
    unmet_pct: int | None = None


class MissingItem(_Model):
    """Data a group lacked: a machine code (`profil`, `kependudukan`, `kkbpk`, `kependudukan.pus`, ...) and text."""

    code: str
    groups: list[Group]
    message: str = Field(description="What to submit, in Indonesian.")
    message_en: str


class Action(_Model):
    """One sub-score improvement, phrased as something a Pokja can do.

    `measure` names the raw measure to change; reaching `target` (a minimum, or for `unmet_pct` a
    maximum) lifts the sub-score from `from_score` to `to_score`.
    """

    indicator: Indicator
    from_score: int
    to_score: int
    action: str = Field(description="Indonesian.")
    action_en: str
    measure: str
    current: int | None
    target: int


class NextTier(_Model):
    """The cheapest set of sub-score improvements (fewest total score steps) that lifts the tier."""

    tier: Tier
    steps: int
    actions: list[Action]


class ClassificationResult(_Model):
    """A classification with its explanation, as the classifier returns it and the registry stores it."""

    ruleset: str
    ruleset_hash: str
    period: Period
    tier: Tier
    scores: Scores
    indices: Indices
    passed: Passed
    threshold: float
    raw: RawMeasures
    missing: list[MissingItem]
    next_tier: NextTier | None


class BatchResult(ClassificationResult):
    """A batch item's classification, with the item's id and its position in the request."""

    id: str | int
    index: int


class BatchError(_Model):
    """An invalid batch item: its id (when readable), its position and what is wrong."""

    id: str | int | None
    index: int
    errors: list[FieldError]


class BatchResponse(_Model):
    """`POST /v1/classify/batch`: results of the valid items, errors of the invalid ones."""

    results: list[BatchResult]
    errors: list[BatchError]


class RuleSetInfo(BaseModel):
    """A rule set in the list: id, title, content hash and whether it is the default."""

    id: str = Field(description="The rule set's id, as `ruleset` in requests and results.", examples=["kkb-2025"])
    title: str = Field(description="What the rule set is, in a line.")
    hash: str = Field(description="SHA-256 of the rule set's content: results name the version that scored them.")
    default: bool = Field(description="Whether the classifier uses it when a request names none.")
