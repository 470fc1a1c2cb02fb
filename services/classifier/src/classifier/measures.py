"""Raw measures of a snapshot, as a rule set reads them: counts and whole-number percentages.

Snapshots arrive here as `classifier.inputs.Snapshot` structs (codes as strings, absent optional fields at their
model defaults). In `official` mode this mirrors the official SQL (master-lists.md, "classification query"), null
for null; `strict` mode leaves a measure None where the data it needs is missing.
"""

import datetime as dt
from functools import lru_cache
from operator import attrgetter
from typing import Any

from classifier.inputs import Kependudukan, Kkbpk, Partner, Snapshot
from classifier.ruleset import Tables
from kampungkb_shared.codes import MKJP_METHODS, UNMET_NEED_REASONS
from kampungkb_shared.modules import POKTAN_DENOMINATOR
from kampungkb_shared.periods import add_months, parse_period

POKTAN_FIELDS = tuple((poktan.value, attrgetter(field)) for poktan, field in POKTAN_DENOMINATOR.items())
_MKJP = frozenset(m.value for m in MKJP_METHODS)
_UNMET = frozenset(r.value for r in UNMET_NEED_REASONS)
_MKJP_CODES = tuple(sorted(_MKJP))
_UNMET_CODES = tuple(sorted(_UNMET))
_CODE = attrgetter("code")


def pct_half_away(part: int, whole: int) -> int:
    """round(100 * part / whole), half away from zero, on the exact ratio (whole > 0, part >= 0)."""
    return (200 * part + whole) // (2 * whole)


def pct_float8(part: int, whole: int) -> int:
    """PostgreSQL's ROUND((part / whole::float) * 100): IEEE doubles, ties to even."""
    return round(part / whole * 100)


@lru_cache(maxsize=4096)
def partner_window(period: str, months: int | None) -> tuple[dt.date, dt.date] | None:
    """[start, end) of the `months` months ending with the period, or None for all time."""
    if months is None:
        return None
    start = parse_period(period)
    return add_months(start, 1 - months), add_months(start, 1)


def count_partners(partners: list[Partner], period: str, t: Tables) -> int:
    """Distinct partner codes the rule set counts."""
    exclude = t.exclude
    if t.window_months is None:
        if not exclude:
            return len(set(map(_CODE, partners)))
        return len({p.code for p in partners if p.code not in exclude})
    start, end = partner_window(period, t.window_months)  # type: ignore[misc]
    return len({p.code for p in partners if p.code not in exclude and start <= p.last_activity < end})


def measure(snap: Snapshot, period: str, t: Tables) -> dict[str, Any]:
    """Every raw measure of the snapshot under the rule set's policies; keys are `RawMeasures` fields."""
    profil = snap.profil
    if profil is None:
        exists = members = trained = pkb = regulation = None
        n_funding = n_poktan = n_facilities = n_data = n_operational = 0 if t.official else None
    else:
        pokja = profil.pokja
        exists, members, trained = pokja.exists, pokja.members, pokja.trained
        n_funding = len(profil.funding_sources)
        n_poktan = len(profil.poktan)
        n_facilities = len(profil.facilities)
        pkb = profil.pkb_pendamping
        regulation = bool(profil.regulations)
        n_data = len(profil.data_sources)
        n_operational = len(profil.operational)
    partners = snap.partners
    n_partners = count_partners(partners, period, t) if partners else 0
    pct = pct_half_away if t.half_away else pct_float8
    poktan_pct, participation, pus, users, mkjp_users, unmet_need, cpr, mkjp, unmet = (
        _official if t.official else _strict
    )(snap.kependudukan, snap.kkbpk, pct)
    return {
        "pokja_exists": exists,
        "pokja_members": members,
        "pokja_trained": trained,
        "n_funding_sources": n_funding,
        "n_poktan": n_poktan,
        "n_facilities": n_facilities,
        "pkb_pendamping": pkb,
        "has_regulation": regulation,
        "n_data_sources": n_data,
        "n_operational": n_operational,
        "n_partners": n_partners,
        "poktan_pct": poktan_pct,
        "poktan_participation_pct": participation,
        "pus": pus,
        "kb_users": users,
        "mkjp_users": mkjp_users,
        "unmet_need": unmet_need,
        "cpr_pct": cpr,
        "mkjp_pct": mkjp,
        "unmet_pct": unmet,
    }


