"""Raw measures of a snapshot, as a rule set reads them: counts and whole-number percentages.

Snapshots arrive here as JSON-shaped dicts (codes as strings, dates as ISO strings), the shape of
`Snapshot.model_dump(mode="json")`; absent optional keys take their model defaults. In `official`
mode this mirrors the official SQL (master-lists.md, "classification query"), null for null;
`strict` mode leaves a measure None where the data it needs is missing.
"""

from functools import lru_cache
from typing import Any

from classifier.ruleset import Tables
from kampungkb_shared.codes import MKJP_METHODS, UNMET_NEED_REASONS
from kampungkb_shared.modules import POKTAN_DENOMINATOR
from kampungkb_shared.periods import add_months, parse_period

POKTAN_FIELDS = tuple((poktan.value, field) for poktan, field in POKTAN_DENOMINATOR.items())
_MKJP = frozenset(m.value for m in MKJP_METHODS)
_UNMET = frozenset(r.value for r in UNMET_NEED_REASONS)
_MKJP_CODES = tuple(sorted(_MKJP))
_UNMET_CODES = tuple(sorted(_UNMET))
_EMPTY: dict[str, Any] = {}


def pct_half_away(part: int, whole: int) -> int:
    """round(100 * part / whole), half away from zero, on the exact ratio (whole > 0, part >= 0)."""
    return (200 * part + whole) // (2 * whole)


def pct_float8(part: int, whole: int) -> int:
    """PostgreSQL's ROUND((part / whole::float) * 100): IEEE doubles, ties to even."""
    return round(part / whole * 100)


@lru_cache(maxsize=4096)
def partner_window(period: str, months: int | None) -> tuple[str, str] | None:
    """[start, end) as ISO dates of the `months` months ending with the period, or None for all time."""
    if months is None:
        return None
    start = parse_period(period)
    return add_months(start, 1 - months).isoformat(), add_months(start, 1).isoformat()


def count_partners(partners: list[dict[str, Any]], period: str, t: Tables) -> int:
    """Distinct partner codes the rule set counts (ISO date strings compare like dates)."""
    window = partner_window(period, t.window_months)
    exclude = t.exclude
    if window is None:
        return len({p["code"] for p in partners if p["code"] not in exclude})
    start, end = window
    return len({p["code"] for p in partners if p["code"] not in exclude and start <= p["last_activity"] < end})


def measure(snap: dict[str, Any], period: str, t: Tables) -> dict[str, Any]:
    """Every raw measure of the snapshot under the rule set's policies; keys are `RawMeasures` fields."""
    profil = snap.get("profil")
    raw: dict[str, Any]
    if profil is None:
        raw = {
            "pokja_exists": None,
            "pokja_members": None,
            "pokja_trained": None,
            "n_funding_sources": 0 if t.official else None,
            "n_poktan": 0 if t.official else None,
            "n_facilities": 0 if t.official else None,
            "pkb_pendamping": None,
            "has_regulation": None,
            "n_data_sources": 0 if t.official else None,
            "n_operational": 0 if t.official else None,
        }
    else:
        pokja = profil["pokja"]
        raw = {
            "pokja_exists": pokja["exists"],
            "pokja_members": pokja.get("members", 0),
            "pokja_trained": pokja.get("trained", False),
            "n_funding_sources": len(profil.get("funding_sources", ())),
            "n_poktan": len(profil.get("poktan", ())),
            "n_facilities": len(profil.get("facilities", ())),
            "pkb_pendamping": profil.get("pkb_pendamping", False),
            "has_regulation": bool(profil.get("regulations")),
            "n_data_sources": len(profil.get("data_sources", ())),
            "n_operational": len(profil.get("operational", ())),
        }
    raw["n_partners"] = count_partners(snap.get("partners") or [], period, t)
    pct = pct_half_away if t.half_away else pct_float8
    kep, kk = snap.get("kependudukan"), snap.get("kkbpk")
    (_official if t.official else _strict)(raw, kep, kk, pct)
    return raw


