"""A strict, fast acceptance check of JSON-parsed batch items, for the batch endpoint's happy path.

It accepts a subset of what the pydantic models accept (exact JSON types only, no coercion), so an
item it accepts is valid; anything else goes through the models, which either accept it (and it is
scored from their dump) or say exactly what is wrong. The returned snapshot has the shape the
scoring reads (see `classifier.measures`).
"""

import datetime as dt
import re
from operator import itemgetter
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


_INT = frozenset({int})
_DICT = frozenset({dict})
_NONE: dict[str, Any] = {}
_NO_CODES: list[Any] = []
_COUNT_MAPS = (("poktan_participants", _POKTAN), ("kb_users", _METHOD), ("non_users", _REASON))
_POPULATION_KEYS = frozenset({"male", "female"})
_CODE = itemgetter("code")
_DAY = itemgetter("last_activity")
# Set operations, `map` and `min` run in C; an unhashable element raises TypeError and a missing key KeyError,
# which `accept` turns into False, as it does for any other odd shape.


def _profil(p: Any) -> bool:
    if type(p) is not dict or not _PROFIL_KEYS.issuperset(p):
        return False
    pokja = p["pokja"]
    if type(pokja) is not dict or not _POKJA_KEYS.issuperset(pokja) or type(pokja["exists"]) is not bool:
        return False
    get = pokja.get
    members, trained_members = get("members", 0), get("trained_members", 0)
    if type(members) is not int or type(trained_members) is not int or not 0 <= trained_members <= members:
        return False
    if type(get("sk", False)) is not bool or type(get("trained", False)) is not bool:
        return False
    get = p.get
    if type(get("pkb_pendamping", False)) is not bool or type(get("rkm", False)) is not bool:
        return False
    for key, allowed in _LISTS:
        codes = get(key, _NO_CODES)
        if type(codes) is not list:
            return False
        if codes:
            distinct = set(codes)
            if len(distinct) != len(codes) or not distinct <= allowed:
                return False
    pengarah = get("pengarah")
    if pengarah is not None and pengarah not in _PENGARAH:
        return False
    operational = get("operational", _NONE)
    return (
        type(operational) is dict
        and _OPERATIONAL.issuperset(operational)
        and _FREQUENCY.issuperset(operational.values())
    )


def _kependudukan(k: Any) -> bool:
    if type(k) is not dict or not k.keys() <= _KEP_KEYS:
        return False
    families, balita, remaja, lansia = (
        k["families"],
        k["families_with_balita"],
        k["families_with_remaja"],
        k["families_with_lansia"],
    )
    numbers = (k["pus"], families, k["remaja"], balita, remaja, lansia)
    if not _INT.issuperset(map(type, numbers)) or min(numbers) < 0:
        return False
    if balita > families or remaja > families or lansia > families:
        return False
    population = k.get("population")
    if population is None:
        return True
    if type(population) is not dict or population.keys() != _POPULATION_KEYS:
        return False
    for counts in population.values():
        if type(counts) is not list or len(counts) != AGE_GROUP_COUNT:
            return False
        if not _INT.issuperset(map(type, counts)) or min(counts) < 0:
            return False
    return True


def _kkbpk(k: Any) -> bool:
    if type(k) is not dict or not k.keys() <= _KKBPK_KEYS:
        return False
    get = k.get
    for key, allowed in _COUNT_MAPS:
        counts = get(key, _NONE)
        if type(counts) is not dict or not allowed.issuperset(counts):
            return False
        if counts:
            values = counts.values()
            if not _INT.issuperset(map(type, values)) or min(values) < 0:
                return False
    return True


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
    """A list of `{code, last_activity}` objects: exactly those two keys, a known code and a real ISO date."""
    if type(value) is not list:
        return False
    if not value:
        return True
    if not _DICT.issuperset(map(type, value)) or set(map(len, value)) != {2}:
        return False
    # Two keys, both present: exactly `code` and `last_activity`.
    if not _INSTANSI.issuperset(map(_CODE, value)):
        return False
    days = list(map(_DAY, value))
    return _valid_dates.issuperset(days) or all(map(_date, days))


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
    if type(item_id) not in (str, int) or (period not in _valid_periods and not _period(period)):
        return False
    if type(snap) is not dict or not snap.keys() <= _SNAPSHOT_KEYS:
        return False
    profil, kep, kk = snap.get("profil"), snap.get("kependudukan"), snap.get("kkbpk")
    return (
        (profil is None or _profil(profil))
        and (kep is None or _kependudukan(kep))
        and (kk is None or _kkbpk(kk))
        and _partners(snap.get("partners", _NO_CODES))
    )
