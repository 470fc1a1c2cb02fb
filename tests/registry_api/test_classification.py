"""Classification in the write path: every rule set stored, tier kept, back-dated writes, unchanged snapshots, reads."""

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kampungkb_shared.codes import OperationalItem
from kampungkb_shared.result_rows import HEADER
from registry_api.changes.models import OutboxEvent
from registry_api.classifications import snapshots
from registry_api.classifications.client import classifier_session
from registry_api.classifications.models import Classification, ClassificationSnapshot
from tests.factories import (
    auth,
    demo_kampung_by_sql,
    kependudukan_payload,
    kkbpk_payload,
    make_kegiatan,
    profil_payload,
    put_module,
)


async def stored(session: AsyncSession, kampung_id: int) -> dict[tuple[str, str], Classification]:
    rows = await session.scalars(
        select(Classification).where(Classification.kampung_id == kampung_id).execution_options(populate_existing=True)
    )
    return {(f"{c.period:%Y-%m}", c.ruleset): c for c in rows}


async def full_data(client: httpx.AsyncClient, key: str, kampung_id: int, period: str) -> httpx.Response:
    await put_module(client, key, kampung_id, "profil", period, profil_payload())
    await put_module(client, key, kampung_id, "kependudukan", period, kependudukan_payload())
    return await put_module(client, key, kampung_id, "kkbpk", period, kkbpk_payload())


async def test_put_returns_the_primary_classification_and_stores_every_ruleset(
    client: httpx.AsyncClient, session: AsyncSession, admin: str, kampung_id: int
) -> None:
    response = await full_data(client, admin, kampung_id, "2024-01")
    classification = response.json()["classification"]
    assert classification["status"] == "classified"
    assert classification["ruleset"] == "bkkbn-web-2021"
    assert classification["period"] == "2024-01"
    assert classification["snapshot"]["kkbpk"]["kb_users"] == {"KB_SUNTIK": 47, "KB_IMPLAN": 23}
    assert set(classification["scores"]) >= {"i_pokja", "o_cpr"}
    assert "next_tier" in classification and "missing" in classification
    rows = await stored(session, kampung_id)
    assert set(rows) == {("2024-01", "bkkbn-web-2021"), ("2024-01", "kkb-2025")}
    kkb = await client.get(
        f"/v1/kampung/{kampung_id}/classification", params={"ruleset": "kkb-2025"}, headers=auth(admin)
    )
    assert kkb.json()["ruleset"] == "kkb-2025" and kkb.json()["tier"] == rows[("2024-01", "kkb-2025")].tier
    assert list(kkb.json()["scores"].values()) == rows[("2024-01", "kkb-2025")].scores


async def test_kampung_tier_follows_the_primary_rulesets_newest_classification(
    client: httpx.AsyncClient, session: AsyncSession, admin: str, kampung_id: int
) -> None:
    tier = (await full_data(client, admin, kampung_id, "2024-01")).json()["classification"]["tier"]
    profile = await client.get(f"/v1/kampung/{kampung_id}", headers=auth(admin))
    assert profile.json()["tier"] == tier
    listed = await client.get("/v1/kampung", params={"tier": tier}, headers=auth(admin))
    assert kampung_id in [k["id"] for k in listed.json()["items"]]
    # A weaker newer month: the profile shows the newest month's tier.
    await put_module(client, admin, kampung_id, "profil", "2024-02", profil_payload(pokja={"exists": False}, poktan=[]))
    newest = await client.get(f"/v1/kampung/{kampung_id}/classification", headers=auth(admin))
    assert newest.json()["period"] == "2024-02"
    profile = await client.get(f"/v1/kampung/{kampung_id}", headers=auth(admin))
    assert profile.json()["tier"] == newest.json()["tier"]
    # A stronger older month (input and proses pass) is classified again under its own tier; the profile still shows
    # the newest month's.
    strong = profil_payload(
        data_sources=["PK_PEMUTAKHIRAN_DATA", "DATA_RUTIN_BKKBN", "POTENSI_DESA", "DATA_SEKTORAL"],
        operational={item: "BULANAN" for item in OperationalItem},
    )
    written = await put_module(client, admin, kampung_id, "profil", "2024-01", strong)
    assert written.json()["classification"]["tier"] == "berkembang" != newest.json()["tier"]
    profile = await client.get(f"/v1/kampung/{kampung_id}", headers=auth(admin))
    assert profile.json()["tier"] == newest.json()["tier"]


