import hashlib
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from classifier.ruleset import Bands, default_rulesets_dir, load_ruleset, load_rulesets


def test_both_rule_sets_load_with_the_hash_of_their_file() -> None:
    rulesets = load_rulesets()
    assert set(rulesets) == {"bkkbn-web-2021", "kkb-2025"}
    for ruleset in rulesets.values():
        raw = (default_rulesets_dir() / f"{ruleset.id}.yaml").read_bytes()
        assert ruleset.hash == hashlib.sha256(raw).hexdigest()
        assert ruleset.title


def _write(tmp_path: Path, change: dict[str, object]) -> Path:
    data = yaml.safe_load((default_rulesets_dir() / "kkb-2025.yaml").read_text())
    data.update(change)
    path = tmp_path / "x.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_an_incomplete_decision_table_is_rejected(tmp_path: Path) -> None:
    data = yaml.safe_load((default_rulesets_dir() / "kkb-2025.yaml").read_text())
    with pytest.raises(ValidationError, match="one row per pass/fail combination"):
        load_ruleset(_write(tmp_path, {"decision": data["decision"][:7]}))


def test_unknown_keys_and_partner_codes_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValidationError):
        load_ruleset(_write(tmp_path, {"surprise": 1}))
    with pytest.raises(ValidationError):
        load_ruleset(_write(tmp_path, {"policies": {"partners": {"exclude": ["NOPE"]}, "missing_data": "strict"}}))


def test_official_missing_data_needs_a_null_score(tmp_path: Path) -> None:
    policies = {"partners": {}, "missing_data": "official", "null_score": None}
    with pytest.raises(ValidationError, match="null_score"):
        load_ruleset(_write(tmp_path, {"policies": policies}))


def test_duplicate_ids_are_rejected(tmp_path: Path) -> None:
    for name in ("a.yaml", "b.yaml"):
        (tmp_path / name).write_bytes((default_rulesets_dir() / "kkb-2025.yaml").read_bytes())
    with pytest.raises(ValueError, match="duplicate rule set id"):
        load_rulesets(tmp_path)


@pytest.mark.parametrize(
    "edges",
    [
        [[0, 1], [1, 3], [None, 2]],  # scores not monotone
        [[3, 1], [1, 2], [None, 3]],  # bounds not increasing
        [[0, 1], [None, 2], [5, 3]],  # open band before the end
        [[0, 1], [2, 2], [4, 4]],  # missing score 3 and no open band
    ],
)
def test_malformed_bands_are_rejected(edges: list[list[int | None]]) -> None:
    with pytest.raises(ValidationError):
        Bands(edges=edges)  # type: ignore[arg-type]


def test_band_lookup_and_bounds() -> None:
    bands = Bands(edges=[(6, 4), (9, 3), (12, 2), (None, 1)])
    assert [bands.score(v) for v in (0, 6, 7, 9, 10, 12, 13, 99)] == [4, 4, 3, 3, 2, 2, 1, 1]
    assert bands.bounds(3) == (7, 9)
    assert bands.bounds(1) == (13, None)
    assert not bands.higher_is_better
