"""A payload's canonical JSON written from the model in one pass (`store.canonical_payload`) is byte for byte the
canonical JSON of its JSON-mode dump (`store.canonical_json`): every content hash stored before stays the hash of
the same content, whichever write path computed it."""

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from kampungkb_shared.codes import AGE_GROUP_COUNT
from kampungkb_shared.modules import KependudukanPayload, KkbpkPayload, ProfilPayload
from registry_api.kampung.schemas import KampungCreate
from registry_api.submissions.schemas import KegiatanCreate
from registry_api.submissions.store import canonical_json, canonical_payload
from tests.classifier.classifier_factories import snapshots

_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _same(model: BaseModel, exclude: set[str] | None = None) -> None:
    assert canonical_payload(model, exclude=exclude) == canonical_json(model.model_dump(mode="json", exclude=exclude))


@_SETTINGS
@given(snapshots(), st.lists(st.integers(0, 5_000), min_size=2 * AGE_GROUP_COUNT, max_size=2 * AGE_GROUP_COUNT))
def test_module_payloads(snapshot: dict[str, Any], ages: list[int]) -> None:
    if snapshot["profil"] is not None:
        _same(ProfilPayload.model_validate(snapshot["profil"]))
    if (kependudukan := snapshot["kependudukan"]) is not None:
        _same(KependudukanPayload.model_validate(kependudukan))
        population = {"male": ages[:AGE_GROUP_COUNT], "female": ages[AGE_GROUP_COUNT:]}
        _same(KependudukanPayload.model_validate({**kependudukan, "population": population}))
    if snapshot["kkbpk"] is not None:
        _same(KkbpkPayload.model_validate(snapshot["kkbpk"]))


@_SETTINGS
@given(
    st.floats(-90, 90, allow_nan=False) | st.none(),
    st.floats(-180, 180, allow_nan=False) | st.none(),
    st.text(min_size=1, max_size=40).filter(str.strip),
)
def test_kampung_with_any_coordinates(lat: float | None, lon: float | None, name: str) -> None:
    example = KampungCreate.model_json_schema()["examples"][0]
    _same(KampungCreate.model_validate({**example, "lat": lat, "lon": lon, "name": name}), exclude={"desa_code"})


def test_kegiatan() -> None:
    for example in KegiatanCreate.model_json_schema()["examples"]:
        _same(KegiatanCreate.model_validate(example))