async def test_backdated_submission_reclassifies_later_periods(
    client: httpx.AsyncClient, session: AsyncSession, admin: str, kampung_id: int
) -> None:
    await put_module(client, admin, kampung_id, "kependudukan", "2024-01", kependudukan_payload())
    await put_module(client, admin, kampung_id, "kkbpk", "2024-03", kkbpk_payload())
    await put_module(client, admin, kampung_id, "kkbpk", "2024-05", kkbpk_payload())
    before = await stored(session, kampung_id)
    assert before[("2024-05", "bkkbn-web-2021")].snapshot.snapshot["profil"] is None
    # A profil for February is in force in March and May too: both are reclassified, January is not.
    await put_module(client, admin, kampung_id, "profil", "2024-02", profil_payload())
    after = await stored(session, kampung_id)
    assert set(after) == {
        (p, r) for p in ("2024-01", "2024-02", "2024-03", "2024-05") for r in ("bkkbn-web-2021", "kkb-2025")
    }
    for period in ("2024-02", "2024-03", "2024-05"):
        assert after[(period, "kkb-2025")].snapshot.snapshot["profil"]["pokja"]["members"] == 12
    assert after[("2024-01", "kkb-2025")].snapshot.snapshot["profil"] is None


async def test_unchanged_snapshot_is_not_stored_again(
    client: httpx.AsyncClient, session: AsyncSession, admin: str, kampung_id: int
) -> None:
    await put_module(client, admin, kampung_id, "kependudukan", "2024-01", kependudukan_payload())
    await put_module(client, admin, kampung_id, "kependudukan", "2024-03", kependudukan_payload(pus=90))
    march = (await stored(session, kampung_id))[("2024-03", "bkkbn-web-2021")]
    march.computed_at = march.computed_at.replace(year=2000)
    await session.flush()
    # January changes; March's snapshot (its own kependudukan) does not: March is not rewritten.
    await put_module(client, admin, kampung_id, "kependudukan", "2024-01", kependudukan_payload(pus=120))
    rows = await stored(session, kampung_id)
    assert rows[("2024-03", "bkkbn-web-2021")].computed_at.year == 2000
    assert rows[("2024-01", "bkkbn-web-2021")].snapshot.snapshot["kependudukan"]["pus"] == 120


async def test_classification_as_of_a_period(client: httpx.AsyncClient, admin: str, kampung_id: int) -> None:
    url = f"/v1/kampung/{kampung_id}/classification"
    assert (await client.get(url, headers=auth(admin))).status_code == 404
    await put_module(client, admin, kampung_id, "kependudukan", "2024-01", kependudukan_payload())
    await put_module(client, admin, kampung_id, "kependudukan", "2024-06", kependudukan_payload(pus=90))
    assert (await client.get(url, params={"period": "2024-03"}, headers=auth(admin))).json()["period"] == "2024-01"
    assert (await client.get(url, params={"period": "2024-06"}, headers=auth(admin))).json()["period"] == "2024-06"
    assert (await client.get(url, headers=auth(admin))).json()["period"] == "2024-06"
    other = await client.get(url, params={"ruleset": "kkb-2025"}, headers=auth(admin))
    assert other.json()["ruleset"] == "kkb-2025"
    assert (await client.get(url, params={"period": "2023-12"}, headers=auth(admin))).status_code == 404
    assert (await client.get(url, params={"period": "2024-1"}, headers=auth(admin))).status_code == 422
    assert (await client.get(url, params={"ruleset": "nope"}, headers=auth(admin))).status_code == 404


async def test_new_activity_reclassifies_its_month_and_later_ones(
    client: httpx.AsyncClient, session: AsyncSession, admin: str, kampung_id: int
) -> None:
    await put_module(client, admin, kampung_id, "profil", "2024-01", profil_payload())
    await put_module(client, admin, kampung_id, "profil", "2024-04", profil_payload())
    response = await make_kegiatan(client, admin, kampung_id, "2024-02-10", ["DINAS_KESEHATAN", "PUSKESMAS"])
    assert response.status_code == 201
    assert response.json()["classification"]["raw"]["n_partners"] == 2
    rows = await stored(session, kampung_id)
    assert rows[("2024-01", "kkb-2025")].snapshot.snapshot["partners"] == []
    assert rows[("2024-02", "kkb-2025")].snapshot.snapshot["partners"] == [
        {"code": "DINAS_KESEHATAN", "last_activity": "2024-02-10"},
        {"code": "PUSKESMAS", "last_activity": "2024-02-10"},
    ]
    assert len(rows[("2024-04", "bkkbn-web-2021")].snapshot.snapshot["partners"]) == 2
    await make_kegiatan(client, admin, kampung_id, "2024-03-05", ["PUSKESMAS", "BPS"])
    april = (await stored(session, kampung_id))[("2024-04", "bkkbn-web-2021")]
    assert {p["code"]: p["last_activity"] for p in april.snapshot.snapshot["partners"]} == {
        "BPS": "2024-03-05",
        "DINAS_KESEHATAN": "2024-02-10",
        "PUSKESMAS": "2024-03-05",
    }


