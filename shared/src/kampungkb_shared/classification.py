"""What the registry sends the classifier and what it gets back.

A `Snapshot` is what the registry has in force for one Kampung KB as of a period. A
`ClassificationResult` is the tier with its explanation: the 12 sub-scores, the three group indices
against the threshold, the raw measures they came from, what data is missing, and the cheapest way
to the next tier.
"""

import datetime as dt
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.config import JsonDict

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

    code: Instansi = Field(description="The partner institution.")
    last_activity: dt.date = Field(description="The date of its newest activity with the Kampung KB.")


class Snapshot(_Model):
    """The modules in force for a Kampung KB as of a period (None where never submitted) and its partners."""

    profil: ProfilPayload | None = Field(default=None, description="The profil in force, or null.")
    kependudukan: KependudukanPayload | None = Field(default=None, description="The kependudukan in force, or null.")
    kkbpk: KkbpkPayload | None = Field(default=None, description="The kkbpk in force, or null.")
    partners: list[PartnerActivity] = Field(
        description="Distinct partner institutions of its activities up to the period.", default_factory=list
    )


_SNAPSHOT_EXAMPLE: JsonDict = {
    "profil": {
        "pokja": {"exists": True, "sk": True, "members": 12, "trained_members": 6, "trained": True},
        "funding_sources": ["APBD", "DANA_DESA"],
        "poktan": ["BKB", "BKR", "BKL"],
        "facilities": ["SEKRETARIAT"],
        "pkb_pendamping": True,
        "regulations": ["SK_KADES_LURAH"],
        "data_sources": ["PK_PEMUTAKHIRAN_DATA", "POTENSI_DESA"],
        "operational": {"RAPAT_KOORDINASI": "BULANAN", "SOSIALISASI": "TRIWULAN"},
    },
    "kependudukan": {
        "pus": 100,
        "families": 150,
        "remaja": 60,
        "families_with_balita": 40,
        "families_with_remaja": 35,
        "families_with_lansia": 30,
    },
    "kkbpk": {
        "poktan_participants": {"BKB": 20, "BKR": 10},
        "kb_users": {"KB_SUNTIK": 47, "KB_IMPLAN": 23},
        "non_users": {"HAMIL": 15, "IAT": 15},
    },
    "partners": [{"code": "PUSKESMAS", "last_activity": "2026-10-10"}],
}


class ClassifyRequest(_Model):
    """`POST /v1/classify`: one snapshot; `ruleset` defaults to the classifier's default rule set."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"ruleset": "kkb-2025", "period": "2026-10", "snapshot": _SNAPSHOT_EXAMPLE}]}
    )

    ruleset: str | None = Field(default=None, description="The rule set; default: the classifier's default.")
    period: Period = Field(description="The month classified, `YYYY-MM`.")
    snapshot: Snapshot = Field(description="What is in force for the Kampung KB as of the period.")


ITEM_NUMBERS = (-(2**63), 2**63 - 1)
"""The range of a numeric item id: a 64-bit integer, as JSON writers of the answers (and most clients) hold one."""
ItemNumber = Annotated[int, Field(ge=ITEM_NUMBERS[0], le=ITEM_NUMBERS[1])]


class BatchItem(_Model):
    """One snapshot of a batch, with the caller's id, echoed in the result or error."""

    id: str | ItemNumber = Field(description="The caller's id of the item, repeated in its result.")
    period: Period = Field(description="The month classified, `YYYY-MM`.")
    snapshot: Snapshot = Field(description="What is in force as of the period.")


