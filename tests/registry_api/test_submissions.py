"""Module submissions: create/replace, ETag and If-Match, identical re-PUT, revisions, rules, the sync listing."""

import datetime as dt
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kampungkb_shared.periods import add_months, format_period
from registry_api.submissions.models import SubmissionRevision
from tests.factories import (
    auth,
    errors_of,
    kependudukan_payload,
    kkbpk_payload,
    make_key,
    profil_payload,
    put_module,
    today,
)


async def test_put_creates_then_replaces_with_etag_and_revision(
    client: httpx.AsyncClient, admin: str, kampung_id: int
) -> None:
    first = await put_module(client, admin, kampung_id, "kependudukan", "2024-01", kependudukan_payload())
    assert first.status_code == 201
    assert first.headers["ETag"] == '"v1"'
    body = first.json()
    assert (body["kampung_id"], body["module"], body["period"], body["revision"]) == (
        kampung_id,
        "kependudukan",
        "2024-01",
        1,
    )
    assert body["payload"]["pus"] == 100
    assert body["submitted_by"].startswith("principal:")
    assert body["classification"]["status"] == "classified"
    second = await put_module(client, admin, kampung_id, "kependudukan", "2024-01", kependudukan_payload(pus=120))
    assert second.status_code == 200
    assert second.headers["ETag"] == '"v2"'
    assert second.json()["revision"] == 2
    got = await client.get(f"/v1/kampung/{kampung_id}/kependudukan/2024-01", headers=auth(admin))
    assert got.headers["ETag"] == '"v2"'
    assert got.json()["payload"]["pus"] == 120


async def test_if_match_and_if_none_match(client: httpx.AsyncClient, admin: str, kampung_id: int) -> None:
    async def put(pus: int, **headers: str) -> int:
        response = await put_module(
            client, admin, kampung_id, "kependudukan", "2024-01", kependudukan_payload(pus), **headers
        )
        if response.status_code == 412:
            assert response.headers["content-type"] == "application/problem+json"
        return response.status_code

    assert await put(100, **{"If-Match": '"v1"'}) == 412  # nothing to match yet
    assert await put(100, **{"If-None-Match": "*"}) == 201
    assert await put(5, **{"If-None-Match": "*"}) == 412
    assert await put(110, **{"If-Match": '"v1"'}) == 200
    assert await put(130, **{"If-Match": '"v1"'}) == 412
    got = await client.get(f"/v1/kampung/{kampung_id}/kependudukan/2024-01", headers=auth(admin))
    assert got.json()["payload"]["pus"] == 110


async def test_a_month_carried_forward_has_a_tag_of_its_own(
    client: httpx.AsyncClient, admin: str, kampung_id: int
) -> None:
    """A month without its own submission serves the one in force, tagged with its month too: when the month's own
    comes, at revision 1 as well, a client holding the carried one's tag gets it, not a 304; and that tag, sent as
    `If-Match`, writes the month only while the carried one is still the one in force."""
    url = f"/v1/kampung/{kampung_id}/kependudukan"
    assert (
        await put_module(client, admin, kampung_id, "kependudukan", "2024-01", kependudukan_payload(100))
    ).is_success
    carried = await client.get(f"{url}/2024-03", headers=auth(admin))
    assert (carried.status_code, carried.json()["period"]) == (200, "2024-01")
    tag = carried.headers["ETag"]
    assert tag == '"v1.2024-01"'
    kept = await client.get(f"{url}/2024-03", headers={**auth(admin), "If-None-Match": tag})
    assert kept.status_code == 304

    stale = await put_module(
        client, admin, kampung_id, "kependudukan", "2024-03", kependudukan_payload(90), **{"If-Match": '"v1"'}
    )
    assert stale.status_code == 412, stale.text
    assert stale.headers["ETag"] == tag and stale.json()["current"]["period"] == "2024-01"
    own = await put_module(
        client, admin, kampung_id, "kependudukan", "2024-03", kependudukan_payload(120), **{"If-Match": tag}
    )
    assert (own.status_code, own.headers["ETag"]) == (201, '"v1"'), own.text

    fresh = await client.get(f"{url}/2024-03", headers={**auth(admin), "If-None-Match": tag})
    assert (fresh.status_code, fresh.headers["ETag"], fresh.json()["payload"]["pus"]) == (200, '"v1"', 120)
    # January revised: its old tag no longer writes February, which it is carried into.
    assert (
        await put_module(client, admin, kampung_id, "kependudukan", "2024-01", kependudukan_payload(105))
    ).is_success
    refused = await put_module(
        client, admin, kampung_id, "kependudukan", "2024-02", kependudukan_payload(95), **{"If-Match": tag}
    )
    assert (refused.status_code, refused.headers["ETag"]) == (412, '"v2.2024-01"'), refused.text


