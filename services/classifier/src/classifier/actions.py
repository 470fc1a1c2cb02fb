"""Sub-score improvements phrased as Pokja actions, Indonesian with English beside, concrete from the raw data.

Each action also names the raw `measure` it moves, its `current` value and the `target` to reach
(a minimum; for `unmet_pct` a maximum), so that a client can act on it without parsing the text.
"""

from functools import lru_cache
from typing import Any

from classifier.measures import pct_float8, pct_half_away
from classifier.ruleset import RuleSet, Tables

_COUNTS: dict[str, tuple[str, str, str]] = {
    "i_sumber_dana": ("n_funding_sources", "catat {n} sumber dana lagi", "record {n} more funding source(s)"),
    "i_poktan": ("n_poktan", "bentuk {n} poktan lagi", "set up {n} more poktan"),
    "i_sarana": ("n_facilities", "sediakan {n} sarana lagi", "provide {n} more facility(ies)"),
    "p_penggunaan_data": (
        "n_data_sources",
        "gunakan {n} sumber data lagi dalam perencanaan dan evaluasi",
        "use {n} more data source(s) in planning and evaluation",
    ),
    "p_mekop": ("n_operational", "jalankan {n} mekanisme operasional lagi", "run {n} more operational mechanism(s)"),
    "p_lintas_sektor": ("n_partners", "catat {n} instansi mitra lagi", "record {n} more partner institution(s)"),
}
_PERCENT = {
    "o_poktan": ("poktan_participation_pct", "rata-rata partisipasi poktan", "mean poktan participation"),
    "o_cpr": ("cpr_pct", "CPR", "CPR"),
    "o_mkjp": ("mkjp_pct", "porsi MKJP", "MKJP share"),
    "o_unmet": ("unmet_pct", "unmet need", "unmet need"),
}


def _action(name: str, frm: int, to: int, text: str, text_en: str, measure: str, current: Any, target: int) -> Any:
    return {
        "indicator": name,
        "from_score": frm,
        "to_score": to,
        "action": text,
        "action_en": text_en,
        "measure": measure,
        "current": current,
        "target": target,
    }