Outputs = tuple[Any, Any, Any, Any, Any, Any, Any, Any, Any]
"""poktan_pct, poktan_participation_pct, pus, kb_users, mkjp_users, unmet_need, cpr_pct, mkjp_pct, unmet_pct."""


def _poktan(
    kep: Kependudukan, participants: dict[str, int] | None, pct: Any, null_absent: bool
) -> tuple[dict[str, int | None], int | None]:
    per: dict[str, int | None] = {}
    total = 0
    seen = False
    half_away = pct is pct_half_away  # the two `pct` functions, inlined below
    for code, field in POKTAN_FIELDS:
        denominator = field(kep)
        value: int | None
        if denominator <= 0:
            value = 0
        elif participants is None:
            value = None
        else:
            value = participants.get(code)
            if value is None and not null_absent:
                value = 0
            if value is not None:
                if half_away:
                    value = (200 * value + denominator) // (2 * denominator)
                else:
                    value = round(value / denominator * 100)
        per[code] = value
        if value is not None:
            total += value
            seen = True
    # The mean of five whole numbers is never a tie, so both rounding modes agree here.
    return per, (2 * total + 5) // 10 if seen else None


def _official(kep: Kependudukan | None, kk: Kkbpk | None, pct: Any) -> Outputs:
    """The SQL's joins: a missing row gives null, a zero denominator gives 0 %."""
    users = mkjp_users = unmet_need = pus = cpr = mkjp = unmet = None
    participants = None
    if kk is not None:
        kb_users = kk.kb_users
        users = sum(kb_users.values())
        # Codes present with any count (0 included) make a row; no row at all gives null.
        for method in _MKJP_CODES:
            n = kb_users.get(method)
            if n is not None:
                mkjp_users = n if mkjp_users is None else mkjp_users + n
        non_users = kk.non_users
        for reason in _UNMET_CODES:
            n = non_users.get(reason)
            if n is not None:
                unmet_need = n if unmet_need is None else unmet_need + n
        participants = kk.poktan_participants
    if kep is None:
        per = participation = None
    else:
        pus = kep.pus
        per, participation = _poktan(kep, participants, pct, True)
        # PUS 0 gives CPR 0 %, no users MKJP 0 %; a missing KKBPK (users None) or MKJP rows give null.
        cpr = (None if users is None else pct(users, pus)) if pus > 0 else 0
        mkjp = (None if mkjp_users is None else pct(mkjp_users, users)) if users else 0
    if unmet_need is not None:
        unmet = pct(unmet_need, pus) if pus else 0
    return per, participation, pus, users, mkjp_users, unmet_need, cpr, mkjp, unmet


def _strict(kep: Kependudukan | None, kk: Kkbpk | None, pct: Any) -> Outputs:
    """Absent codes count 0; a missing module or a PUS of 0 leaves the measures that need it None."""
    users = mkjp_users = unmet_need = pus = cpr = mkjp = unmet = None
    per = participation = None
    if kk is not None:
        kb_users = kk.kb_users
        users = sum(kb_users.values())
        mkjp_users = 0
        for method in _MKJP_CODES:
            mkjp_users += kb_users.get(method, 0)
        non_users = kk.non_users
        unmet_need = 0
        for reason in _UNMET_CODES:
            unmet_need += non_users.get(reason, 0)
        mkjp = pct(mkjp_users, users) if users else 0
    if kep is not None:
        pus = kep.pus
        if kk is not None:
            per, participation = _poktan(kep, kk.poktan_participants, pct, False)
            if pus > 0:
                cpr = pct(users, pus)
                unmet = pct(unmet_need, pus)
    return per, participation, pus, users, mkjp_users, unmet_need, cpr, mkjp, unmet
