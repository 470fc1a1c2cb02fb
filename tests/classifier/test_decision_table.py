import itertools

import pytest

from classifier.ruleset import RuleSet
from tests.classifier.classifier_factories import OFFICIAL, STRICT, output, partners, profil, run, snapshot

EXPECTED = {
    (False, False, False): "dasar",
    (True, False, False): "dasar",
    (False, True, False): "dasar",
    (False, False, True): "dasar",
    (True, True, False): "berkembang",
    (True, False, True): "mandiri",
    (False, True, True): "mandiri",
    (True, True, True): "berkelanjutan",
}


def _snapshot(input_passes: bool, proses_passes: bool, output_passes: bool) -> dict[str, object]:
    inputs = (
        {"pokja": (True, 5, True), "funding": 5, "poktan": 5, "facilities": 2, "pkb": True, "regulations": 1}
        if input_passes
        else {"pokja": (False, 0, False), "funding": 0, "poktan": 0, "facilities": 0, "pkb": False, "regulations": 0}
    )
    proses = {"data_sources": 4, "operational": 5} if proses_passes else {"data_sources": 0, "operational": 0}
    kep, kk = (
        output(poktan_pct=31, cpr=51, mkjp=25, unmet=6)
        if output_passes
        else output(poktan_pct=0, cpr=0, mkjp=0, unmet=40)
    )
    return snapshot(profil(**inputs, **proses), kep, kk, partners(7 if proses_passes else 0))


@pytest.mark.parametrize("ruleset", [OFFICIAL, STRICT], ids=lambda r: r.id)
@pytest.mark.parametrize("combination", list(itertools.product([False, True], repeat=3)), ids=str)
def test_every_row_of_the_decision_table(combination: tuple[bool, bool, bool], ruleset: RuleSet) -> None:
    result = run(_snapshot(*combination), ruleset)
    assert tuple(result.passed.model_dump().values()) == combination
    assert result.tier == EXPECTED[combination]


def test_rule_files_hold_the_official_table() -> None:
    for ruleset in (OFFICIAL, STRICT):
        assert {key: tier.value for key, tier in ruleset.tier_of.items()} == EXPECTED