async def test_identical_payload_makes_no_new_revision(
    client: httpx.AsyncClient, session: AsyncSession, admin: str, kampung_id: int
) -> None:
    first = await put_module(client, admin, kampung_id, "profil", "2024-01", profil_payload())
    # Same content, keys in another order and a default spelled out: still the same submission.
    again_body = {**dict(reversed(list(profil_payload().items()))), "pengarah": None}
    again = await put_module(client, admin, kampung_id, "profil", "2024-01", again_body, **{"If-Match": '"v0"'})
    assert again.status_code == 200
    assert again.json()["revision"] == 1
    assert again.json()["submitted_at"] == first.json()["submitted_at"]
    assert again.json()["classification"]["status"] == "classified"
    count = await session.scalar(select(func.count()).select_from(SubmissionRevision))
    assert count == 0  # no version replaced


async def test_revisions_newest_first_with_who_and_when(
    client: httpx.AsyncClient, session: AsyncSession, admin: str, kampung_id: int
) -> None:
    other = await make_key(session)
    await put_module(client, admin, kampung_id, "kependudukan", "2024-01", kependudukan_payload(pus=100))
    await put_module(client, other, kampung_id, "kependudukan", "2024-01", kependudukan_payload(pus=101))
    await put_module(client, admin, kampung_id, "kependudukan", "2024-01", kependudukan_payload(pus=102))
    response = await client.get(f"/v1/kampung/{kampung_id}/kependudukan/2024-01/revisions", headers=auth(admin))
    assert response.status_code == 200
    revisions = response.json()
    assert [r["revision"] for r in revisions] == [3, 2, 1]
    assert [r["payload"]["pus"] for r in revisions] == [102, 101, 100]
    assert revisions[0]["submitted_by"] == revisions[2]["submitted_by"] != revisions[1]["submitted_by"]
    assert all(r["submitted_at"] for r in revisions)
    none = await client.get(f"/v1/kampung/{kampung_id}/kependudukan/2023-12/revisions", headers=auth(admin))
    assert none.status_code == 404


async def test_get_returns_the_submission_in_force(client: httpx.AsyncClient, admin: str, kampung_id: int) -> None:
    await put_module(client, admin, kampung_id, "kependudukan", "2024-01", kependudukan_payload(pus=100))
    await put_module(client, admin, kampung_id, "kependudukan", "2024-04", kependudukan_payload(pus=90))
    march = await client.get(f"/v1/kampung/{kampung_id}/kependudukan/2024-03", headers=auth(admin))
    assert (march.json()["period"], march.json()["payload"]["pus"]) == ("2024-01", 100)
    may = await client.get(f"/v1/kampung/{kampung_id}/kependudukan/2024-05", headers=auth(admin))
    assert may.json()["period"] == "2024-04"
    exact = await client.get(f"/v1/kampung/{kampung_id}/kependudukan/2024-03?exact=true", headers=auth(admin))
    assert exact.status_code == 404
    before = await client.get(f"/v1/kampung/{kampung_id}/kependudukan/2023-12", headers=auth(admin))
    assert before.status_code == 404
    assert before.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("period", "reason"),
    [
        ("2024-13", "not a month"),
        ("2024-1", "not YYYY-MM"),
        ("2015-12", "before the programme"),
        (format_period(add_months(today(), 1)), "in the future"),
    ],
)
async def test_period_is_a_real_past_month(
    client: httpx.AsyncClient, admin: str, kampung_id: int, period: str, reason: str
) -> None:
    response = await put_module(client, admin, kampung_id, "kependudukan", period, kependudukan_payload())
    assert errors_of(response) == [["path", "period"]], reason
    this_month = await put_module(
        client, admin, kampung_id, "kependudukan", format_period(today()), kependudukan_payload()
    )
    assert this_month.status_code == 201


