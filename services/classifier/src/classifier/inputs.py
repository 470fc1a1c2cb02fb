"""The scoring's own inputs: a snapshot as msgspec structs, decoded and checked straight from JSON bytes.

These mirror the pydantic contract in `kampungkb_shared` (`Snapshot`, the module payloads, `BatchItem`) but accept
a strict subset of it: exact JSON types, no coercion. Everything they accept, the models accept too, so an item
they refuse is handed to the models, which either accept it (it is then converted with `from_model`) or say what
is wrong, field by field. Decoding and checking run in msgspec's C code, apart from the few rules that join two
fields (the snapshot's `__post_init__`), and nothing is copied on the way to `classifier.scoring`.
"""

import datetime as dt
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeAlias

import msgspec

from kampungkb_shared.classification import ITEM_NUMBERS
from kampungkb_shared.classification import Snapshot as SnapshotModel
from kampungkb_shared.codes import (
    AGE_GROUP_COUNT,
    Contraception,
    DataSource,
    Facility,
    Frequency,
    FundingSource,
    Instansi,
    NonUseReason,
    OperationalItem,
    Pengarah,
    Poktan,
    Regulation,
)
from kampungkb_shared.modules import MAX_COUNT


def _one_of(codes: Any) -> Any:
    """`Literal` of a code list's values: msgspec checks them in C and hands back the same str objects."""
    return Literal[tuple(member.value for member in codes)]


if TYPE_CHECKING:  # the values are plain str to the type checker
    FundingCode: TypeAlias = str
    PoktanCode: TypeAlias = str
    FacilityCode: TypeAlias = str
    DataCode: TypeAlias = str
    RegulationCode: TypeAlias = str
    PengarahCode: TypeAlias = str
    OperationalCode: TypeAlias = str
    FrequencyCode: TypeAlias = str
    MethodCode: TypeAlias = str
    ReasonCode: TypeAlias = str
    InstansiCode: TypeAlias = str
else:
    FundingCode = _one_of(FundingSource)
    PoktanCode = _one_of(Poktan)
    FacilityCode = _one_of(Facility)
    DataCode = _one_of(DataSource)
    RegulationCode = _one_of(Regulation)
    PengarahCode = _one_of(Pengarah)
    OperationalCode = _one_of(OperationalItem)
    FrequencyCode = _one_of(Frequency)
    MethodCode = _one_of(Contraception)
    ReasonCode = _one_of(NonUseReason)
    InstansiCode = _one_of(Instansi)

Count = Annotated[int, msgspec.Meta(ge=0, le=MAX_COUNT)]
ItemNumber = Annotated[int, msgspec.Meta(ge=ITEM_NUMBERS[0], le=ITEM_NUMBERS[1])]
AgeCounts = Annotated[list[Count], msgspec.Meta(min_length=AGE_GROUP_COUNT, max_length=AGE_GROUP_COUNT)]
PERIOD_YEARS = range(2000, 2100)
"""The years whose months the structs take; the models take any year from 0001 (an item of another year goes to
them)."""

if TYPE_CHECKING:
    PeriodText: TypeAlias = str
else:
    # `YYYY-MM`, as `kampungkb_shared.periods.Period` reads it: a lookup in C, where a pattern ran Python's `re` for
    # every item (a quarter of decoding a batch).
    PeriodText = Literal[tuple(f"{year:04d}-{month:02d}" for year in PERIOD_YEARS for month in range(1, 13))]


class _Input(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    pass


class Pokja(_Input):
    exists: bool
    sk: bool = False
    members: Count = 0
    trained_members: Count = 0
    trained: bool = False


class Profil(_Input):
    pokja: Pokja
    funding_sources: list[FundingCode] = []
    poktan: list[PoktanCode] = []
    facilities: list[FacilityCode] = []
    pkb_pendamping: bool = False
    pengarah: PengarahCode | None = None
    regulations: list[RegulationCode] = []
    rkm: bool = False
    data_sources: list[DataCode] = []
    operational: dict[OperationalCode, FrequencyCode] = {}


class Population(_Input):
    male: AgeCounts
    female: AgeCounts


class Kependudukan(_Input):
    pus: Count
    families: Count
    remaja: Count
    families_with_balita: Count
    families_with_remaja: Count
    families_with_lansia: Count
    population: Population | None = None


class Kkbpk(_Input):
    poktan_participants: dict[PoktanCode, Count] = {}
    kb_users: dict[MethodCode, Count] = {}
    non_users: dict[ReasonCode, Count] = {}


class Partner(_Input):
    code: InstansiCode
    last_activity: dt.date


class Snapshot(_Input):
    """What the registry has in force for a Kampung KB as of a period (see `kampungkb_shared.classification`)."""

    profil: Profil | None = None
    kependudukan: Kependudukan | None = None
    kkbpk: Kkbpk | None = None
    partners: list[Partner] = []

    def __post_init__(self) -> None:
        # The rules that join fields of the profil and the kependudukan, in one call from msgspec's C code rather than
        # one per struct (each such call cost as much as decoding a fifth of the snapshot).
        profil, kep = self.profil, self.kependudukan
        if profil is not None:
            if profil.pokja.trained_members > profil.pokja.members:
                raise ValueError("trained_members must not exceed members")
            # The five code lists share no code (tests/classifier/test_inputs.py): one set tells whether any list
            # repeats one.
            codes = [*profil.funding_sources, *profil.poktan, *profil.facilities, *profil.regulations]
            codes += profil.data_sources
            if len(set(codes)) != len(codes):
                raise ValueError("a code appears twice")
        if kep is not None and (
            kep.families_with_balita > kep.families
            or kep.families_with_remaja > kep.families
            or kep.families_with_lansia > kep.families
        ):
            raise ValueError("families with balita, remaja or lansia must not exceed families")


class Item(_Input):
    """One batch item, as `kampungkb_shared.classification.BatchItem`."""

    id: str | ItemNumber
    period: PeriodText
    snapshot: Snapshot


_SNAPSHOT = msgspec.json.Decoder(Snapshot)


def from_model(snapshot: SnapshotModel) -> Snapshot:
    """The scoring input of a snapshot the pydantic models validated."""
    return _SNAPSHOT.decode(snapshot.model_dump_json())
