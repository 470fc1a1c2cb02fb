from typing import Any

import pytest
from pydantic import ValidationError

from kampungkb_shared.classification import BatchItem, ClassifyRequest, Snapshot
from kampungkb_shared.modules import KependudukanPayload, KkbpkPayload, ProfilPayload, cross_module_errors


def _kep(**change: Any) -> dict[str, Any]:
    return {
        "pus": 100,
        "families": 80,
        "remaja": 30,
        "families_with_balita": 20,
        "families_with_remaja": 25,
        "families_with_lansia": 10,
        **change,
    }


def _locs(error: ValidationError) -> list[tuple[Any, ...]]:
    return [e["loc"] for e in error.errors()]


def test_profil_accepts_codes_and_defaults() -> None:
    profil = ProfilPayload.model_validate(
        {"pokja": {"exists": True, "members": 3, "trained_members": 2}, "operational": {"MONEV": "TRIWULAN"}}
    )
    assert profil.funding_sources == [] and profil.pkb_pendamping is False
    assert profil.operational == {"MONEV": "TRIWULAN"}


@pytest.mark.parametrize(
    ("payload", "loc"),
    [
        ({"pokja": {"exists": True}, "funding_sources": ["APBN", "BOGUS"]}, ("funding_sources", 1)),
        ({"pokja": {"exists": True}, "poktan": ["BKB", "BKB"]}, ("poktan",)),
        ({"pokja": {"exists": True}, "facilities": ["POSYANDU"]}, ("facilities", 0)),
        ({"pokja": {"exists": True}, "operational": {"MONEV": "HARIAN"}}, ("operational", "MONEV")),
        ({"pokja": {"exists": True}, "pengarah": "BUPATI"}, ("pengarah",)),
        ({"pokja": {"exists": True, "members": -1}}, ("pokja", "members")),
        ({"pokja": {"exists": True, "members": 1, "trained_members": 2}}, ("pokja",)),
        ({"pokja": {"exists": True}, "unknown": 1}, ("unknown",)),
    ],
)
def test_profil_rejections_name_the_field(payload: dict[str, Any], loc: tuple[Any, ...]) -> None:
    with pytest.raises(ValidationError) as info:
        ProfilPayload.model_validate(payload)
    assert loc in _locs(info.value)


def test_kependudukan_rejects_negatives_and_impossible_subsets() -> None:
    with pytest.raises(ValidationError) as info:
        KependudukanPayload.model_validate(_kep(pus=-1))
    assert ("pus",) in _locs(info.value)
    with pytest.raises(ValidationError, match="families_with_balita must not exceed families"):
        KependudukanPayload.model_validate(_kep(families_with_balita=81))
    with pytest.raises(ValidationError):
        KependudukanPayload.model_validate(_kep(population={"male": [0] * 16, "female": [0] * 15}))
    assert KependudukanPayload.model_validate(_kep(population={"male": [1] * 16, "female": [2] * 16})).population


def test_kkbpk_rejects_unknown_codes_and_negative_counts() -> None:
    with pytest.raises(ValidationError) as info:
        KkbpkPayload.model_validate({"kb_users": {"KB_IUD": -2}})
    assert ("kb_users", "KB_IUD") in _locs(info.value)
    with pytest.raises(ValidationError):
        KkbpkPayload.model_validate({"non_users": {"LUPA": 1}})
    with pytest.raises(ValidationError):
        KkbpkPayload.model_validate({"poktan_participants": {"POSYANDU": 1}})


def test_cross_module_errors_name_the_fields() -> None:
    kep = KependudukanPayload.model_validate(_kep())
    good = KkbpkPayload.model_validate(
        {"kb_users": {"KB_IUD": 60}, "non_users": {"IAT": 40}, "poktan_participants": {"BKB": 20, "PIK_R": 30}}
    )
    assert cross_module_errors(kep, good) == []
    bad = KkbpkPayload.model_validate(
        {"kb_users": {"KB_IUD": 60}, "non_users": {"IAT": 30}, "poktan_participants": {"BKB": 21, "UPPKA": 81}}
    )
    errors = cross_module_errors(kep, bad)
    assert [e.loc for e in errors] == [
        ["kkbpk", "kb_users"],
        ["kkbpk", "poktan_participants", "BKB"],
        ["kkbpk", "poktan_participants", "UPPKA"],
    ]
    assert "kependudukan.pus (100)" in errors[0].msg


def test_snapshot_and_requests() -> None:
    snap = Snapshot.model_validate({"partners": [{"code": "BPS", "last_activity": "2025-01-31"}]})
    assert snap.profil is None and snap.partners[0].code == "BPS"
    with pytest.raises(ValidationError):
        Snapshot.model_validate({"partners": [{"code": "BPS", "last_activity": "2025-02-31"}]})
    with pytest.raises(ValidationError) as info:
        ClassifyRequest.model_validate({"period": "2025-6", "snapshot": {}})
    assert ("period",) in _locs(info.value)
    with pytest.raises(ValidationError):
        BatchItem.model_validate({"id": "x", "period": "2025-06", "snapshot": {"extra": 1}})
