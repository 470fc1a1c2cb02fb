"""Both sides of every band edge of the 12 indicators, as the official SQL draws them."""

from typing import Any

import pytest

from tests.classifier.classifier_factories import OFFICIAL, STRICT, output, partners, profil, run, snapshot

# (indicator, value just below or at the edge, its score, value just above, its score)
COUNT_EDGES = [
    ("i_sumber_dana", 0, 1, 1, 2),
    ("i_sumber_dana", 1, 2, 2, 3),
    ("i_sumber_dana", 4, 3, 5, 4),
    ("i_poktan", 0, 1, 1, 2),
    ("i_poktan", 2, 2, 3, 3),
    ("i_poktan", 4, 3, 5, 4),
    ("i_sarana", 0, 1, 1, 2),
    ("i_sarana", 1, 2, 2, 3),
    ("p_penggunaan_data", 0, 1, 1, 2),
    ("p_penggunaan_data", 1, 2, 2, 3),
    ("p_penggunaan_data", 3, 3, 4, 4),
    ("p_mekop", 0, 1, 1, 2),
    ("p_mekop", 2, 2, 3, 3),
    ("p_mekop", 4, 3, 5, 4),
    ("p_lintas_sektor", 0, 1, 1, 2),
    ("p_lintas_sektor", 3, 2, 4, 3),
    ("p_lintas_sektor", 6, 3, 7, 4),
]
PERCENT_EDGES = [
    ("o_poktan", 9, 1, 10, 2),
    ("o_poktan", 20, 2, 21, 3),
    ("o_poktan", 30, 3, 31, 4),
    ("o_cpr", 29, 1, 30, 2),
    ("o_cpr", 40, 2, 41, 3),
    ("o_cpr", 50, 3, 51, 4),
    ("o_mkjp", 19, 1, 20, 2),
    ("o_mkjp", 22, 2, 23, 3),
    ("o_mkjp", 24, 3, 25, 4),
    ("o_unmet", 6, 4, 7, 3),
    ("o_unmet", 9, 3, 10, 2),
    ("o_unmet", 12, 2, 13, 1),
]
_PROFIL_ARG = {
    "i_sumber_dana": "funding",
    "i_poktan": "poktan",
    "i_sarana": "facilities",
    "p_penggunaan_data": "data_sources",
    "p_mekop": "operational",
}
_OUTPUT_ARG = {"o_poktan": "poktan_pct", "o_cpr": "cpr", "o_mkjp": "mkjp", "o_unmet": "unmet"}


def _count_snapshot(indicator: str, value: int) -> dict[str, Any]:
    kep, kk = output()
    if indicator == "p_lintas_sektor":
        return snapshot(profil(), kep, kk, partners(value))
    return snapshot(profil(**{_PROFIL_ARG[indicator]: value}), kep, kk, partners(2))


def _percent_snapshot(indicator: str, value: int) -> dict[str, Any]:
    kep, kk = output(**{_OUTPUT_ARG[indicator]: value})
    return snapshot(profil(), kep, kk, partners(2))


@pytest.mark.parametrize("ruleset", [OFFICIAL, STRICT], ids=lambda r: r.id)
@pytest.mark.parametrize(("indicator", "low", "low_score", "high", "high_score"), COUNT_EDGES + PERCENT_EDGES)
def test_band_edge(ruleset: Any, indicator: str, low: int, low_score: int, high: int, high_score: int) -> None:
    build = _percent_snapshot if indicator.startswith("o_") else _count_snapshot
    assert getattr(run(build(indicator, low), ruleset).scores, indicator) == low_score
    assert getattr(run(build(indicator, high), ruleset).scores, indicator) == high_score


@pytest.mark.parametrize(
    ("pokja", "score"),
    [
        ((False, 0, False), 1),
        ((False, 10, True), 1),
        ((True, 0, False), 2),
        ((True, 1, False), 3),
        ((True, 0, True), 3),
        ((True, 1, True), 4),
    ],
)
def test_pokja_levels(pokja: tuple[bool, int, bool], score: int) -> None:
    kep, kk = output()
    assert run(snapshot(profil(pokja=pokja), kep, kk)).scores.i_pokja == score


@pytest.mark.parametrize(
    ("pkb", "regulations", "score"), [(False, 0, 1), (True, 0, 2), (False, 1, 2), (False, 4, 2), (True, 2, 3)]
)
def test_pkb_regulasi(pkb: bool, regulations: int, score: int) -> None:
    kep, kk = output()
    assert run(snapshot(profil(pkb=pkb, regulations=regulations), kep, kk)).scores.i_pkb_regulasi == score


def test_sarana_and_pkb_stop_at_three() -> None:
    kep, kk = output()
    result = run(snapshot(profil(facilities=2, pkb=True, regulations=4), kep, kk))
    assert (result.scores.i_sarana, result.scores.i_pkb_regulasi) == (3, 3)
