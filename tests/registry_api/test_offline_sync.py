"""A phone's offline session as the README's sync protocol runs it: enrol, first pull (`in-force` with its cursor),
others write while it is offline, delta pull from the feed, its own queued write meets a 412, merges and goes in."""

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.changes.test_feed import follow
from tests.factories import (
    DEMO_KELURAHAN,
    auth,
    kependudukan_payload,
    kkbpk_payload,
    make_kampung,
    make_kegiatan,
    profil_payload,
    put_module,
)
from tests.registry_api.conftest import app_client, registry_settings


async def _enrol_phone(client: httpx.AsyncClient, admin: str, kampung_id: int) -> str:
    enrolment = await client.post("/v1/enrolments", json={"kampung_id": kampung_id, "name": "HP"}, headers=auth(admin))
    assert enrolment.status_code == 201, enrolment.text
    enrolled = await client.post("/v1/enrol", json={"code": enrolment.json()["code"], "device_name": "HP kader"})
    assert enrolled.status_code == 200, enrolled.text
    return str(enrolled.json()["key"])


async def _pull(client: httpx.AsyncClient, phone: str, kampung_id: int) -> dict[str, Any]:
    response = await client.get(f"/v1/kampung/{kampung_id}/in-force", params={"period": "2024-03"}, headers=auth(phone))
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_a_phone_pulls_goes_offline_syncs_and_recovers_from_a_conflict(
    client: httpx.AsyncClient, admin: str, kampung_id: int
) -> None:
    for module, body in (
        ("profil", profil_payload()),
        ("kependudukan", kependudukan_payload(100)),
        ("kkbpk", kkbpk_payload(70, 30)),
    ):
        assert (await put_module(client, admin, kampung_id, module, "2024-01", body)).status_code == 201
    assert (await make_kegiatan(client, admin, kampung_id, "2024-02-10", ["PUSKESMAS"])).status_code == 201
    phone = await _enrol_phone(client, admin, kampung_id)

    # First pull: everything in force for March (written in January), with the cursor to follow.
    first = await _pull(client, phone, kampung_id)
    assert first["kampung"]["id"] == kampung_id
    assert {m: first[m]["period"] for m in ("profil", "kependudukan", "kkbpk")} == dict.fromkeys(
        ("profil", "kependudukan", "kkbpk"), "2024-01"
    )
    assert [k["date"] for k in first["kegiatan"]] == ["2024-02-10"]
    assert first["classification"]["period"] == "2024-02"  # the activity of February made a classification of it
    nothing, _ = await follow(client, phone, first["cursor"])
    assert nothing == []

    # Offline, the phone edits the January kkbpk it holds (v1); meanwhile an officer rewrites it and adds an activity.
    queued = kkbpk_payload(75, 25)
    officer = await put_module(client, admin, kampung_id, "kkbpk", "2024-01", kkbpk_payload(60, 40))
    assert officer.status_code == 200, officer.text
    assert (await make_kegiatan(client, admin, kampung_id, "2024-03-05", ["LAINNYA"])).status_code == 201

    # Back online: the delta from the feed names what changed; the phone refetches just that.
    delta, cursor = await follow(client, phone, first["cursor"])
    changed = {(i["kind"], i["module"], i["revision"]) for i in delta if i["kind"] in ("submission", "kegiatan")}
    assert ("submission", "kkbpk", 2) in changed
    assert any(i["kind"] == "kegiatan" for i in delta)
    assert all(i["kampung_id"] == kampung_id for i in delta)

    # Its queued write, based on v1, meets 412 with the current state; it merges and retries on the current ETag.
    stale = await put_module(client, phone, kampung_id, "kkbpk", "2024-01", queued, **{"If-Match": '"v1"'})
    assert stale.status_code == 412, stale.text
    assert stale.headers["ETag"] == '"v2"'
    assert stale.json()["current"]["payload"]["kb_users"] == kkbpk_payload(60, 40)["kb_users"]
    merged = {**stale.json()["current"]["payload"], "non_users": queued["non_users"], "kb_users": queued["kb_users"]}
    retried = await put_module(
        client, phone, kampung_id, "kkbpk", "2024-01", merged, **{"If-Match": stale.headers["ETag"]}
    )
    assert retried.status_code == 200, retried.text
    assert retried.json()["revision"] == 3

    after, _ = await follow(client, phone, cursor)
    assert ("submission", "kkbpk", 3) in {(i["kind"], i["module"], i["revision"]) for i in after}
    again = await _pull(client, phone, kampung_id)
    assert again["kkbpk"]["revision"] == 3
    assert [k["date"] for k in again["kegiatan"]] == ["2024-02-10", "2024-03-05"]


