import inspect
from enum import StrEnum

from kampungkb_shared import codes, inpres
from kampungkb_shared.code_labels import CODE_LISTS, LABELS, LIST_TITLES, labels_of


def _code_enums() -> set[type[StrEnum]]:
    """Every code enum of `codes` and `inpres`: what payloads may carry."""
    return {
        member
        for module in (codes, inpres)
        for _, member in inspect.getmembers(module, inspect.isclass)
        if issubclass(member, StrEnum) and member.__module__ == module.__name__
    }


def test_every_code_enum_is_a_served_list() -> None:
    assert _code_enums() == set(CODE_LISTS.values())
    assert set(LIST_TITLES) == set(CODE_LISTS)


def test_every_member_has_both_labels_and_nothing_else_is_labelled() -> None:
    for enum in _code_enums():
        assert set(LABELS[enum]) == {member.value for member in enum}, enum.__name__
        for code, label in labels_of(enum):
            assert label.id.strip() and label.en.strip(), (enum.__name__, code)


def test_labels_follow_the_master_lists() -> None:
    assert dict(labels_of(codes.Instansi))["TNI_POLRI"].id == "TNI – POLRI"
    assert dict(labels_of(codes.NonUseReason))["IAT"].id == "Ingin Anak Kemudian/Ingin Anak Tunda (IAT)"
    assert dict(labels_of(codes.AgeGroup))["UMUR_75_PLUS"] == ("75+ Tahun", "75 years and over")
    assert dict(labels_of(codes.AgeGroup))["UMUR_10_14"].id == "10 - 14 Tahun"
    assert [code for code, _ in labels_of(codes.Frequency)] == [member.value for member in codes.Frequency]
