"""A key of one Kampung KB (a phone's, scope `kampung:<id>`) follows the feed through its own statement, on the index
of that Kampung KB's rows in feed order: exactly its items, in order, with the cursors any follower gets, held back
behind a transaction still running like every follower."""

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from kampungkb_shared.modules import KependudukanPayload
from kampungkb_shared.periods import parse_period
from registry_api.auth.service import Role, authenticate
from registry_api.changes import feed
from registry_api.changes.pipeline import Classifying
from registry_api.classifications.client import classifier_session, create_classifier
from registry_api.db import create_engine, create_sessionmaker, session_driver
from registry_api.settings import Settings
from registry_api.submissions.schemas import Module
from registry_api.submissions.service import write_submission
from tests.changes.test_feed import follow
from tests.factories import (
    DEMO_DESA,
    DEMO_KELURAHAN,
    auth,
    kependudukan_payload,
    kkbpk_payload,
    load_demo_regions,
    make_kampung,
    make_kegiatan,
    make_key,
    profil_payload,
    put_module,
)


async def test_a_phone_gets_exactly_its_kampung_items_in_feed_order_page_by_page(
    client: httpx.AsyncClient, admin: str, session: AsyncSession
) -> None:
    start = (await client.get("/v1/changes/head", headers=auth(admin))).json()["cursor"]
    own = await make_kampung(client, admin)
    other = await make_kampung(client, admin, desa_code=DEMO_KELURAHAN)
    await put_module(client, admin, own["id"], "kependudukan", "2024-06", kependudukan_payload())
    await put_module(client, admin, other["id"], "kependudukan", "2024-06", kependudukan_payload())
    await put_module(client, admin, own["id"], "profil", "2024-06", profil_payload())
    assert (await make_kegiatan(client, admin, other["id"], "2024-06-10", ["PUSKESMAS"])).status_code == 201
    await put_module(client, admin, own["id"], "kkbpk", "2024-06", kkbpk_payload())
    everything, _ = await follow(client, admin, start)
    expected = [i for i in everything if i["kampung_id"] == own["id"]]
    assert len(expected) >= 6 and len(expected) < len(everything)

    phone = await make_key(session, Role.OPERATOR, f"kampung:{own['id']}")
    served, _ = await follow(client, phone, start)
    assert served == expected

    # Every page, from every position and with every limit, is what the rule of pages gives on the Kampung KB's own
    # items: the next `limit` after the cursor; a full page ends at its last item, a short one (a reader inside a
    # transaction of its own, as in-process requests are) at its last item or where it began.
    for after in [start, *(i["cursor"] for i in everything)]:
        for limit in (1, 2, len(expected), len(expected) + 1):
            page = await client.get("/v1/changes", params={"after": after, "limit": limit}, headers=auth(phone))
            assert page.status_code == 200, page.text
            rest = [i for i in expected if feed.decode(i["cursor"]) > feed.decode(after)][:limit]
            assert page.json()["items"] == rest, (after, limit)
            assert page.json()["next_cursor"] == (rest[-1]["cursor"] if rest else after), (after, limit)

    # Its filters narrow its own items, as any follower's.
    submissions, _ = await follow(client, phone, start, kinds="submission")
    assert submissions == [i for i in expected if i["kind"] == "submission"]
    elsewhere, _ = await follow(client, phone, start, wilayah="99.71")
    assert elsewhere == []


@pytest.mark.parametrize("plans", ["force_custom_plan", "force_generic_plan"])
async def test_a_phones_page_is_read_on_the_kampung_index(
    client: httpx.AsyncClient, admin: str, session: AsyncSession, plans: str
) -> None:
    """The statement `feed.page` runs for a key of one Kampung KB starts on `ix_change_log_kampung` at the cursor and
    needs no sort, in the plan for its values and in the generic plan a prepared statement turns to."""
    kampung = await make_kampung(client, admin)
    await put_module(client, admin, kampung["id"], "kependudukan", "2024-06", kependudukan_payload())
    driver = await session_driver(session)
    await driver.execute("SET LOCAL enable_seqscan = off")
    await driver.execute(f"SET LOCAL plan_cache_mode = {plans}")
    await driver.execute(f"PREPARE phone_page AS {feed._KAMPUNG_PAGE}")
    try:
        plan = "\n".join(
            row[0]
            for row in await driver.fetch(
                f"EXPLAIN EXECUTE phone_page(0, 0, {2**62}, NULL, NULL, {kampung['id']}, 500)"
            )
        )
    finally:
        await driver.execute("DEALLOCATE phone_page")
    assert "Index Scan using ix_change_log_kampung on change_log" in plan, plan
    assert "Sort" not in plan, plan
    condition = next(line for line in plan.splitlines() if "Index Cond" in line)
    assert "kampung_id = " in condition and "ROW(txid, id) > " in condition, plan