async def test_a_pull_of_an_unchanged_kampung_is_304_whatever_else_was_written(
    client: httpx.AsyncClient, admin: str, kampung_id: int
) -> None:
    assert (await put_module(client, admin, kampung_id, "kependudukan", "2024-01", kependudukan_payload())).is_success
    phone = await _enrol_phone(client, admin, kampung_id)
    url = f"/v1/kampung/{kampung_id}/in-force"
    first = await client.get(url, params={"period": "2024-03"}, headers=auth(phone))
    tag = first.headers["ETag"]
    # Another Kampung KB written: the feed's cursor moves, this one's data do not.
    other = await make_kampung(client, admin, desa_code=DEMO_KELURAHAN)
    assert (await put_module(client, admin, other["id"], "kependudukan", "2024-01", kependudukan_payload())).is_success
    moved = await client.get(url, params={"period": "2024-03"}, headers=auth(phone))
    assert moved.json()["cursor"] != first.json()["cursor"]
    unchanged = await client.get(url, params={"period": "2024-03"}, headers={**auth(phone), "If-None-Match": tag})
    assert (unchanged.status_code, unchanged.content, unchanged.headers["ETag"]) == (304, b"", tag)
    # Its own data written: a new tag, and the whole answer.
    assert (await put_module(client, admin, kampung_id, "kependudukan", "2024-02", kependudukan_payload(90))).is_success
    changed = await client.get(url, params={"period": "2024-03"}, headers={**auth(phone), "If-None-Match": tag})
    assert changed.status_code == 200 and changed.headers["ETag"] != tag
    assert changed.json()["kependudukan"]["period"] == "2024-02"


@pytest.mark.parametrize("period", ["0001-01", "1899-12", "3000-01", "9999-12", "2024-13"])
async def test_a_month_outside_the_read_years_is_named(
    client: httpx.AsyncClient, admin: str, kampung_id: int, period: str
) -> None:
    # The pull reads the activities of the months before the one asked and the month after it: both must exist.
    for path in (f"/v1/kampung/{kampung_id}/in-force", f"/v1/kampung/{kampung_id}/classification"):
        response = await client.get(path, params={"period": period}, headers=auth(admin))
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["loc"] == ["query", "period"]


async def test_a_pull_while_the_classifier_is_away_answers_the_classification_without_its_explanation(
    client: httpx.AsyncClient,
    session_factory: async_sessionmaker[AsyncSession],
    database_url: str,
    redis_url: str,
    admin: str,
    kampung_id: int,
    dead_url: str,
) -> None:
    """The first pull is the phone's whole copy: the classifier, which only derives the explanation, does not stop
    it. The figures come from the stored row; the explanation once the classifier is back."""
    assert (await put_module(client, admin, kampung_id, "kependudukan", "2024-01", kependudukan_payload())).is_success
    explained = (await _pull(client, admin, kampung_id))["classification"]
    assert {"raw", "missing", "next_tier", "snapshot"} <= explained.keys()
    async with app_client(registry_settings(database_url, redis_url, dead_url), session_factory) as (_, away):
        pulled = await _pull(away, admin, kampung_id)
    assert pulled["kependudukan"]["period"] == "2024-01"
    summary = pulled["classification"]
    assert summary["status"] == "classified" and not {"raw", "missing", "next_tier", "snapshot"} & summary.keys()
    assert {k: summary[k] for k in ("ruleset", "period", "tier", "indices", "passed")} == {
        k: explained[k] for k in ("ruleset", "period", "tier", "indices", "passed")
    }
