"""Pure scoring: a snapshot, a period and a rule set in; the tier with its explanation out. No I/O.

`classify` takes and returns the shared pydantic models; `score` is the same on the scoring's own inputs
(`classifier.inputs`), which the HTTP endpoints decode straight from the request body, and returns result data.
"""

from typing import Any

from classifier.explain import plan_next_tier, pokja_floor
from classifier.inputs import Snapshot as Inputs
from classifier.inputs import from_model
from classifier.measures import measure
from classifier.ruleset import WIDE, RuleSet, Tables
from kampungkb_shared.classification import ClassificationResult, Snapshot

_BELUM = "belum_terklasifikasi"
_MISSING_TEXT = {
    "profil": ("kirim modul profil", "submit the profil module"),
    "kependudukan": ("kirim modul kependudukan", "submit the kependudukan module"),
    "kkbpk": ("kirim modul KKBPK", "submit the KKBPK module"),
    "kependudukan.pus": (
        "isi jumlah PUS (lebih dari 0) di modul kependudukan",
        "record the PUS (above 0) in kependudukan",
    ),
}


def sub_scores(raw: dict[str, Any], t: Tables) -> tuple[int | None, ...]:
    """The 12 sub-scores in indicator order; None where a measure is missing and the rule set does not score it.

    Band tables run to `WIDE` values (the last band repeats), so a lookup is one index for any realistic value.
    """
    bands = t.bands
    official = t.official
    exists = raw["pokja_exists"]
    if exists is None:
        pokja = t.pokja[0] if official else None
    else:
        pokja = t.pokja[(1 + (raw["pokja_members"] > 0) + raw["pokja_trained"]) if exists else 0]
    pkb = raw["pkb_pendamping"]
    pkb_regulasi = (t.pkb[0] if official else None) if pkb is None else t.pkb[pkb + raw["has_regulation"]]
    v = raw["poktan_participation_pct"]
    if v is None and official:
        v = 0
    missing = t.null_score if official else None
    funding, poktan, facilities = raw["n_funding_sources"], raw["n_poktan"], raw["n_facilities"]
    data, operational, partners = raw["n_data_sources"], raw["n_operational"], raw["n_partners"]
    cpr, mkjp, unmet = raw["cpr_pct"], raw["mkjp_pct"], raw["unmet_pct"]
    return (
        pokja,
        None if funding is None else bands["i_sumber_dana"][funding if funding < WIDE else -1],
        None if poktan is None else bands["i_poktan"][poktan if poktan < WIDE else -1],
        None if facilities is None else bands["i_sarana"][facilities if facilities < WIDE else -1],
        pkb_regulasi,
        None if data is None else bands["p_penggunaan_data"][data if data < WIDE else -1],
        None if operational is None else bands["p_mekop"][operational if operational < WIDE else -1],
        None if partners is None else bands["p_lintas_sektor"][partners if partners < WIDE else -1],
        None if v is None else bands["o_poktan"][v if v < WIDE else -1],
        missing if cpr is None else bands["o_cpr"][cpr if cpr < WIDE else -1],
        missing if mkjp is None else bands["o_mkjp"][mkjp if mkjp < WIDE else -1],
        missing if unmet is None else bands["o_unmet"][unmet if unmet < WIDE else -1],
    )


def index_hundredths(total: int, count: int) -> int:
    """100 x the mean, rounded half away from zero: the index to 2 decimals, exactly, as an integer."""
    return (200 * total + count) // (2 * count)


def missing_data(snap: Inputs) -> list[dict[str, Any]]:
    """What the snapshot lacks for a full classification, whatever the rule set does about it."""
    kep = snap.kependudukan
    if kep is not None and kep.pus > 0 and snap.profil is not None and snap.kkbpk is not None:
        return []
    codes: list[tuple[str, list[str]]] = []
    if snap.profil is None:
        codes.append(("profil", ["input", "proses"]))
    if kep is None:
        codes.append(("kependudukan", ["output"]))
    elif kep.pus <= 0:
        codes.append(("kependudukan.pus", ["output"]))
    if snap.kkbpk is None:
        codes.append(("kkbpk", ["output"]))
    return [
        {"code": code, "groups": groups, "message": _MISSING_TEXT[code][0], "message_en": _MISSING_TEXT[code][1]}
        for code, groups in codes
    ]