async def test_a_phone_is_held_back_behind_a_transaction_still_running(
    fresh_database_url: str, classifier_url: str, committed_session: AsyncSession, live_client: httpx.AsyncClient
) -> None:
    """A phone's follower skips the rows of other Kampung KB on to the horizon, never past a transaction still
    running: the write of its Kampung KB that began first and commits last reaches it on its next page."""
    await load_demo_regions(committed_session)
    key = await make_key(committed_session)
    own = await make_kampung(live_client, key, desa_code=DEMO_DESA)
    other = await make_kampung(live_client, key, desa_code=DEMO_KELURAHAN)
    phone = await make_key(committed_session, Role.OPERATOR, f"kampung:{own['id']}")
    everything, _ = await follow(live_client, key)
    last_other = max(feed.decode(i["cursor"]) for i in everything if i["kampung_id"] == other["id"])
    cursor: str | None = None
    seen: list[dict[str, Any]] = []
    for _ in range(100):  # a transaction open elsewhere in the cluster may hold the horizon back for a while
        page, cursor = await follow(live_client, phone, cursor)
        seen += page
        if feed.decode(cursor) > last_other:
            break
        await asyncio.sleep(0.1)
    assert feed.decode(cursor) > last_other, "the phone's cursor did not move on past the other Kampung KB's rows"
    assert [(i["kampung_id"], i["kind"], i["action"]) for i in seen] == [(own["id"], "kampung", "created")]

    engine = create_engine(fresh_database_url, pool_size=2)
    settings = Settings(DATABASE_URL=fresh_database_url, classifier_url=classifier_url)  # type: ignore[call-arg]
    try:
        async with classifier_session(classifier_url) as http, create_sessionmaker(engine)() as held:
            await write_submission(
                held,
                kampung_id=own["id"],
                module=Module.KEPENDUDUKAN,
                period=parse_period("2024-05"),
                payload=KependudukanPayload.model_validate(kependudukan_payload()),
                principal=await authenticate(held, key),
                if_match=None,
                if_none_match=None,
                classifying=Classifying(
                    classifier=create_classifier(http, settings), rulesets=settings.rulesets, budget_s=5.0
                ),
                closing=settings.closing(),
            )
            held_txid = (await held.execute(text("SELECT pg_current_xact_id()::text::bigint"))).scalar_one()
            # Another snapshot than the held one's: an equal one would wait for its stored twin to commit.
            later = await put_module(
                live_client, key, other["id"], "kependudukan", "2024-05", kependudukan_payload(pus=120)
            )
            assert later.status_code == 201  # committed, while the first write is still open

            served, cursor = await follow(live_client, phone, cursor)
            assert served == []
            assert feed.decode(cursor) <= (held_txid, 0), "the phone's cursor moved past a transaction still running"

            # A reader in a transaction of its own, newer than the held one, serves nothing past it either.
            async with create_sessionmaker(engine)() as reader:
                await reader.execute(text("SELECT pg_current_xact_id()"))
                principal = await authenticate(reader, phone)
                page = await feed.page(reader, principal=principal, after=cursor, limit=100, kinds=None, wilayah=None)
                assert page.items == [] and feed.decode(page.next_cursor) <= (held_txid, 0), page
            await held.commit()

        served = []
        for _ in range(100):  # until every transaction older than the held one has ended too
            page, cursor = await follow(live_client, phone, cursor)
            served += page
            if any(i["kind"] == "submission" for i in served):
                break
            await asyncio.sleep(0.1)
        assert {i["kampung_id"] for i in served} == {own["id"]}
        submissions = [(i["module"], i["period"]) for i in served if i["kind"] == "submission"]
        assert submissions == [("kependudukan", "2024-05")]
        assert {i["ruleset"] for i in served if i["kind"] == "classification"} == set(settings.rulesets)
    finally:
        await engine.dispose()
