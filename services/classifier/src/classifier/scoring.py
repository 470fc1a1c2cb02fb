"""Pure scoring: a snapshot, a period and a rule set in; the tier with its explanation out. No I/O.

`classify` takes and returns the shared pydantic models; `score` is the same on JSON-shaped dicts,
which is what the batch endpoint uses.
"""

from typing import Any

from classifier.explain import next_tier
from classifier.measures import measure
from classifier.ruleset import WIDE, RuleSet, Tables
from kampungkb_shared.classification import ClassificationResult, Snapshot

_BELUM = "belum_terklasifikasi"
_COUNTED = (
    ("i_sumber_dana", "n_funding_sources"),
    ("i_poktan", "n_poktan"),
    ("i_sarana", "n_facilities"),
    ("p_penggunaan_data", "n_data_sources"),
    ("p_mekop", "n_operational"),
    ("p_lintas_sektor", "n_partners"),
)
_PERCENT = (("o_cpr", "cpr_pct"), ("o_mkjp", "mkjp_pct"), ("o_unmet", "unmet_pct"))
_MISSING_TEXT = {
    "profil": ("kirim modul profil", "submit the profil module"),
    "kependudukan": ("kirim modul kependudukan", "submit the kependudukan module"),
    "kkbpk": ("kirim modul KKBPK", "submit the KKBPK module"),
    "kependudukan.pus": (
        "isi jumlah PUS (lebih dari 0) di modul kependudukan",
        "record the PUS (above 0) in kependudukan",
    ),
}


def sub_scores(raw: dict[str, Any], t: Tables) -> dict[str, int | None]:
    """The 12 sub-scores by name; None where a measure is missing and the rule set does not score missing data.

    Band tables run to `WIDE` values (the last band repeats), so a lookup is one index for any realistic value.
    """
    bands = t.bands
    exists = raw["pokja_exists"]
    official = t.official
    scores: dict[str, int | None] = {}
    if exists is None:
        scores["i_pokja"] = t.pokja[0] if official else None
    else:
        scores["i_pokja"] = t.pokja[(1 + (raw["pokja_members"] > 0) + raw["pokja_trained"]) if exists else 0]
    for name, key in _COUNTED[:3]:
        v = raw[key]
        scores[name] = None if v is None else bands[name][v if v < WIDE else -1]
    pkb = raw["pkb_pendamping"]
    if pkb is None:
        scores["i_pkb_regulasi"] = t.pkb[0] if official else None
    else:
        scores["i_pkb_regulasi"] = t.pkb[pkb + raw["has_regulation"]]
    for name, key in _COUNTED[3:]:
        v = raw[key]
        scores[name] = None if v is None else bands[name][v if v < WIDE else -1]
    v = raw["poktan_participation_pct"]
    missing = t.null_score if official else None
    if v is None and official:
        v = 0
    scores["o_poktan"] = None if v is None else bands["o_poktan"][v if v < WIDE else -1]
    for name, key in _PERCENT:
        v = raw[key]
        scores[name] = missing if v is None else bands[name][v if v < WIDE else -1]
    return scores


def index_hundredths(total: int, count: int) -> int:
    """100 x the mean, rounded half away from zero: the index to 2 decimals, exactly, as an integer."""
    return (200 * total + count) // (2 * count)


def missing_data(snap: dict[str, Any]) -> list[dict[str, Any]]:
    """What the snapshot lacks for a full classification, whatever the rule set does about it."""
    codes: list[tuple[str, list[str]]] = []
    if snap.get("profil") is None:
        codes.append(("profil", ["input", "proses"]))
    kep = snap.get("kependudukan")
    if kep is None:
        codes.append(("kependudukan", ["output"]))
    elif kep["pus"] <= 0:
        codes.append(("kependudukan.pus", ["output"]))
    if snap.get("kkbpk") is None:
        codes.append(("kkbpk", ["output"]))
    return [
        {"code": code, "groups": groups, "message": _MISSING_TEXT[code][0], "message_en": _MISSING_TEXT[code][1]}
        for code, groups in codes
    ]


def score(snap: dict[str, Any], period: str, ruleset: RuleSet) -> dict[str, Any]:
    """The classification of a JSON-shaped snapshot as result data (the shape of `ClassificationResult`)."""
    t = ruleset.tables
    raw = measure(snap, period, t)
    s = scores = sub_scores(raw, t)
    threshold = t.threshold
    inputs = (s["i_pokja"], s["i_sumber_dana"], s["i_poktan"], s["i_sarana"], s["i_pkb_regulasi"])
    proses = (s["p_penggunaan_data"], s["p_mekop"], s["p_lintas_sektor"])
    outputs = (s["o_poktan"], s["o_cpr"], s["o_mkjp"], s["o_unmet"])
    indices: dict[str, float | None] = {}
    passed: dict[str, bool | None] = {}
    for group, values in (("input", inputs), ("proses", proses), ("output", outputs)):
        if None in values:
            indices[group] = passed[group] = None
        else:
            hundredths = index_hundredths(sum(values), len(values))  # type: ignore[arg-type]
            indices[group] = hundredths / 100
            passed[group] = hundredths >= threshold
    state = (passed["input"], passed["proses"], passed["output"])
    if None in state:
        tier = _BELUM
        plan = None
    else:
        tier = t.tier_of[state]  # type: ignore[index]
        plan = next_tier(scores, state, raw, ruleset)  # type: ignore[arg-type]
    return {
        "ruleset": ruleset.id,
        "ruleset_hash": ruleset.hash,
        "period": period,
        "tier": tier,
        "scores": scores,
        "indices": indices,
        "passed": passed,
        "threshold": t.threshold / 100,
        "raw": raw,
        "missing": missing_data(snap),
        "next_tier": plan,
    }


def classify(snapshot: Snapshot, period: str, ruleset: RuleSet) -> ClassificationResult:
    """Classify one snapshot as of `period` (`YYYY-MM`) with a rule set: pure, no I/O."""
    return ClassificationResult.model_validate(score(snapshot.model_dump(mode="json"), period, ruleset))
