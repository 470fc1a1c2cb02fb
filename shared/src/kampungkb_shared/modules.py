"""Payloads of the three period-keyed modules (`profil`, `kependudukan`, `kkbpk`) and their cross-module rules.

Rules that one payload can check on its own are validators here; rules that need two modules are in
`cross_module_errors`, which the registry calls with the modules in force for the period.
"""

from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from kampungkb_shared.codes import (
    AGE_GROUP_COUNT,
    Contraception,
    DataSource,
    Facility,
    Frequency,
    FundingSource,
    NonUseReason,
    OperationalItem,
    Pengarah,
    Poktan,
    Regulation,
)
from kampungkb_shared.errors import FieldError

_T = TypeVar("_T")


def _distinct(codes: Any) -> Any:
    # Before the items become enum members: hashing a str runs in C, hashing an enum member runs Python code, and a
    # national import checks a few hundred thousand lists. Anything but a list of hashables is left to the item type.
    if type(codes) is not list:
        return codes
    try:
        if len(set(codes)) == len(codes):
            return codes
    except TypeError:
        return codes
    seen: set[Any] = set()
    for code in codes:
        if code in seen:
            raise ValueError(f"duplicate code {code}")
        seen.add(code)
    return codes


CodeList = Annotated[list[_T], BeforeValidator(_distinct)]
"""A list of codes in which each code appears at most once."""

MAX_COUNT = 10_000_000
"""No desa/kelurahan holds ten million people: a larger count is a typing error, and the bound keeps every count
(and a nation's sums of them) far inside 64 bits."""

Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]
"""A count of people, families or participants: 0 to `MAX_COUNT`."""


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Pokja(_Payload):
    """The Kampung KB working group: whether it exists, has an SK, its members and their training."""

    exists: bool = Field(description="Whether the Kampung KB has a Pokja (working group).")
    sk: bool = Field(default=False, description="Whether the Pokja has an SK (decree).")
    members: Count = Field(default=0, description="Pokja members.")
    trained_members: Count = Field(default=0, description="Members who were trained (at most `members`).")
    trained: bool = Field(default=False, description="Whether the Pokja took part in training.")

    @model_validator(mode="after")
    def _trained_within_members(self) -> "Pokja":
        if self.trained_members > self.members:
            raise ValueError("trained_members must not exceed members")
        return self


class ProfilPayload(_Payload):
    """Module `profil`: organisation, funding, poktan, facilities, direction, regulations, data use, mechanisms."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "pokja": {"exists": True, "sk": True, "members": 12, "trained_members": 6, "trained": True},
                    "funding_sources": ["APBD", "DANA_DESA"],
                    "poktan": ["BKB", "BKR", "BKL"],
                    "facilities": ["SEKRETARIAT"],
                    "pkb_pendamping": True,
                    "regulations": ["SK_KADES_LURAH"],
                    "rkm": True,
                    "data_sources": ["PK_PEMUTAKHIRAN_DATA", "POTENSI_DESA"],
                    "operational": {"RAPAT_KOORDINASI": "BULANAN", "SOSIALISASI": "TRIWULAN"},
                }
            ]
        }
    )

    pokja: Pokja = Field(description="The working group.")
    funding_sources: CodeList[FundingSource] = Field(
        description="Where its money comes from (`GET /v1/codes/funding_source`).", default_factory=list
    )
    poktan: CodeList[Poktan] = Field(default_factory=list, description="The poktan present (ADA).")
    facilities: CodeList[Facility] = Field(
        description="Secretariat and Rumah DataKu, where present (`GET /v1/codes/facility`).", default_factory=list
    )
    pkb_pendamping: bool = Field(
        default=False,
        description="Whether a PKB/PLKB accompanies it; if not, say who directs activities in `pengarah`.",
    )
    pengarah: Pengarah | None = Field(default=None, description="Who directs activities when no PKB/PLKB does.")
    regulations: CodeList[Regulation] = Field(
        description="Regulations that support it (`GET /v1/codes/regulation`).", default_factory=list
    )
    rkm: bool = Field(default=False, description="Whether it has a community work plan (RKM).")
    data_sources: CodeList[DataSource] = Field(
        description="The data it uses for planning (`GET /v1/codes/data_source`).", default_factory=list
    )
    operational: dict[OperationalItem, Frequency] = Field(
        default_factory=dict, description="The operational mechanisms that run, each with its frequency."
    )


def _sixteen(counts: list[int]) -> list[int]:
    if len(counts) != AGE_GROUP_COUNT:
        raise ValueError(f"must hold {AGE_GROUP_COUNT} counts, one per age group")
    return counts


AgeCounts = Annotated[list[Count], AfterValidator(_sixteen)]


class Population(_Payload):
    """Population by sex and the 16 age groups of `AgeGroup`, in that order."""

    male: AgeCounts = Field(description="Men per age group: 16 counts, youngest first (`GET /v1/codes/age_group`).")
    female: AgeCounts = Field(description="Women per age group: 16 counts, youngest first.")


class KependudukanPayload(_Payload):
    """Module `kependudukan`: PUS, families, remaja and families with balita / remaja / lansia."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "pus": 100,
                    "families": 150,
                    "remaja": 60,
                    "families_with_balita": 40,
                    "families_with_remaja": 35,
                    "families_with_lansia": 30,
                }
            ]
        }
    )

    pus: Count = Field(description="Couples of reproductive age (pasangan usia subur).")
    families: Count = Field(description="Families.")
    remaja: Count = Field(description="Adolescents.")
    families_with_balita: Count = Field(description="Families with children under five (at most `families`).")
    families_with_remaja: Count = Field(description="Families with adolescents (at most `families`).")
    families_with_lansia: Count = Field(description="Families with elderly members (at most `families`).")
    population: Population | None = Field(default=None, description="Population by sex and age group, optional.")

    @model_validator(mode="after")
    def _subsets_of_families(self) -> "KependudukanPayload":
        for name in ("families_with_balita", "families_with_remaja", "families_with_lansia"):
            if getattr(self, name) > self.families:
                raise ValueError(f"{name} must not exceed families")
        return self