def _poktan(
    raw: dict[str, Any], kep: dict[str, Any], participants: dict[str, int] | None, pct: Any, null_absent: bool
) -> None:
    per: dict[str, int | None] = {}
    total = 0
    seen = False
    for code, field in POKTAN_FIELDS:
        denominator = kep[field]
        value: int | None
        if denominator <= 0:
            value = 0
        elif participants is None or (null_absent and code not in participants):
            value = None
        else:
            value = pct(participants.get(code, 0), denominator)
        per[code] = value
        if value is not None:
            total += value
            seen = True
    raw["poktan_pct"] = per
    # The mean of five whole numbers is never a tie, so both rounding modes agree here.
    raw["poktan_participation_pct"] = (2 * total + 5) // 10 if seen else None


def _official(raw: dict[str, Any], kep: dict[str, Any] | None, kk: dict[str, Any] | None, pct: Any) -> None:
    """The SQL's joins: a missing row gives null, a zero denominator gives 0 %."""
    users = mkjp_users = unmet_need = pus = cpr = mkjp = unmet = None
    participants = None
    if kk is not None:
        kb_users = kk.get("kb_users", _EMPTY)
        users = sum(kb_users.values())
        mkjp_rows = [n for method, n in kb_users.items() if method in _MKJP]
        mkjp_users = sum(mkjp_rows) if mkjp_rows else None
        unmet_rows = [n for reason, n in kk.get("non_users", _EMPTY).items() if reason in _UNMET]
        unmet_need = sum(unmet_rows) if unmet_rows else None
        participants = kk.get("poktan_participants", _EMPTY)
    if kep is None:
        raw["poktan_pct"] = raw["poktan_participation_pct"] = None
    else:
        pus = kep["pus"]
        _poktan(raw, kep, participants, pct, null_absent=True)
        # PUS 0 gives CPR 0 %, no users MKJP 0 %; a missing KKBPK (users None) or MKJP rows give null.
        cpr = (None if users is None else pct(users, pus)) if pus > 0 else 0
        mkjp = (None if mkjp_users is None else pct(mkjp_users, users)) if users else 0
    if unmet_need is not None:
        unmet = pct(unmet_need, pus) if pus else 0
    raw.update(
        pus=pus,
        kb_users=users,
        mkjp_users=mkjp_users,
        unmet_need=unmet_need,
        cpr_pct=cpr,
        mkjp_pct=mkjp,
        unmet_pct=unmet,
    )


def _strict(raw: dict[str, Any], kep: dict[str, Any] | None, kk: dict[str, Any] | None, pct: Any) -> None:
    """Absent codes count 0; a missing module or a PUS of 0 leaves the measures that need it None."""
    users = mkjp_users = unmet_need = pus = cpr = mkjp = unmet = None
    if kk is not None:
        kb_users = kk.get("kb_users", _EMPTY)
        users = sum(kb_users.values())
        mkjp_users = 0
        for method in _MKJP_CODES:
            mkjp_users += kb_users.get(method, 0)
        non_users = kk.get("non_users", _EMPTY)
        unmet_need = 0
        for reason in _UNMET_CODES:
            unmet_need += non_users.get(reason, 0)
        mkjp = pct(mkjp_users, users) if users else 0
    raw["poktan_pct"] = raw["poktan_participation_pct"] = None
    if kep is not None:
        pus = kep["pus"]
        if kk is not None:
            _poktan(raw, kep, kk.get("poktan_participants", _EMPTY), pct, null_absent=False)
            if pus > 0:
                cpr = pct(users, pus)
                unmet = pct(unmet_need, pus)
    raw.update(
        pus=pus,
        kb_users=users,
        mkjp_users=mkjp_users,
        unmet_need=unmet_need,
        cpr_pct=cpr,
        mkjp_pct=mkjp,
        unmet_pct=unmet,
    )
