"""The scoring's inputs (msgspec structs) accept only what the models accept, and score the same as the models."""

import copy
import json
from typing import Any

import msgspec
import orjson
import pytest
from pydantic import ValidationError

from classifier import inputs
from classifier.scoring import score
from kampungkb_shared.classification import BatchItem
from kampungkb_shared.codes import DataSource, Facility, FundingSource, Poktan, Regulation
from kampungkb_shared.modules import MAX_COUNT
from tests.classifier.classifier_factories import OFFICIAL, STRICT, output, partners, profil, snapshot, worked_example


def accept(item: Any) -> bool:
    """Whether the structs take the item as it stands, decoded from its JSON."""
    try:
        msgspec.json.decode(json.dumps(item), type=inputs.Item)  # json: integers of any size
    except msgspec.ValidationError:
        return False
    return True


def _item() -> dict[str, Any]:
    return {"id": 1, "period": "2025-06", "snapshot": worked_example()}


def _set(path: list[Any], value: Any) -> dict[str, Any]:
    item = _item()
    target = item
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return item


INVALID = [
    _set(["period"], "2025-13"),
    _set(["period"], "0000-01"),
    _set(["id"], None),
    _set(["id"], 2**63),
    _set(["snapshot", "profil", "funding_sources"], ["APBN", "APBN"]),
    _set(["snapshot", "profil", "funding_sources"], None),
    _set(["snapshot", "profil", "poktan"], ["BKB", ["x"]]),
    _set(["snapshot", "profil", "pokja", "members"], -1),
    _set(["snapshot", "profil", "pokja", "trained_members"], 99),
    _set(["snapshot", "profil", "pokja", "exists"], None),
    _set(["snapshot", "profil", "pengarah"], "NOPE"),
    _set(["snapshot", "profil", "operational"], {"MONEV": "DAILY"}),
    _set(["snapshot", "profil", "extra"], 1),
    _set(["snapshot", "kependudukan", "pus"], -5),
    _set(["snapshot", "kependudukan", "pus"], 1.5),
    _set(["snapshot", "kependudukan", "families_with_balita"], 10**6),
    _set(["snapshot", "kependudukan", "population"], {"male": [1] * 15, "female": [1] * 16}),
    _set(["snapshot", "kkbpk", "kb_users"], {"KB_IUD": -1}),
    _set(["snapshot", "kkbpk", "kb_users"], {"KB_IUD": MAX_COUNT + 1}),
    _set(["snapshot", "kkbpk", "non_users"], {"IAT": 2**70}),
    _set(["snapshot", "kependudukan", "pus"], 2**64),
    _set(["snapshot", "profil", "pokja", "members"], MAX_COUNT + 1),
    _set(["snapshot", "kependudukan", "population"], {"male": [MAX_COUNT + 1] * 16, "female": [1] * 16}),
    _set(["snapshot", "kkbpk", "kb_users"], {"KB_XYZ": 1}),
    _set(["snapshot", "kkbpk", "non_users"], {"IAT": "many"}),
    _set(["snapshot", "partners"], [{"code": "BPS", "last_activity": "2025-02-30"}]),
    _set(["snapshot", "partners"], [{"code": "NOPE", "last_activity": "2025-02-03"}]),
    _set(["snapshot", "partners"], [{"code": "BPS", "last_activity": "2025-02-03", "x": 1}]),
    _set(["snapshot", "partners"], None),
    _set(["snapshot", "other"], None),
]


@pytest.mark.parametrize("item", INVALID)
def test_inputs_reject_what_the_models_reject(item: dict[str, Any]) -> None:
    assert not accept(item)
    with pytest.raises(ValidationError):
        BatchItem.model_validate(item)


def test_inputs_take_a_valid_item_and_score_like_the_models() -> None:
    item = orjson.loads(orjson.dumps(_item()))
    item["snapshot"]["kependudukan"]["population"] = {"male": [1] * 16, "female": [2] * 16}
    item["snapshot"]["profil"]["pengarah"] = "KADER"
    strict = msgspec.json.decode(orjson.dumps(item), type=inputs.Item)
    model = BatchItem.model_validate(copy.deepcopy(item))
    assert strict.snapshot == inputs.from_model(model.snapshot)
    for ruleset in (OFFICIAL, STRICT):
        fast = score(strict.snapshot, strict.period, ruleset)
        slow = score(inputs.from_model(model.snapshot), model.period, ruleset)
        assert fast == slow


def test_the_code_lists_checked_for_repeats_together_share_no_code() -> None:
    lists = (FundingSource, Poktan, Facility, Regulation, DataSource)
    assert sum(map(len, lists)) == len({member.value for codes in lists for member in codes})


@pytest.mark.parametrize("year", [inputs.PERIOD_YEARS[0] - 1, inputs.PERIOD_YEARS[-1] + 1])
def test_a_period_of_another_year_is_left_to_the_models(year: int) -> None:
    item = _set(["period"], f"{year:04d}-06")
    assert not accept(item)
    model = BatchItem.model_validate(item)
    assert score(inputs.from_model(model.snapshot), model.period, OFFICIAL)["period"] == f"{year:04d}-06"


def test_minimal_snapshot_is_accepted() -> None:
    assert accept({"id": "a", "period": "2025-06", "snapshot": {}})
    assert accept({"id": "a", "period": "2025-06", "snapshot": {"profil": {"pokja": {"exists": False}}}})


@pytest.mark.parametrize(
    "item", [_set(["id"], True), _set(["snapshot", "kkbpk", "non_users"], {"IAT": True}), _set(["period"], "2025-06\n")]
)
def test_lax_values_are_left_to_the_models(item: dict[str, Any]) -> None:
    assert not accept(item)
    BatchItem.model_validate(item)


@pytest.mark.parametrize(
    "snap",
    [
        {},
        snapshot(profil(pokja=(False, 0, False), funding=0, poktan=0, facilities=0, regulations=0)),
        snapshot(None, *output(cpr=0, unmet=0)),
        snapshot(profil(), output()[0], None, partners(6)),
        snapshot(profil(operational=0), {**output()[0], "pus": 0}, output()[1], partners(1, "2016-01-01")),
    ],
)
def test_inputs_decoded_from_json_are_what_the_models_give(snap: dict[str, Any]) -> None:
    item = {"id": "k", "period": "2025-06", "snapshot": snap}
    strict = msgspec.json.decode(orjson.dumps(item), type=inputs.Item)
    assert strict.snapshot == inputs.from_model(BatchItem.model_validate(item).snapshot)