@pytest.mark.parametrize(
    ("module", "body", "loc"),
    [
        ("kependudukan", kependudukan_payload(pus=-1), ["body", "pus"]),
        ("kkbpk", kkbpk_payload(kb_users={"KB_PIL": -3}), ["body", "kb_users", "KB_PIL"]),
        ("kkbpk", kkbpk_payload(kb_users={"KB_JAMU": 3}), ["body", "kb_users", "KB_JAMU"]),
        ("profil", profil_payload(funding_sources=["APBN", "LOTRE"]), ["body", "funding_sources", 1]),
        ("profil", profil_payload(poktan=["BKB", "BKB"]), ["body", "poktan"]),
        ("kependudukan", {**kependudukan_payload(), "extra": 1}, ["body", "extra"]),
    ],
    ids=["negative-count", "negative-in-map", "unknown-method", "unknown-funding", "duplicate-code", "unknown-field"],
)
async def test_payload_validation_names_the_field(
    client: httpx.AsyncClient, admin: str, kampung_id: int, module: str, body: dict[str, Any], loc: list[Any]
) -> None:
    await put_module(client, admin, kampung_id, "kependudukan", "2024-01", kependudukan_payload())
    response = await put_module(client, admin, kampung_id, module, "2024-02", body)
    assert [str(part) for part in loc] in [[str(part) for part in e] for e in errors_of(response)]


async def test_kkbpk_needs_users_plus_non_users_equal_to_pus_in_force(
    client: httpx.AsyncClient, admin: str, kampung_id: int
) -> None:
    no_pus = await put_module(client, admin, kampung_id, "kkbpk", "2024-02", kkbpk_payload())
    assert errors_of(no_pus) == [["body", "kb_users"]]
    assert "kependudukan" in no_pus.json()["errors"][0]["msg"]
    await put_module(client, admin, kampung_id, "kependudukan", "2024-01", kependudukan_payload(pus=100))
    await put_module(client, admin, kampung_id, "kependudukan", "2024-03", kependudukan_payload(pus=80))
    wrong = await put_module(client, admin, kampung_id, "kkbpk", "2024-02", kkbpk_payload(users=70, non_users=31))
    assert errors_of(wrong) == [["body", "kb_users"]]
    assert "2024-01" in wrong.json()["errors"][0]["msg"]
    assert (await put_module(client, admin, kampung_id, "kkbpk", "2024-02", kkbpk_payload(70, 30))).status_code == 201
    # From March the newer kependudukan (PUS 80) is in force.
    march = await put_module(client, admin, kampung_id, "kkbpk", "2024-03", kkbpk_payload(70, 30))
    assert errors_of(march) == [["body", "kb_users"]]
    assert (await put_module(client, admin, kampung_id, "kkbpk", "2024-03", kkbpk_payload(50, 30))).status_code == 201


async def test_poktan_participants_within_denominator(client: httpx.AsyncClient, admin: str, kampung_id: int) -> None:
    await put_module(
        client, admin, kampung_id, "kependudukan", "2024-01", kependudukan_payload(families_with_balita=40)
    )
    over = await put_module(
        client, admin, kampung_id, "kkbpk", "2024-01", kkbpk_payload(poktan_participants={"BKB": 41})
    )
    assert errors_of(over) == [["body", "poktan_participants", "BKB"]]
    at = await put_module(client, admin, kampung_id, "kkbpk", "2024-01", kkbpk_payload(poktan_participants={"BKB": 40}))
    assert at.status_code == 201


async def test_poktan_participants_only_for_poktan_present_in_profil(
    client: httpx.AsyncClient, admin: str, kampung_id: int
) -> None:
    await put_module(client, admin, kampung_id, "kependudukan", "2024-01", kependudukan_payload())
    # Without a profil in force, presence is unknown and not held against the kkbpk.
    participants = {"BKB": 10, "UPPKA": 5}
    early = await put_module(
        client, admin, kampung_id, "kkbpk", "2024-01", kkbpk_payload(poktan_participants=participants)
    )
    assert early.status_code == 201
    await put_module(client, admin, kampung_id, "profil", "2024-02", profil_payload(poktan=["BKB"]))
    absent = await put_module(
        client, admin, kampung_id, "kkbpk", "2024-03", kkbpk_payload(poktan_participants=participants)
    )
    assert errors_of(absent) == [["body", "poktan_participants", "UPPKA"]]
    zero = {"BKB": 10, "UPPKA": 0}
    ok = await put_module(client, admin, kampung_id, "kkbpk", "2024-03", kkbpk_payload(poktan_participants=zero))
    assert ok.status_code == 201