async def test_both_rulesets_share_one_stored_snapshot(
    client: httpx.AsyncClient, session: AsyncSession, admin: str, kampung_id: int
) -> None:
    await full_data(client, admin, kampung_id, "2024-01")
    rows = await stored(session, kampung_id)
    hashes = {row.snapshot_hash for row in rows.values()}
    assert len(hashes) == 1
    count = await session.scalar(
        select(func.count()).select_from(ClassificationSnapshot).where(ClassificationSnapshot.hash.in_(hashes))
    )
    assert count == 1


@asynccontextmanager
async def _classifier_answering(
    client: httpx.AsyncClient, answer: Callable[[web.Request], Awaitable[web.Response]]
) -> AsyncIterator[None]:
    """The app's batch calls go, meanwhile, to a classifier of the test's that answers with `answer`."""
    classifier = web.Application()
    classifier.router.add_post("/v1/classify/batch", answer)
    app = client._transport.app  # type: ignore[attr-defined]
    async with TestServer(classifier, host="127.0.0.1") as server, classifier_session(str(server.make_url(""))) as http:
        app.state.classifier.http = http
        yield


_LEGENDARY = {"ruleset": "bkkbn-web-2021", "ruleset_hash": "x", "period": "2024-01", "tier": "legendary"}


@pytest.mark.parametrize(
    "line",
    [
        orjson.dumps({"id": 0, "index": 0, **_LEGENDARY, "result": _LEGENDARY}),  # an unknown tier
        b'{"id": 0, "index": 0, "result": {"tier": "da',  # not JSON
        b'{"id": 0, "result": {"tier": "dasar"}}',  # no index, a result short of its fields
        b"[1, 2, 3]",  # not an answer line
    ],
    ids=["tier", "json", "fields", "shape"],
)
async def test_an_answer_outside_the_contract_leaves_the_write_pending(
    client: httpx.AsyncClient, session: AsyncSession, admin: str, kampung_id: int, line: bytes
) -> None:
    """A classifier answering outside the contract: the write is kept (never a 500 for it), nothing of the answer is
    stored, the relay retries."""
    # A write before, answered by the real classifier: the registry holds the rule sets' contents from then on, so
    # the write below reaches the batch call and its answer.
    await put_module(client, admin, kampung_id, "kependudukan", "2023-12", kependudukan_payload())
    before = await stored(session, kampung_id)
    asked: list[str] = []

    async def answer(request: web.Request) -> web.Response:
        asked.append(request.headers["Accept"])
        return web.Response(body=line, content_type="application/x-ndjson")

    async with _classifier_answering(client, answer):
        response = await put_module(client, admin, kampung_id, "kependudukan", "2024-01", kependudukan_payload())
    assert response.status_code == 201, response.text
    assert response.json()["classification"] == {"status": "pending"}
    assert asked == ["application/x-ndjson"]
    assert await stored(session, kampung_id) == before
    events = await session.scalars(select(OutboxEvent).where(OutboxEvent.topic == "classify"))
    assert [e.payload["kampung_id"] for e in events] == [kampung_id]


_HASH = "0" * 64
_SCORES = ",".join(["2"] * 12)
_RECORD = f"{{id}},{{id}},bkkbn-web-2021,{_HASH},{{tier}},{_SCORES},2.0,2.0,2.0,false,false,false,3.0,"


@pytest.mark.parametrize(
    "answer",
    [
        "id,index,ruleset\n" + _RECORD.format(id=0, tier="dasar"),  # not the header of the contract
        f"{HEADER}\n" + _RECORD.format(id=0, tier="dasar").replace(",3.0,", ","),  # a field short
        f"{HEADER}\n" + _RECORD.format(id=0, tier="legendary"),  # an unknown tier
        f"{HEADER}\n" + _RECORD.format(id=0, tier="dasar").replace(",2,", ",two,", 1),  # not a number
    ],
    ids=["header", "short", "tier", "score"],
)
async def test_a_bulk_answer_outside_the_contract_leaves_the_write_pending(
    client: httpx.AsyncClient, session: AsyncSession, admin: str, kampung_id: int, answer: str
) -> None:
    """A back-dated write reclassifying 10 months under both rule sets asks for CSV records (more results than a
    write keeps): a malformed answer stores nothing of it, the write is kept and the relay retries."""
    for month in range(1, 11):
        await put_module(client, admin, kampung_id, "kependudukan", f"2024-{month:02d}", kependudukan_payload())
    before = {key: row.computed_at for key, row in (await stored(session, kampung_id)).items()}
    asked: list[str] = []

    async def classify(request: web.Request) -> web.Response:
        asked.append(request.headers["Accept"])
        return web.Response(text=answer, content_type="text/csv")

    async with _classifier_answering(client, classify):
        response = await put_module(client, admin, kampung_id, "profil", "2024-01", profil_payload())
    assert response.status_code == 201
    assert response.json()["classification"] == {"status": "pending"}
    assert asked and set(asked) == {"text/csv"}
    assert {key: row.computed_at for key, row in (await stored(session, kampung_id)).items()} == before
    events = await session.scalars(select(OutboxEvent).where(OutboxEvent.topic == "classify"))
    assert [e.payload["kampung_id"] for e in events] == [kampung_id]


