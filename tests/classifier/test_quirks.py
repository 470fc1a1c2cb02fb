"""Quirks Q1-Q4 of the official algorithm in bkkbn-web-2021, and their fixes in kkb-2025."""

from typing import Any

import pytest

from classifier.ruleset import RuleSet
from tests.classifier.classifier_factories import OFFICIAL, STRICT, output, partners, profil, run, snapshot


def _with_partners(partner_list: list[dict[str, Any]]) -> dict[str, Any]:
    kep, kk = output()
    return snapshot(profil(), kep, kk, partner_list)


def test_q1_own_sector_partners_count_officially_but_not_in_kkb_2025() -> None:
    snap = _with_partners(partners(2, codes=["OPD_PPKB", "PERWAKILAN_BKKBN"]) + partners(2))
    assert run(snap, OFFICIAL).raw.n_partners == 4
    assert run(snap, STRICT).raw.n_partners == 2
    assert run(snap, OFFICIAL).scores.p_lintas_sektor == 3
    assert run(snap, STRICT).scores.p_lintas_sektor == 2


def test_q2_partners_count_all_time_officially_and_over_twelve_months_in_kkb_2025() -> None:
    # Period 2025-06: the window is 2024-07-01 .. 2025-06-30.
    old = partners(1, last_activity="2024-05-31", codes=["PUSKESMAS"])
    edge = partners(1, last_activity="2024-07-01", codes=["BPS"])
    late = partners(1, last_activity="2025-06-30", codes=["DINAS_SOSIAL"])
    future = partners(1, last_activity="2025-07-01", codes=["DINAS_KESEHATAN"])
    snap = _with_partners(old + edge + late + future)
    assert run(snap, OFFICIAL).raw.n_partners == 4
    assert run(snap, STRICT).raw.n_partners == 2
    thirteen_months_old = _with_partners(partners(1, last_activity="2024-05-15"))
    assert run(thirteen_months_old, OFFICIAL).raw.n_partners == 1
    assert run(thirteen_months_old, STRICT).raw.n_partners == 0


def test_duplicate_partner_codes_count_once() -> None:
    snap = _with_partners(partners(1, last_activity="2020-01-01") + partners(1))
    assert run(snap, OFFICIAL).raw.n_partners == 1


def test_q3_missing_kkbpk_scores_one_officially_and_is_unclassified_in_kkb_2025() -> None:
    kep, _ = output()
    snap = snapshot(profil(), kep, None, partners(2))
    official = run(snap, OFFICIAL)
    assert (official.scores.o_cpr, official.scores.o_mkjp, official.scores.o_unmet) == (1, 1, 1)
    assert official.tier == "dasar"
    assert [m.code for m in official.missing] == ["kkbpk"]
    strict = run(snap, STRICT)
    assert strict.tier == "belum_terklasifikasi"
    assert strict.indices.output is None and strict.passed.output is None
    assert strict.scores.o_cpr is None
    assert [(m.code, m.groups) for m in strict.missing] == [("kkbpk", ["output"])]
    assert strict.next_tier is None


def test_q3_pus_zero_gives_unmet_four_officially_and_is_missing_in_kkb_2025() -> None:
    kep, kk = output()
    snap = snapshot(profil(), {**kep, "pus": 0}, kk, partners(2))
    official = run(snap, OFFICIAL)
    assert official.raw.unmet_pct == 0 and official.scores.o_unmet == 4
    assert official.raw.cpr_pct == 0 and official.scores.o_cpr == 1
    strict = run(snap, STRICT)
    assert strict.tier == "belum_terklasifikasi"
    assert strict.scores.o_unmet is None
    assert "kependudukan.pus" in [m.code for m in strict.missing]


def test_q3_missing_kependudukan_with_kkbpk_gives_unmet_four_officially() -> None:
    _, kk = output(unmet=30)
    official = run(snapshot(profil(), None, kk), OFFICIAL)
    assert (official.scores.o_cpr, official.scores.o_mkjp, official.scores.o_unmet) == (1, 1, 4)
    assert official.scores.o_poktan == 1
    assert run(snapshot(profil(), None, kk), STRICT).tier == "belum_terklasifikasi"


def test_q3_zero_users_gives_mkjp_zero_and_score_one() -> None:
    kep, kk = output(cpr=0)
    for ruleset in (OFFICIAL, STRICT):
        result = run(snapshot(profil(), kep, kk), ruleset)
        assert result.raw.mkjp_pct == 0 and result.scores.o_mkjp == 1


def test_q3_missing_profil_scores_ones_officially_and_is_unclassified_in_kkb_2025() -> None:
    kep, kk = output()
    snap = snapshot(None, kep, kk, partners(7))
    official = run(snap, OFFICIAL)
    assert official.indices.input == 1.0
    assert official.scores.p_lintas_sektor == 4
    assert official.indices.proses == 2.0
    strict = run(snap, STRICT)
    assert strict.tier == "belum_terklasifikasi"
    assert strict.indices.input is None and strict.indices.proses is None
    assert [m.code for m in strict.missing] == ["profil"]