def least_part(part: int, whole: int, target: int, pct: Any) -> int:
    """The smallest part' >= part with pct(part', whole) >= target (whole > 0)."""
    guess = max(part, (2 * whole * target - whole + 199) // 200 - 1)
    while pct(guess, whole) < target:
        guess += 1
    return guess


def most_part(whole: int, target: int, pct: Any) -> int:
    """The largest part >= 0 with pct(part, whole) <= target (whole > 0)."""
    guess = max(0, (2 * whole * target + whole) // 200 - 1)
    while pct(guess + 1, whole) <= target:
        guess += 1
    while guess > 0 and pct(guess, whole) > target:
        guess -= 1
    return guess


def _pokja(frm: int, to: int, raw: dict[str, Any], ruleset: RuleSet) -> Any:
    levels = ruleset.tables.pokja
    target = levels.index(to)
    exists, members, trained = raw["pokja_exists"], raw["pokja_members"] or 0, raw["pokja_trained"]
    current = 0 if not exists else 1 + (members > 0) + bool(trained)
    steps: list[tuple[str, str]] = []
    if not exists:
        steps.append(("bentuk Pokja Kampung KB", "form the Kampung KB Pokja"))
    if members <= 0 and (target == 3 or (target == 2 and not trained)):
        steps.append(("catat anggota Pokja", "record the Pokja members"))
    if target == 3 and not trained:
        steps.append(("catat pelatihan Pokja", "record the Pokja training"))
    text = ", ".join(s for s, _ in steps) or "lengkapi data Pokja"
    text_en = ", ".join(s for _, s in steps) or "complete the Pokja data"
    return _action("i_pokja", frm, to, text, text_en, "pokja_level", current, target)


@lru_cache(maxsize=16)
def _partner_policy(exclude: frozenset[str], window_months: int | None) -> tuple[str, str]:
    """What the partner count leaves out, as a phrase to append."""
    text = text_en = ""
    if exclude:
        text += " di luar " + "/".join(sorted(exclude))
        text_en += " other than " + "/".join(sorted(exclude))
    if window_months:
        text += f" dengan kegiatan dalam {window_months} bulan terakhir"
        text_en += f" with an activity in the last {window_months} months"
    return text, text_en


def _count(name: str, frm: int, to: int, raw: dict[str, Any], ruleset: RuleSet) -> Any:
    measure, text, text_en = _COUNTS[name]
    current = raw[measure] or 0
    table = ruleset.tables.bands[name]
    target = table.index(to)
    n = target - current
    text, text_en = text.format(n=n), text_en.format(n=n)
    if name == "p_lintas_sektor":
        suffix, suffix_en = _partner_policy(ruleset.tables.exclude, ruleset.tables.window_months)
        text, text_en = text + suffix, text_en + suffix_en
    return _action(name, frm, to, f"{text} (menjadi {target})", f"{text_en} (to {target})", measure, current, target)


def _pkb(frm: int, to: int, raw: dict[str, Any], ruleset: RuleSet) -> Any:
    pkb, regulation = bool(raw["pkb_pendamping"]), bool(raw["has_regulation"])
    current = pkb + regulation
    target = ruleset.tables.pkb.index(to)
    steps = []
    if not pkb:
        steps.append(("hadirkan PKB/PLKB pendamping", "get a PKB/PLKB to accompany the Kampung KB"))
    if not regulation:
        steps.append(("terbitkan regulasi (SK) tentang Kampung KB", "obtain a regulation (SK) on the Kampung KB"))
    steps = steps[: target - current]
    text, text_en = " dan ".join(s for s, _ in steps), " and ".join(s for _, s in steps)
    return _action("i_pkb_regulasi", frm, to, text, text_en, "pkb_regulasi", current, target)


def _percent_target(name: str, to: int, t: Tables) -> tuple[int, bool]:
    """The percentage to reach for score `to`, and whether lower is better: the band's nearest edge."""
    key = (name, to)
    hit: tuple[int, bool] | None = t.memo_actions.get(key)
    if hit is None:
        table = t.bands[name]
        lower_is_better = table[0] > table[-1]
        hit = (len(table) - 1 - table[::-1].index(to) if lower_is_better else table.index(to), lower_is_better)
        t.memo_actions[key] = hit
    return hit


def _percent(name: str, frm: int, to: int, raw: dict[str, Any], ruleset: RuleSet) -> Any:
    measure, label, label_en = _PERCENT[name]
    t = ruleset.tables
    target, lower_is_better = _percent_target(name, to, t)
    current = raw[measure]
    if current is None:
        shown, shown_en = "tanpa data", "no data"
    else:
        shown = shown_en = f"{current} %"
    pct = pct_half_away if t.half_away else pct_float8
    pus, users, mkjp_users, unmet_need = raw["pus"], raw["kb_users"], raw["mkjp_users"], raw["unmet_need"]
    if lower_is_better:
        text = f"turunkan {label} dari {shown} menjadi paling tinggi {target} %"
        text_en = f"lower {label_en} from {shown_en} to at most {target} %"
        if pus and unmet_need is not None:
            n = max(0, unmet_need - most_part(pus, target, pct))
            text += f": layani {n} PUS IAT/TIAL dengan KB"
            text_en += f": serve {n} PUS who want to delay or stop childbearing (IAT/TIAL) with KB"
    else:
        text = f"naikkan {label} dari {shown} menjadi minimal {target} %"
        text_en = f"raise {label_en} from {shown_en} to at least {target} %"
        if name == "o_cpr" and pus and users is not None:
            n = least_part(users, pus, target, pct) - users
            text += f": tambah {n} peserta KB aktif dari {pus} PUS"
            text_en += f": add {n} active KB users among {pus} PUS"
        elif name == "o_mkjp" and users:
            n = least_part(mkjp_users or 0, users, target, pct) - (mkjp_users or 0)
            text += f": {n} peserta KB lagi memakai MKJP (IUD, implan, MOW, MOP)"
            text_en += f": {n} more KB users on long-acting methods (IUD, implant, MOW, MOP)"
        elif name == "o_poktan":
            text += " (rata-rata atas kelima poktan)"
            text_en += " (averaged over all five poktan)"
    if current is None:
        missing, missing_en = _missing_data(name, raw)
        text += f"; {missing}"
        text_en += f"; {missing_en}"
    return _action(name, frm, to, text, text_en, measure, current, target)


def _missing_data(name: str, raw: dict[str, Any]) -> tuple[str, str]:
    """What to submit so that a percentage with no value gets one: the module that is absent, or, in a KKBPK that
    lists none, the counts the rule set reads (the official rule set reads a method or reason left out as no data)."""
    pus, users = raw["pus"], raw["kb_users"]
    if pus is None and users is None:
        return "kirim data kependudukan dan KKBPK", "submit the kependudukan and KKBPK data"
    if users is None:
        return "kirim data KKBPK", "submit the KKBPK data"
    if pus is None:
        return "kirim data kependudukan", "submit the kependudukan data"
    if name == "o_mkjp" and raw["mkjp_users"] is None:
        return (
            "catat peserta IUD, implan, MOW dan MOP dalam KKBPK, juga bila nol",
            "record the users of IUD, implant, MOW and MOP in the KKBPK, zero included",
        )
    if name == "o_unmet" and raw["unmet_need"] is None:
        return (
            "catat PUS bukan peserta KB karena IAT dan TIAL dalam KKBPK, juga bila nol",
            "record the non-users who want a child later (IAT) or no more (TIAL) in the KKBPK, zero included",
        )
    return "catat jumlah PUS dalam data kependudukan", "record the number of PUS in the kependudukan data"


_MEMO_LIMIT = 100_000


def phrase(name: str, frm: int, to: int, raw: dict[str, Any], ruleset: RuleSet) -> Any:
    """The action raising indicator `name` from score `frm` to `to`.

    Pokja, PKB/regulasi and count actions depend on a few small values only, and are memoised per rule set
    (a fresh dict each time); percentage actions quote the raw counts and are phrased each time.
    """
    if name in _PERCENT:
        return _percent(name, frm, to, raw, ruleset)
    if name == "i_pokja":
        key: tuple[Any, ...] = (
            name,
            frm,
            to,
            bool(raw["pokja_exists"]),
            (raw["pokja_members"] or 0) > 0,
            bool(raw["pokja_trained"]),
        )
    elif name == "i_pkb_regulasi":
        key = (name, frm, to, bool(raw["pkb_pendamping"]), bool(raw["has_regulation"]))
    else:
        key = (name, frm, to, raw[_COUNTS[name][0]] or 0)
    memo = ruleset.tables.memo_actions
    action = memo.get(key)
    if action is None:
        if name == "i_pokja":
            action = _pokja(frm, to, raw, ruleset)
        elif name == "i_pkb_regulasi":
            action = _pkb(frm, to, raw, ruleset)
        else:
            action = _count(name, frm, to, raw, ruleset)
        if len(memo) < _MEMO_LIMIT:
            memo[key] = action
    return action.copy()
