"""`PUT /v1/kampung/{id}/periods/{period}`: several modules in one transaction, the rules checked on the set, one
revision per changed module, `if_match` per module; a 412 with the current state; `Prefer: return=minimal`."""

from typing import Any

import httpx
import orjson
import pytest

from tests.changes.test_feed import follow
from tests.factories import auth, errors_of, kependudukan_payload, kkbpk_payload, profil_payload, put_module
from tests.registry_api.conftest import watch_explanations


async def _put_period(
    client: httpx.AsyncClient, key: str, kampung_id: int, period: str, body: dict[str, Any], **headers: str
) -> httpx.Response:
    return await client.put(f"/v1/kampung/{kampung_id}/periods/{period}", json=body, headers={**auth(key), **headers})


async def _stored(client: httpx.AsyncClient, key: str, kampung_id: int, module: str) -> dict[str, Any]:
    response = await client.get(f"/v1/kampung/{kampung_id}/{module}/2024-01", headers=auth(key))
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_a_pus_correction_goes_in_with_its_kkbpk(client: httpx.AsyncClient, admin: str, kampung_id: int) -> None:
    for module, body in (("kependudukan", kependudukan_payload(100)), ("kkbpk", kkbpk_payload(70, 30))):
        assert (await put_module(client, admin, kampung_id, module, "2024-01", body)).status_code == 201
    # One module at a time, the correction cannot be made: each breaks the other as stored.
    alone = await put_module(client, admin, kampung_id, "kependudukan", "2024-01", kependudukan_payload(120))
    assert alone.status_code == 422
    assert ["body", "pus"] in errors_of(alone)
    alone = await put_module(client, admin, kampung_id, "kkbpk", "2024-01", kkbpk_payload(84, 36))
    assert alone.status_code == 422
    start = (await client.get("/v1/changes/head", headers=auth(admin))).json()["cursor"]

    both = await _put_period(
        client,
        admin,
        kampung_id,
        "2024-01",
        {
            "kependudukan": kependudukan_payload(120),
            "kkbpk": kkbpk_payload(84, 36),
            "if_match": {"kependudukan": '"v1"', "kkbpk": '"v1"'},
        },
    )
    assert both.status_code == 200, both.text
    body = both.json()
    assert (body["kependudukan"]["revision"], body["kependudukan"]["payload"]["pus"]) == (2, 120)
    assert (body["kkbpk"]["revision"], body["profil"]) == (2, None)
    assert body["classification"]["status"] == "classified"
    assert body["classification"]["raw"] is not None
    assert (await _stored(client, admin, kampung_id, "kependudukan"))["revision"] == 2
    # One revision per module and one classification per rule set for the set, as the feed shows them.
    items, _ = await follow(client, admin, start)
    assert sorted((i["module"], i["revision"]) for i in items if i["kind"] == "submission") == [
        ("kependudukan", 2),
        ("kkbpk", 2),
    ]
    classified = [i["ruleset"] for i in items if i["kind"] == "classification" and i["period"] == "2024-01"]
    assert sorted(classified) == sorted(set(classified)) and classified
    assert (await _stored(client, admin, kampung_id, "kkbpk"))["payload"]["kb_users"] == {
        "KB_SUNTIK": 56,
        "KB_IMPLAN": 28,
    }


async def test_an_unchanged_module_of_the_set_gets_no_revision(
    client: httpx.AsyncClient, admin: str, kampung_id: int
) -> None:
    first = await _put_period(
        client, admin, kampung_id, "2024-01", {"profil": profil_payload(), "kependudukan": kependudukan_payload()}
    )
    assert first.status_code == 200, first.text
    assert (first.json()["profil"]["revision"], first.json()["kependudukan"]["revision"]) == (1, 1)
    again = await _put_period(
        client,
        admin,
        kampung_id,
        "2024-01",
        {"profil": profil_payload(), "kependudukan": kependudukan_payload(110), "kkbpk": kkbpk_payload(80, 30)},
    )
    assert again.status_code == 200, again.text
    revisions = {m: again.json()[m]["revision"] for m in ("profil", "kependudukan", "kkbpk")}
    assert revisions == {"profil": 1, "kependudukan": 2, "kkbpk": 1}