async def test_kependudukan_that_would_break_a_stored_kkbpk_is_refused(
    client: httpx.AsyncClient, admin: str, kampung_id: int
) -> None:
    await put_module(client, admin, kampung_id, "kependudukan", "2024-01", kependudukan_payload(pus=100))
    await put_module(client, admin, kampung_id, "kkbpk", "2024-02", kkbpk_payload(70, 30))
    await put_module(client, admin, kampung_id, "kependudukan", "2024-04", kependudukan_payload(pus=60))
    # Replacing January's PUS would govern February's kkbpk (100 = 70 + 30): refused, naming it.
    replace = await put_module(client, admin, kampung_id, "kependudukan", "2024-01", kependudukan_payload(pus=90))
    assert errors_of(replace) == [["body", "pus"]]
    assert "2024-02" in replace.json()["errors"][0]["msg"]
    # A back-dated one for February governs it too; one for March does not (no kkbpk in March).
    feb = await put_module(
        client, admin, kampung_id, "kependudukan", "2024-02", kependudukan_payload(pus=100, families_with_balita=5)
    )
    assert errors_of(feb) == [["body", "families_with_balita"]]
    assert (
        await put_module(client, admin, kampung_id, "kependudukan", "2024-03", kependudukan_payload(pus=1))
    ).status_code == 201


async def test_profil_that_would_drop_a_counted_poktan_is_refused(
    client: httpx.AsyncClient, admin: str, kampung_id: int
) -> None:
    await put_module(client, admin, kampung_id, "kependudukan", "2024-01", kependudukan_payload())
    await put_module(client, admin, kampung_id, "kkbpk", "2024-02", kkbpk_payload(poktan_participants={"BKR": 10}))
    dropped = await put_module(client, admin, kampung_id, "profil", "2024-01", profil_payload(poktan=["BKB"]))
    assert errors_of(dropped) == [["body", "poktan"]]
    assert "BKR" in dropped.json()["errors"][0]["msg"]
    later = await put_module(client, admin, kampung_id, "profil", "2024-03", profil_payload(poktan=["BKB"]))
    assert later.status_code == 201


async def test_unknown_kampung_is_404(client: httpx.AsyncClient, admin: str) -> None:
    response = await put_module(client, admin, 999_999, "kependudukan", "2024-01", kependudukan_payload())
    assert response.status_code == 404


async def test_submissions_changed_since_for_offline_sync(
    client: httpx.AsyncClient, admin: str, kampung_id: int
) -> None:
    await put_module(client, admin, kampung_id, "kependudukan", "2024-01", kependudukan_payload())
    first = await put_module(client, admin, kampung_id, "profil", "2024-01", profil_payload())
    since = first.json()["submitted_at"]
    url = f"/v1/kampung/{kampung_id}/submissions"
    everything = await client.get(url, headers=auth(admin))
    assert {(s["module"], s["period"]) for s in everything.json()["items"]} == {
        ("kependudukan", "2024-01"),
        ("profil", "2024-01"),
    }
    # Inside one test transaction every write has the same now(): a later instant stands in for "after the sync".
    later = (dt.datetime.fromisoformat(since) - dt.timedelta(microseconds=1)).isoformat()
    changed = await client.get(url, params={"updated_since": later, "module": "profil"}, headers=auth(admin))
    assert [(s["module"], s["revision"]) for s in changed.json()["items"]] == [("profil", 1)]
    none = await client.get(url, params={"updated_since": since}, headers=auth(admin))
    assert none.json()["items"] == []
    paged = await client.get(url, params={"limit": 1}, headers=auth(admin))
    assert len(paged.json()["items"]) == 1
    rest = await client.get(url, params={"limit": 1, "cursor": paged.json()["next_cursor"]}, headers=auth(admin))
    assert len(rest.json()["items"]) == 1
    assert rest.json()["items"][0]["module"] != paged.json()["items"][0]["module"]
    assert rest.json()["next_cursor"] is None


async def test_a_cursor_the_api_did_not_make_is_a_422(client: httpx.AsyncClient, admin: str, kampung_id: int) -> None:
    beyond_bigint = "99999999999999999999"
    bad = {
        "submissions": [
            "yesterday_x",
            f"2024-01-01T00:00:00+00:00_{beyond_bigint}",
            "0001-01-01T00:00:00+14:00_1",
            "2024-01-01T00:00:00_1",
            "2024-01-01T00:00:00+00:00_²",
            "2024-01-01T00:00:00+00:00_-1",
        ],
        "kegiatan": ["yesterday_x", f"2024-01-01_{beyond_bigint}", "2024-01-01_²", "2024-01-01_ 7"],
    }
    for listing, cursors in bad.items():
        for cursor in cursors:
            response = await client.get(
                f"/v1/kampung/{kampung_id}/{listing}", params={"cursor": cursor}, headers=auth(admin)
            )
            assert response.status_code == 422, (listing, cursor, response.text)
            assert response.json()["errors"][0]["loc"] == ["query", "cursor"]