class KkbpkPayload(_Payload):
    """Module `kkbpk`: poktan participants, PUS using each method, PUS not using by reason."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "poktan_participants": {"BKB": 20, "BKR": 10},
                    "kb_users": {"KB_SUNTIK": 47, "KB_IMPLAN": 23},
                    "non_users": {"HAMIL": 15, "IAT": 15},
                }
            ]
        }
    )

    poktan_participants: dict[Poktan, Count] = Field(
        description="Participants of each poktan present in the profil.", default_factory=dict
    )
    kb_users: dict[Contraception, Count] = Field(
        description="PUS using each contraceptive method (`GET /v1/codes/contraception`).", default_factory=dict
    )
    non_users: dict[NonUseReason, Count] = Field(
        description="PUS not using KB, by reason (`GET /v1/codes/non_use_reason`); users + non-users = PUS.",
        default_factory=dict,
    )


POKTAN_DENOMINATOR: dict[Poktan, str] = {
    Poktan.BKB: "families_with_balita",
    Poktan.BKR: "families_with_remaja",
    Poktan.BKL: "families_with_lansia",
    Poktan.UPPKA: "families",
    Poktan.PIK_R: "remaja",
}
"""The `KependudukanPayload` field each poktan's participants are a share of."""


def cross_module_errors(kependudukan: KependudukanPayload, kkbpk: KkbpkPayload) -> list[FieldError]:
    """Violations of the rules that join the two modules; `loc` starts with the module the field belongs to.

    KB users plus non-users must equal the PUS, and each poktan's participants must not exceed its denominator.
    """
    errors: list[FieldError] = []
    users = sum(kkbpk.kb_users.values())
    non_users = sum(kkbpk.non_users.values())
    if users + non_users != kependudukan.pus:
        errors.append(
            FieldError(
                loc=["kkbpk", "kb_users"],
                msg=f"kb_users ({users}) + non_users ({non_users}) must equal kependudukan.pus ({kependudukan.pus})",
            )
        )
    for poktan, participants in kkbpk.poktan_participants.items():
        field = POKTAN_DENOMINATOR[poktan]
        denominator = getattr(kependudukan, field)
        if participants > denominator:
            errors.append(
                FieldError(
                    loc=["kkbpk", "poktan_participants", poktan.value],
                    msg=f"{participants} participants exceed kependudukan.{field} ({denominator})",
                )
            )
    return errors