async def test_if_match_per_module_refuses_only_with_the_current_state(
    client: httpx.AsyncClient, admin: str, kampung_id: int
) -> None:
    for module, body in (("kependudukan", kependudukan_payload(100)), ("kkbpk", kkbpk_payload(70, 30))):
        assert (await put_module(client, admin, kampung_id, module, "2024-01", body)).status_code == 201
    rewritten = await put_module(client, admin, kampung_id, "kkbpk", "2024-01", kkbpk_payload(60, 40))
    assert rewritten.status_code == 200, rewritten.text

    stale = await _put_period(
        client,
        admin,
        kampung_id,
        "2024-01",
        {
            "kependudukan": kependudukan_payload(120),
            "kkbpk": kkbpk_payload(84, 36),
            "if_match": {"kependudukan": '"v1"', "kkbpk": '"v1"'},
        },
    )
    assert stale.status_code == 412, stale.text
    assert stale.headers["content-type"] == "application/problem+json"
    assert stale.headers["ETag"] == '"v2"'
    current = stale.json()["current"]
    assert (current["module"], current["revision"], current["payload"]["kb_users"]) == (
        "kkbpk",
        2,
        kkbpk_payload(60, 40)["kb_users"],
    )
    # Nothing of the set was written: the kependudukan, whose If-Match held, is still at v1.
    assert (await _stored(client, admin, kampung_id, "kependudukan"))["revision"] == 1

    retried = await _put_period(
        client,
        admin,
        kampung_id,
        "2024-01",
        {
            "kependudukan": kependudukan_payload(120),
            "kkbpk": kkbpk_payload(84, 36),
            "if_match": {"kependudukan": '"v1"', "kkbpk": stale.headers["ETag"]},
        },
    )
    assert retried.status_code == 200, retried.text
    assert (retried.json()["kependudukan"]["revision"], retried.json()["kkbpk"]["revision"]) == (2, 3)


async def test_a_rule_broken_by_the_set_names_the_module_field(
    client: httpx.AsyncClient, admin: str, kampung_id: int
) -> None:
    broken = await _put_period(
        client,
        admin,
        kampung_id,
        "2024-01",
        {"kependudukan": kependudukan_payload(120), "kkbpk": kkbpk_payload(70, 30)},
    )
    assert broken.status_code == 422, broken.text
    assert broken.headers["content-type"] == "application/problem+json"
    assert ["body", "kkbpk", "kb_users"] in errors_of(broken)
    assert ["body", "kependudukan", "pus"] in errors_of(broken)
    # Rolled back as a whole: neither module is stored.
    for module in ("kependudukan", "kkbpk"):
        missing = await client.get(f"/v1/kampung/{kampung_id}/{module}/2024-01", headers=auth(admin))
        assert missing.status_code == 404, missing.text


async def test_a_set_names_a_module_and_if_match_only_modules_written(
    client: httpx.AsyncClient, admin: str, kampung_id: int
) -> None:
    empty = await _put_period(client, admin, kampung_id, "2024-01", {})
    assert empty.status_code == 422
    stray = await _put_period(
        client, admin, kampung_id, "2024-01", {"profil": profil_payload(), "if_match": {"kkbpk": '"v1"'}}
    )
    assert stray.status_code == 422
    assert "if_match" in stray.text
    bad = await _put_period(client, admin, kampung_id, "2024-01", {"kependudukan": kependudukan_payload(-1)})
    assert bad.status_code == 422
    assert errors_of(bad)[0][:3] == ["body", "kependudukan", "pus"]


async def test_a_single_put_412_carries_the_current_etag_and_representation(
    client: httpx.AsyncClient, admin: str, kampung_id: int
) -> None:
    assert (await put_module(client, admin, kampung_id, "profil", "2024-01", profil_payload())).status_code == 201
    changed = profil_payload(rkm=False)
    assert (await put_module(client, admin, kampung_id, "profil", "2024-01", changed)).status_code == 200
    stale = await put_module(
        client, admin, kampung_id, "profil", "2024-01", profil_payload(pkb_pendamping=False), **{"If-Match": '"v1"'}
    )
    assert stale.status_code == 412
    assert stale.headers["ETag"] == '"v2"'
    assert stale.json()["current"]["payload"] == (await _stored(client, admin, kampung_id, "profil"))["payload"]
    assert stale.json()["current"]["revision"] == 2


