from tests.classifier.classifier_factories import OFFICIAL, run, worked_example


def test_worked_example_is_dasar() -> None:
    result = run(worked_example())
    assert result.scores.model_dump() == {
        "i_pokja": 4,
        "i_sumber_dana": 3,
        "i_poktan": 3,
        "i_sarana": 2,
        "i_pkb_regulasi": 3,
        "p_penggunaan_data": 3,
        "p_mekop": 3,
        "p_lintas_sektor": 2,
        "o_poktan": 3,
        "o_cpr": 4,
        "o_mkjp": 1,
        "o_unmet": 2,
    }
    assert result.indices.model_dump() == {"input": 3.00, "proses": 2.67, "output": 2.50}
    assert result.passed.model_dump() == {"input": True, "proses": False, "output": False}
    assert result.tier == "dasar"
    assert result.threshold == 3.00
    assert result.ruleset == "bkkbn-web-2021"
    assert result.ruleset_hash == OFFICIAL.hash
    assert (result.raw.cpr_pct, result.raw.mkjp_pct, result.raw.unmet_pct) == (55, 18, 10)
    assert result.raw.poktan_participation_pct == 25


def test_worked_example_with_five_partners_is_berkembang() -> None:
    result = run(worked_example(n_partners=5))
    assert result.scores.p_lintas_sektor == 3
    assert result.indices.proses == 3.00
    assert result.tier == "berkembang"


def test_worked_example_explains_the_way_to_berkembang() -> None:
    next_tier = run(worked_example()).next_tier
    assert next_tier is not None
    assert next_tier.tier == "berkembang"
    assert next_tier.steps == 1
    [action] = next_tier.actions
    assert (action.indicator, action.from_score, action.to_score) == ("p_lintas_sektor", 2, 3)
    assert (action.current, action.target) == (2, 4)
    assert "2 instansi mitra lagi" in action.action
    assert "2 more partner institution" in action.action_en