class BatchRequest(_Model):
    """`POST /v1/classify/batch`: up to 10,000 items, each scored with `ruleset` or with every one of `rulesets`."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "rulesets": ["bkkbn-web-2021", "kkb-2025"],
                    "items": [{"id": 42, "period": "2026-10", "snapshot": _SNAPSHOT_EXAMPLE}],
                }
            ]
        }
    )

    ruleset: str | None = Field(default=None, description="The rule set; default: the classifier's default.")
    rulesets: Annotated[list[str], Field(min_length=1, json_schema_extra={"uniqueItems": True})] | None = Field(
        default=None,
        description=(
            "Instead of `ruleset`, never with it: distinct rule set ids. Each valid item is scored under each, "
            "its results in this order."
        ),
    )
    items: list[BatchItem] = Field(description="The snapshots to classify (at most 10,000).")
    explain: bool = Field(
        default=True,
        description=(
            "Whether each result carries its explanation (`raw`, `missing`, `next_tier`). With `false` the results "
            "are `ShortBatchResult`s: the tier, sub-scores, indices and passes only, for a caller that stores those "
            "and derives the explanation again when asked (`POST /v1/explain`); the classifier then does not build it."
        ),
    )

    @model_validator(mode="after")
    def _one_way_to_name_rule_sets(self) -> "BatchRequest":
        if self.ruleset is not None and self.rulesets is not None:
            raise ValueError("give either ruleset or rulesets")
        if self.rulesets is not None and len(set(self.rulesets)) != len(self.rulesets):
            raise ValueError("rulesets must be distinct")
        return self


class ExplainRequest(_Model):
    """`POST /v1/explain`: snapshots scored again, with their explanation, under a rule set given by its content.

    The registry keeps every rule set's content by its hash and stores a classification without its explanation:
    this derives it again, exactly, whatever content the classifier has loaded now.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "ruleset": {"id": "kkb-2025", "hash": "<sha256>", "...": "as GET /v1/rulesets/kkb-2025 serves it"},
                    "items": [{"id": 42, "period": "2026-10", "snapshot": _SNAPSHOT_EXAMPLE}],
                }
            ]
        }
    )

    ruleset: dict[str, Any] = Field(
        description="The rule set's content as `GET /v1/rulesets/{id}` served it, `hash` included."
    )
    items: list[BatchItem] = Field(description="The snapshots (at most 10,000), each with its period.")


class Scores(_Model):
    """The 12 sub-scores (1-4; sarana and PKB/regulasi reach 3), None where the rule set could not score."""

    i_pokja: int | None = Field(default=None, description="Input: the Pokja (1-4).")
    i_sumber_dana: int | None = Field(default=None, description="Input: funding sources (1-4).")
    i_poktan: int | None = Field(default=None, description="Input: poktan present (1-4).")
    i_sarana: int | None = Field(default=None, description="Input: facilities (1-3).")
    i_pkb_regulasi: int | None = Field(default=None, description="Input: PKB pendamping and regulations (1-3).")
    p_penggunaan_data: int | None = Field(default=None, description="Proses: data use (1-4).")
    p_mekop: int | None = Field(default=None, description="Proses: operational mechanisms (1-4).")
    p_lintas_sektor: int | None = Field(default=None, description="Proses: partner institutions (1-4).")
    o_poktan: int | None = Field(default=None, description="Output: poktan participation (1-4).")
    o_cpr: int | None = Field(default=None, description="Output: contraceptive prevalence (1-4).")
    o_mkjp: int | None = Field(default=None, description="Output: long-acting methods (1-4).")
    o_unmet: int | None = Field(default=None, description="Output: unmet need (1-4, higher is less unmet need).")


class Indices(_Model):
    """Group indices: the mean of the group's sub-scores rounded to 2 decimals, None if the group was not scored."""

    input: float | None = Field(default=None, description="Mean of the input sub-scores.")
    proses: float | None = Field(default=None, description="Mean of the proses sub-scores.")
    output: float | None = Field(default=None, description="Mean of the output sub-scores.")


class Passed(_Model):
    """Whether each group's index reaches the threshold; None if the group was not scored."""

    input: bool | None = Field(default=None, description="Whether the input index reaches the threshold.")
    proses: bool | None = Field(default=None, description="Whether the proses index reaches the threshold.")
    output: bool | None = Field(default=None, description="Whether the output index reaches the threshold.")


class RawMeasures(_Model):
    """The measures the sub-scores were banded from. Percentages are the whole numbers the bands saw."""

    pokja_exists: bool | None = Field(default=None, description="The Pokja exists.")
    pokja_members: int | None = Field(default=None, description="Pokja members.")
    pokja_trained: bool | None = Field(default=None, description="The Pokja was trained.")
    n_funding_sources: int | None = Field(default=None, description="Funding sources.")
    n_poktan: int | None = Field(default=None, description="Poktan present.")
    n_facilities: int | None = Field(default=None, description="Facilities present.")
    pkb_pendamping: bool | None = Field(default=None, description="A PKB/PLKB accompanies it.")
    has_regulation: bool | None = Field(default=None, description="At least one regulation.")
    n_data_sources: int | None = Field(default=None, description="Data sources used.")
    n_operational: int | None = Field(default=None, description="Operational mechanisms that run.")
    n_partners: int | None = Field(default=None, description="Distinct partners the rule set counts.")
    poktan_pct: dict[str, int | None] | None = Field(default=None, description="Participation % per poktan.")
    poktan_participation_pct: int | None = Field(default=None, description="Mean poktan participation, in percent.")
    pus: int | None = Field(default=None, description="PUS in force.")
    kb_users: int | None = Field(default=None, description="KB users.")
    mkjp_users: int | None = Field(default=None, description="Users of long-acting methods.")
    unmet_need: int | None = Field(default=None, description="PUS not using KB because of IAT or TIAL.")
    cpr_pct: int | None = Field(default=None, description="Contraceptive prevalence, in percent.")
    mkjp_pct: int | None = Field(default=None, description="Long-acting methods among users, in percent.")
    unmet_pct: int | None = Field(default=None, description="Unmet need, in percent.")