async def test_snapshots_no_classification_refers_to_are_pruned(
    client: httpx.AsyncClient,
    session: AsyncSession,
    session_factory: async_sessionmaker[AsyncSession],
    admin: str,
    kampung_id: int,
) -> None:
    await put_module(client, admin, kampung_id, "kependudukan", "2024-01", kependudukan_payload())
    first = {row.snapshot_hash for row in (await stored(session, kampung_id)).values()}
    await put_module(client, admin, kampung_id, "kependudukan", "2024-01", kependudukan_payload(pus=120))
    current = {row.snapshot_hash for row in (await stored(session, kampung_id)).values()}
    assert first.isdisjoint(current)
    assert await snapshots.prune_unreferenced(session_factory) >= 1
    kept = set(await session.scalars(select(ClassificationSnapshot.hash)))
    assert current <= kept and first.isdisjoint(kept)


async def test_the_prune_leaves_the_snapshots_of_a_writer_still_running(
    fresh_database_url: str, committed_session: AsyncSession
) -> None:
    """A writer that stored or found snapshots may point classifications at them until it commits: the prune (which no
    foreign key stops) deletes nothing while one runs, and what is unreferenced once none does."""
    await demo_kampung_by_sql(fresh_database_url)
    kampung_id = await committed_session.scalar(text("SELECT id FROM kampung"))
    await committed_session.execute(text("INSERT INTO classification_snapshot (hash, snapshot) VALUES ('old', '{}')"))
    await committed_session.commit()
    maker = async_sessionmaker(committed_session.bind, expire_on_commit=False)
    async with maker() as writer:
        assert len(await snapshots.assemble(writer, pairs=[(kampung_id, dt.date(2024, 1, 1))])) == 1
        assert await snapshots.prune_unreferenced(maker) == 0
        await writer.commit()  # with no classification of it: unreferenced too
    assert await snapshots.prune_unreferenced(maker) == 2
    assert await committed_session.scalar(text("SELECT count(*) FROM classification_snapshot")) == 0


async def test_a_snapshots_assembly_waits_for_a_prune_under_way(
    fresh_database_url: str, committed_session: AsyncSession
) -> None:
    """The assembly takes the snapshots' lock (shared) in its own statement, before it finds or stores any snapshot:
    while a prune holds it alone, the writer waits, and it stores its snapshot once the prune is done."""
    await demo_kampung_by_sql(fresh_database_url)
    kampung_id = await committed_session.scalar(text("SELECT id FROM kampung"))
    maker = async_sessionmaker(committed_session.bind, expire_on_commit=False)
    async with maker() as prune, maker() as writer, maker() as observer:
        assert await prune.scalar(snapshots._ALONE)  # the prune's own try, as it deletes a batch
        assembling = asyncio.ensure_future(snapshots.assemble(writer, pairs=[(kampung_id, dt.date(2024, 1, 1))]))
        try:
            waiting = text(
                """SELECT count(*) FROM pg_stat_activity
                    WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event = 'advisory'"""
            )
            deadline = asyncio.get_running_loop().time() + 30
            while not await observer.scalar(waiting):
                assert asyncio.get_running_loop().time() < deadline, "the assembly did not wait for the prune's lock"
                await asyncio.sleep(0.01)
            assert not assembling.done()
            await prune.commit()
            assert [row.kampung_id for row in await asyncio.wait_for(assembling, 30)] == [kampung_id]
        finally:
            # On a failure above, the lock is let go so that the assembly's statement ends before its session closes
            # (closed mid-statement, its connection would be left to the garbage collector, failing a later test).
            await prune.rollback()
            await asyncio.wait_for(asyncio.gather(assembling, return_exceptions=True), 30)
        await writer.commit()
    assert await committed_session.scalar(text("SELECT count(*) FROM classification_snapshot")) == 1
