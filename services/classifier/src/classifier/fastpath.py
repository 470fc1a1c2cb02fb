"""A strict, fast acceptance check of JSON-parsed batch items, for the batch endpoint's happy path.

It accepts a subset of what the pydantic models accept (exact JSON types only, no coercion), so an
item it accepts is valid; anything else goes through the models, which either accept it (and it is
scored from their dump) or say exactly what is wrong. The returned snapshot has the shape the
scoring reads (see `classifier.measures`).
"""

import datetime as dt
import re
from typing import Any

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
from kampungkb_shared.periods import parse_period

_PERIOD = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _codes(enum: Any) -> frozenset[str]:
    return frozenset(member.value for member in enum)


_FUNDING, _POKTAN, _FACILITY, _DATA = _codes(FundingSource), _codes(Poktan), _codes(Facility), _codes(DataSource)
_REGULATION, _PENGARAH, _OPERATIONAL, _FREQUENCY = (
    _codes(Regulation),
    _codes(Pengarah),
    _codes(OperationalItem),
    _codes(Frequency),
)
_METHOD, _REASON, _INSTANSI = _codes(Contraception), _codes(NonUseReason), _codes(Instansi)
_ITEM_KEYS = frozenset({"id", "period", "snapshot"})
_SNAPSHOT_KEYS = frozenset({"profil", "kependudukan", "kkbpk", "partners"})
_PROFIL_KEYS = frozenset(
    {
        "pokja",
        "funding_sources",
        "poktan",
        "facilities",
        "pkb_pendamping",
        "pengarah",
        "regulations",
        "rkm",
        "data_sources",
        "operational",
    }
)
_POKJA_KEYS = frozenset({"exists", "sk", "members", "trained_members", "trained"})
_FAMILY = ("families_with_balita", "families_with_remaja", "families_with_lansia")
_KEP_NUMBERS = ("pus", "families", "remaja", *_FAMILY)
_KEP_KEYS = frozenset({*_KEP_NUMBERS, "population"})
_KKBPK_KEYS = frozenset({"poktan_participants", "kb_users", "non_users"})
_LISTS = (
    ("funding_sources", _FUNDING),
    ("poktan", _POKTAN),
    ("facilities", _FACILITY),
    ("regulations", _REGULATION),
    ("data_sources", _DATA),
)
_valid_dates: set[str] = set()
_valid_periods: set[str] = set()


def _count(value: Any) -> bool:
    return type(value) is int and value >= 0


_INT = frozenset({int})
_NONE: dict[str, Any] = {}


def _code_list(value: Any, allowed: frozenset[str]) -> bool:
    # Set operations run in C; an unhashable element raises TypeError, which `accept` turns into False.
    return type(value) is list and len(set(value)) == len(value) and allowed.issuperset(value)


def _counts(value: Any, allowed: frozenset[str]) -> bool:
    if type(value) is not dict or not allowed.issuperset(value):
        return False
    counts = value.values()
    return _INT.issuperset(map(type, counts)) and min(counts, default=0) >= 0


def _profil(p: Any) -> bool:
    if type(p) is not dict or not _PROFIL_KEYS.issuperset(p):
        return False
    pokja = p.get("pokja")
    if type(pokja) is not dict or not _POKJA_KEYS.issuperset(pokja) or type(pokja.get("exists")) is not bool:
        return False
    members, trained_members = pokja.get("members", 0), pokja.get("trained_members", 0)
    if type(members) is not int or type(trained_members) is not int or not 0 <= trained_members <= members:
        return False
    if type(pokja.get("sk", False)) is not bool or type(pokja.get("trained", False)) is not bool:
        return False
    if type(p.get("pkb_pendamping", False)) is not bool or type(p.get("rkm", False)) is not bool:
        return False
    for key, allowed in _LISTS:
        if key in p and not _code_list(p[key], allowed):
            return False
    pengarah = p.get("pengarah")
    if pengarah is not None and pengarah not in _PENGARAH:
        return False
    operational = p.get("operational", _NONE)
    return (
        type(operational) is dict
        and _OPERATIONAL.issuperset(operational)
        and _FREQUENCY.issuperset(operational.values())
    )


def _kependudukan(k: Any) -> bool:
    if type(k) is not dict or not k.keys() <= _KEP_KEYS:
        return False
    numbers: list[Any] = [k.get(n) for n in _KEP_NUMBERS]
    if not _INT.issuperset(map(type, numbers)) or min(numbers) < 0:
        return False
    if any(k[f] > k["families"] for f in _FAMILY):
        return False
    population = k.get("population")
    if population is None:
        return True
    return (
        type(population) is dict
        and population.keys() == {"male", "female"}
        and all(
            type(v) is list and len(v) == AGE_GROUP_COUNT and all(_count(n) for n in v) for v in population.values()
        )
    )


def _kkbpk(k: Any) -> bool:
    return (
        type(k) is dict
        and k.keys() <= _KKBPK_KEYS
        and _counts(k.get("poktan_participants", {}), _POKTAN)
        and _counts(k.get("kb_users", {}), _METHOD)
        and _counts(k.get("non_users", {}), _REASON)
    )


def _date(value: Any) -> bool:
    if type(value) is not str:
        return False
    if value in _valid_dates:
        return True
    if not _DATE.fullmatch(value):
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    if len(_valid_dates) < 100_000:
        _valid_dates.add(value)
    return True


def _partners(value: Any) -> bool:
    if type(value) is not list:
        return False
    for p in value:
        if type(p) is not dict or len(p) != 2 or p.get("code") not in _INSTANSI:
            return False
        day = p.get("last_activity")
        if day not in _valid_dates and not _date(day):
            return False
    return True


def accept(item: Any) -> bool:
    """True only if the batch item is certainly valid as it stands (exact types, known codes, rules kept)."""
    try:
        return _accept(item)
    except (TypeError, KeyError, AttributeError):  # unhashable or odd shapes: let the models explain
        return False


def _period(value: Any) -> bool:
    if type(value) is not str:
        return False
    if value in _valid_periods:
        return True
    try:
        parse_period(value)
    except ValueError:
        return False
    if not _PERIOD.fullmatch(value):
        return False
    if len(_valid_periods) < 10_000:
        _valid_periods.add(value)
    return True


def _accept(item: Any) -> bool:
    if type(item) is not dict or item.keys() != _ITEM_KEYS:
        return False
    item_id, period, snap = item["id"], item["period"], item["snapshot"]
    if type(item_id) not in (str, int) or not _period(period):
        return False
    if type(snap) is not dict or not snap.keys() <= _SNAPSHOT_KEYS:
        return False
    profil, kep, kk = snap.get("profil"), snap.get("kependudukan"), snap.get("kkbpk")
    return (
        (profil is None or _profil(profil))
        and (kep is None or _kependudukan(kep))
        and (kk is None or _kkbpk(kk))
        and _partners(snap.get("partners", []))
    )