def test_official_unmet_is_null_without_iat_or_tial_rows() -> None:
    kep, kk = output()
    kk = {**kk, "non_users": {"HAMIL": kk["non_users"]["HAMIL"]}}
    result = run(snapshot(profil(), kep, kk), OFFICIAL)
    assert result.raw.unmet_pct is None and result.scores.o_unmet == 1
    assert run(snapshot(profil(), kep, kk), STRICT).raw.unmet_pct == 0


def test_q4_poktan_participation_is_always_over_five() -> None:
    kep, kk = output(poktan_pct=50)
    kk = {**kk, "poktan_participants": {"BKB": 500, "BKR": 500}}
    for ruleset in (OFFICIAL, STRICT):
        result = run(snapshot(profil(), kep, kk), ruleset)
        assert result.raw.poktan_participation_pct == 20
        assert result.scores.o_poktan == 2


def test_q4_zero_denominator_counts_as_zero_percent() -> None:
    kep, kk = output(poktan_pct=50)
    kep = {**kep, "remaja": 0}
    result = run(snapshot(profil(), kep, kk), OFFICIAL)
    assert result.raw.poktan_pct is not None and result.raw.poktan_pct["PIK_R"] == 0
    assert result.raw.poktan_participation_pct == 40


@pytest.mark.parametrize(
    ("ruleset", "unmet_pct", "unmet_score"), [(OFFICIAL, 12, 2), (STRICT, 13, 1)], ids=["site", "fixed"]
)
def test_percentage_ties_round_like_the_site_or_half_away(ruleset: Any, unmet_pct: int, unmet_score: int) -> None:
    kep, kk = output()
    # The site computes float8 ratios and ROUND(double precision) ties to even: 12.5 % unmet (25 of 200) -> 12;
    # the corrected rule set rounds exact ratios half away from zero -> 13. 29.5 % CPR -> 30 either way.
    kep = {**kep, "pus": 200}
    kk = {
        **kk,
        "kb_users": {"KB_IUD": 15, "KB_PIL": 44},
        "non_users": {"IAT": 25, "TIAL": 0, "HAMIL": 116, "INGIN_ANAK_SEGERA": 0},
    }
    result = run(snapshot(profil(), kep, kk), ruleset)
    assert result.raw.cpr_pct == 30 and result.scores.o_cpr == 2
    assert result.raw.unmet_pct == unmet_pct and result.scores.o_unmet == unmet_score
    # 15 / 59 = 25.4 % MKJP
    assert result.raw.mkjp_pct == 25


def test_poktan_percentages_round_each_then_the_mean() -> None:
    kep, kk = output()
    # Each poktan: 1 of 8 = 12.5 % -> 12 (ties to even, as the site); the mean of five 12s is 12.
    kep = {**kep, "families": 8, "remaja": 8, "families_with_balita": 8, "families_with_remaja": 8}
    kep["families_with_lansia"] = 8
    kk = {**kk, "poktan_participants": {"BKB": 1, "BKR": 1, "BKL": 1, "UPPKA": 1, "PIK_R": 1}}
    result = run(snapshot(profil(), kep, kk), OFFICIAL)
    assert result.raw.poktan_pct == {"BKB": 12, "BKR": 12, "BKL": 12, "UPPKA": 12, "PIK_R": 12}
    assert result.raw.poktan_participation_pct == 12
    # 3 of 8 = 37.5 % -> 38 (ties to even goes up here)
    kk = {**kk, "poktan_participants": {"BKB": 3, "BKR": 3, "BKL": 3, "UPPKA": 3, "PIK_R": 3}}
    assert run(snapshot(profil(), kep, kk), OFFICIAL).raw.poktan_participation_pct == 38


def test_indices_round_half_away_from_zero_to_two_decimals() -> None:
    # Proses 2 + 2 + 3 = 7 / 3 = 2.333.. -> 2.33; output 1 + 2 + 3 + 4 = 10 / 4 = 2.5 -> 2.50
    kep, kk = output(poktan_pct=0, cpr=30, mkjp=23, unmet=6)
    result = run(snapshot(profil(data_sources=1, operational=1), kep, kk, partners(4)))
    assert result.indices.proses == 2.33
    assert result.indices.output == 2.5


def test_rounding_mode_is_data_in_the_rule_file() -> None:
    # The same rule set with exact half-away-from-zero percentages turns the 12.5 % tie into 13.
    data = {**OFFICIAL.as_data(), "rounding": {"percent": "half_away_from_zero", "index": "half_away_from_zero"}}
    half_away = RuleSet.model_validate(data)
    kep, kk = output()
    kep = {**kep, "pus": 200}
    kk = {**kk, "kb_users": {"KB_IUD": 15, "KB_PIL": 44}, "non_users": {"IAT": 25, "HAMIL": 116}}
    snap = snapshot(profil(), kep, kk)
    assert run(snap, OFFICIAL).raw.unmet_pct == 12
    assert run(snap, half_away).raw.unmet_pct == 13