class MissingItem(_Model):
    """Data a group lacked: a machine code (`profil`, `kependudukan`, `kkbpk`, `kependudukan.pus`, ...) and text."""

    code: str = Field(description="What is missing.")
    groups: list[Group] = Field(description="The groups that lack it.")
    message: str = Field(description="What to submit, in Indonesian.")
    message_en: str = Field(description="What to submit, in English.")


class Action(_Model):
    """One sub-score improvement, phrased as something a Pokja can do.

    `measure` names the raw measure to change; reaching `target` (a minimum, or for `unmet_pct` a
    maximum) lifts the sub-score from `from_score` to `to_score`.
    """

    indicator: Indicator = Field(description="The sub-score to raise.")
    from_score: int = Field(description="Its score now.")
    to_score: int = Field(description="Its score once done.")
    action: str = Field(description="Indonesian.")
    action_en: str = Field(description="English.")
    measure: str = Field(description="The raw measure to change.")
    current: int | None = Field(description="The measure's value now.")
    target: int = Field(description="The value to reach (a minimum; for `unmet_pct` a maximum).")


class NextTier(_Model):
    """The cheapest set of sub-score improvements (fewest total score steps) that lifts the tier."""

    tier: Tier = Field(description="The next tier.")
    steps: int = Field(description="Score steps the actions add up to.")
    actions: list[Action] = Field(description="What to do, cheapest set first.")


class ShortResult(_Model):
    """A classification without its explanation: what a batch answers under `"explain": false`."""

    ruleset: str = Field(description="The rule set that scored it.")
    ruleset_hash: str = Field(description="SHA-256 of that rule set's content.")
    period: Period = Field(description="The month classified, `YYYY-MM`.")
    tier: Tier = Field(description="The tier.")
    scores: Scores = Field(description="The 12 sub-scores.")
    indices: Indices = Field(description="The three indices.")
    passed: Passed = Field(description="Which indices reach the threshold.")
    threshold: float = Field(description="The index each group must reach (3.00).")


class ClassificationResult(ShortResult):
    """A classification with its explanation, as the classifier returns it by default."""

    raw: RawMeasures = Field(description="The measures the scores come from.")
    missing: list[MissingItem] = Field(
        description="Data a group lacked (kkb-2025 leaves such a Kampung KB belum_terklasifikasi)."
    )
    next_tier: NextTier | None = Field(description="The cheapest way to the next tier; null at the top.")


class BatchResult(ClassificationResult):
    """A batch item's classification, with the item's id and its position in the request."""

    id: str | int = Field(description="The item's id, as sent.")
    index: int = Field(description="The item's position in `items`, 0 first.")


class ShortBatchResult(ShortResult):
    """A batch item's classification without its explanation (`"explain": false`), with the item's id and position."""

    id: str | int = Field(description="The item's id, as sent.")
    index: int = Field(description="The item's position in `items`, 0 first.")


class BatchError(_Model):
    """An invalid batch item: its id (when readable), its position and what is wrong."""

    id: str | int | None = Field(description="The item's id, when it could be read.")
    index: int = Field(description="The item's position in `items`, 0 first.")
    errors: list[FieldError] = Field(description="What is wrong with the item, field by field.")


class BatchResponse(_Model):
    """`POST /v1/classify/batch`: results of the valid items, errors of the invalid ones."""

    results: list[BatchResult | ShortBatchResult] = Field(
        description='One per valid item and rule set, in item order; without the explanation under `"explain": false`.'
    )
    errors: list[BatchError] = Field(description="One per invalid item, in item order.")


class RuleSetInfo(BaseModel):
    """A rule set in the list: id, title, content hash and whether it is the default."""

    id: str = Field(description="The rule set's id, as `ruleset` in requests and results.", examples=["kkb-2025"])
    title: str = Field(description="What the rule set is, in a line.")
    hash: str = Field(description="SHA-256 of the rule set's content: results name the version that scored them.")
    default: bool = Field(description="Whether the classifier uses it when a request names none.")