def figures(snap: Inputs, period: str, ruleset: RuleSet) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
    """The tier, the result's figures and the raw measures of a snapshot under a rule set. The figures run in the
    order of `kampungkb_shared.result_rows.FIGURES`: the 12 sub-scores in indicator order (None where the rule set
    does not score a missing measure), the input, proses and output indices to 2 decimals, whether each group
    passes (None where a score is), and the threshold."""
    t = ruleset.tables
    raw = measure(snap, period, t)
    s = sub_scores(raw, t)
    i_pokja, i_sumber_dana, i_poktan, i_sarana, i_pkb_regulasi = inputs = s[:5]
    p_data, p_mekop, p_lintas = proses = s[5:8]
    o_poktan, o_cpr, o_mkjp, o_unmet = outputs = s[8:]
    threshold = t.threshold
    # Each group: its index to 2 decimals (`index_hundredths`, inlined) and whether it passes; None if a score is.
    if None in inputs:
        input_index = input_passed = None
    else:
        hundredths = (200 * (i_pokja + i_sumber_dana + i_poktan + i_sarana + i_pkb_regulasi) + 5) // 10  # type: ignore[operator]
        input_index, input_passed = hundredths / 100, hundredths >= threshold
    if None in proses:
        proses_index = proses_passed = None
    else:
        hundredths = (200 * (p_data + p_mekop + p_lintas) + 3) // 6  # type: ignore[operator]
        proses_index, proses_passed = hundredths / 100, hundredths >= threshold
    if None in outputs:
        output_index = output_passed = None
    else:
        hundredths = (200 * (o_poktan + o_cpr + o_mkjp + o_unmet) + 4) // 8  # type: ignore[operator]
        output_index, output_passed = hundredths / 100, hundredths >= threshold
    if input_passed is None or proses_passed is None or output_passed is None:
        tier = _BELUM
    else:
        tier = t.tier_of[(input_passed, proses_passed, output_passed)]
    indices_and_passes = (input_index, proses_index, output_index, input_passed, proses_passed, output_passed)
    return tier, (*s, *indices_and_passes, t.threshold_value), raw


def score(snap: Inputs, period: str, ruleset: RuleSet, *, explain: bool = True) -> dict[str, Any]:
    """The classification of a snapshot as result data: the shape of `ClassificationResult`, or with `explain` false
    of `ShortResult`, its explanation (the raw measures, what is missing, the plan to the next tier) not built."""
    tier, f, raw = figures(snap, period, ruleset)
    result: dict[str, Any] = {
        "ruleset": ruleset.id,
        "ruleset_hash": ruleset.hash,
        "period": period,
        "tier": tier,
        "scores": {
            "i_pokja": f[0],
            "i_sumber_dana": f[1],
            "i_poktan": f[2],
            "i_sarana": f[3],
            "i_pkb_regulasi": f[4],
            "p_penggunaan_data": f[5],
            "p_mekop": f[6],
            "p_lintas_sektor": f[7],
            "o_poktan": f[8],
            "o_cpr": f[9],
            "o_mkjp": f[10],
            "o_unmet": f[11],
        },
        "indices": {"input": f[12], "proses": f[13], "output": f[14]},
        "passed": {"input": f[15], "proses": f[16], "output": f[17]},
        "threshold": f[18],
    }
    if explain:
        plan = None
        if tier != _BELUM:
            t = ruleset.tables
            state = (f[15], f[16], f[17])
            floor = None if f[15] else pokja_floor(raw["pokja_exists"], raw["pokja_members"], raw["pokja_trained"], t)
            plan = plan_next_tier((f[:5], f[5:8], f[8:12]), state, floor, raw, ruleset)
        result["raw"] = raw
        result["missing"] = missing_data(snap)
        result["next_tier"] = plan
    return result


def classify(snapshot: Snapshot, period: str, ruleset: RuleSet) -> ClassificationResult:
    """Classify one snapshot as of `period` (`YYYY-MM`) with a rule set: pure, no I/O."""
    return ClassificationResult.model_validate(score(from_model(snapshot), period, ruleset))