async def test_prefer_return_minimal_answers_a_classification_summary(
    client: httpx.AsyncClient, admin: str, kampung_id: int
) -> None:
    minimal = {"Prefer": "return=minimal"}
    single = await put_module(client, admin, kampung_id, "kependudukan", "2024-01", kependudukan_payload(), **minimal)
    assert single.status_code == 201, single.text
    assert single.headers["Preference-Applied"] == "return=minimal"
    summary = single.json()["classification"]
    assert set(summary) == {"status", "ruleset", "period", "tier", "indices", "passed"}
    assert single.json()["payload"]["pus"] == 100

    full = await put_module(client, admin, kampung_id, "kkbpk", "2024-01", kkbpk_payload())
    assert "Preference-Applied" not in full.headers
    assert {"snapshot", "scores", "raw"} <= set(full.json()["classification"])
    assert len(single.content) < len(full.content)

    period = await _put_period(
        client, admin, kampung_id, "2024-01", {"profil": profil_payload()}, Prefer="respond-async, return=minimal"
    )
    assert period.status_code == 200, period.text
    assert period.headers["Preference-Applied"] == "return=minimal"
    assert "snapshot" not in period.json()["classification"]


async def test_a_short_answer_to_a_write_repeated_is_the_stored_summary_with_no_explanation_derived(
    client: httpx.AsyncClient, admin: str, kampung_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A phone's retry (the same content again) under `return=minimal`: its summary is read from the stored row, and
    the classifier is not asked to explain it again."""
    minimal = {"Prefer": "return=minimal"}
    for module, payload in (("kependudukan", kependudukan_payload()), ("profil", profil_payload())):
        assert (await put_module(client, admin, kampung_id, module, "2024-02", payload, **minimal)).status_code == 201
    first = await put_module(client, admin, kampung_id, "kkbpk", "2024-02", kkbpk_payload(), **minimal)
    assert first.status_code == 201, first.text
    explained = watch_explanations(client, monkeypatch)
    again = await put_module(client, admin, kampung_id, "kkbpk", "2024-02", kkbpk_payload(), **minimal)
    assert again.status_code == 200, again.text
    assert again.json()["revision"] == first.json()["revision"]
    assert again.json()["classification"] == first.json()["classification"]
    assert explained == []
    full = await put_module(client, admin, kampung_id, "kkbpk", "2024-02", kkbpk_payload())
    assert full.json()["classification"]["snapshot"] and len(explained) == 1  # without `Prefer`, explained again


async def test_a_short_answer_is_the_summary_of_what_was_stored(
    client: httpx.AsyncClient, admin: str, kampung_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under `return=minimal` the classifier is asked for results without their explanation: the summary answered is
    the stored classification's, as read back with its explanation derived again."""
    classifier = client._transport.app.state.classifier  # type: ignore[attr-defined]
    asked: list[bool] = []
    classify_lines = classifier.classify_lines

    async def watched(body: bytes, **options: Any) -> list[bytes]:  # the real call, its body's `explain` noted
        asked.append(orjson.loads(body)["explain"])
        return list(await classify_lines(body, **options))

    monkeypatch.setattr(classifier, "classify_lines", watched)
    minimal = {"Prefer": "return=minimal"}
    for module, payload in (("kependudukan", kependudukan_payload()), ("profil", profil_payload())):
        assert (await put_module(client, admin, kampung_id, module, "2024-02", payload, **minimal)).status_code == 201
    written = await put_module(client, admin, kampung_id, "kkbpk", "2024-02", kkbpk_payload(), **minimal)
    assert written.status_code == 201, written.text
    summary = written.json()["classification"]
    stored = await client.get(
        f"/v1/kampung/{kampung_id}/classification", params={"period": "2024-02"}, headers=auth(admin)
    )
    assert stored.status_code == 200, stored.text
    assert summary["tier"] != "belum_terklasifikasi"
    assert summary == {key: stored.json()[key] for key in summary}
    assert asked == [False, False, False]

    period = await _put_period(
        client, admin, kampung_id, "2024-02", {"kkbpk": kkbpk_payload(users=50, non_users=50)}, Prefer="return=minimal"
    )
    assert period.status_code == 200, period.text
    again = await client.get(
        f"/v1/kampung/{kampung_id}/classification", params={"period": "2024-02"}, headers=auth(admin)
    )
    assert period.json()["classification"] == {key: again.json()[key] for key in period.json()["classification"]}
