"""A writer whose transaction began before others and commits after them: a client following the feed still gets
its change, on its next page after the commit. (A feed ordered by time stamps or by a plain sequence would have
served the later writes first and moved the client's cursor past it.)"""

import asyncio

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from kampungkb_shared.modules import KependudukanPayload
from kampungkb_shared.periods import parse_period
from registry_api.auth.service import authenticate
from registry_api.changes import feed
from registry_api.changes.pipeline import Classifying
from registry_api.classifications.client import classifier_session, create_classifier
from registry_api.db import create_engine, create_sessionmaker
from registry_api.settings import Settings
from registry_api.submissions.schemas import Module
from registry_api.submissions.service import write_submission
from tests.changes.test_feed import follow
from tests.factories import (
    DEMO_DESA,
    DEMO_KELURAHAN,
    kependudukan_payload,
    load_demo_regions,
    make_kampung,
    make_key,
    put_module,
)


async def test_a_write_committed_after_later_ones_is_served_on_the_next_page(
    fresh_database_url: str, classifier_url: str, committed_session: AsyncSession, live_client: httpx.AsyncClient
) -> None:
    await load_demo_regions(committed_session)
    key = await make_key(committed_session)
    early = await make_kampung(live_client, key, desa_code=DEMO_DESA)
    late = await make_kampung(live_client, key, desa_code=DEMO_KELURAHAN)
    # Past both Kampung KB: a transaction open elsewhere in the cluster may hold the feed's head back behind them.
    cursor: str | None = None
    seen: list[dict[str, object]] = []
    for _ in range(100):
        page, cursor = await follow(live_client, key, cursor)
        seen += page
        if {early["id"], late["id"]} <= {i["kampung_id"] for i in seen}:
            break
        await asyncio.sleep(0.1)

    engine = create_engine(fresh_database_url, pool_size=2)
    settings = Settings(DATABASE_URL=fresh_database_url, classifier_url=classifier_url)  # type: ignore[call-arg]
    try:
        async with classifier_session(classifier_url) as http, create_sessionmaker(engine)() as held:
            # The registry's own write path, in a transaction held open while other writes commit.
            principal = await authenticate(held, key)
            await write_submission(
                held,
                kampung_id=early["id"],
                module=Module.KEPENDUDUKAN,
                period=parse_period("2024-05"),
                payload=KependudukanPayload.model_validate(kependudukan_payload()),
                principal=principal,
                if_match=None,
                if_none_match=None,
                classifying=Classifying(
                    classifier=create_classifier(http, settings), rulesets=settings.rulesets, budget_s=5.0
                ),
                closing=settings.closing(),
            )
            # Another snapshot than the held one's: an equal one would wait for its stored twin to commit.
            other = kependudukan_payload(pus=120)
            later = await put_module(live_client, key, late["id"], "kependudukan", "2024-05", other)
            assert later.status_code == 201  # committed, while the first write is still open

            served, cursor = await follow(live_client, key, cursor)
            assert served == []  # held back behind the open transaction, not served ahead of it

            # A key whose last use is due to be written (the first request of a minute, a phone's first pull) reads
            # the feed all the same: the write does not give the read a transaction id of its own.
            await key_last_used_long_ago(committed_session, key)
            served, cursor = await follow(live_client, key, cursor)
            assert served == [], "a read that wrote its key's last use served past the open transaction"

            # A reader that writes, its own transaction newer than the held one: neither its own rows nor those
            # committed before it are served past the open transaction.
            async with create_sessionmaker(engine)() as reader:
                await reader.execute(text("SELECT pg_current_xact_id()"))
                page = await feed.page(reader, principal=principal, after=cursor, limit=100, kinds=None, wilayah=None)
                assert page.items == [] and feed.decode(page.next_cursor) <= feed.decode(cursor), page
                assert feed.decode(await feed.head(reader)) <= feed.decode(cursor)
            await held.commit()

        served = []
        for _ in range(100):  # until every transaction older than the two has ended too
            page, cursor = await follow(live_client, key, cursor, kinds="submission")
            served += page
            if len(served) >= 2:
                break
            await asyncio.sleep(0.1)
        assert [(i["kampung_id"], i["module"], i["period"]) for i in served] == [
            (early["id"], "kependudukan", "2024-05"),  # began first: first in the feed, though it committed last
            (late["id"], "kependudukan", "2024-05"),
        ]
    finally:
        await engine.dispose()


async def key_last_used_long_ago(session: AsyncSession, key: str) -> None:
    """The key's last use set back past the minute within which it is not written again."""
    await session.execute(
        text("UPDATE api_key SET last_used_at = now() - interval '2 minutes' WHERE prefix = :prefix"),
        {"prefix": key.split("_")[1]},
    )
    await session.commit()
