"""Every stored figure, for every region, period and rule set, against the plain-loop oracle."""

import datetime as dt
from typing import Any

import asyncpg
import pytest

from kampungkb_shared.quality import FlagKind
from report_worker.aggregates import rebuild_period, refresh_chain
from report_worker.apart import Apart
from report_worker.sql import FIGURES
from tests.report_worker import oracle
from tests.report_worker.data import (
    PERIODS,
    RULESETS,
    Dataset,
    generate,
    insert_kampung,
    upsert_classification,
    upsert_submission,
)

Table = dict[tuple[dt.date, str, str], dict[str, Any]]


async def stored(pg: asyncpg.Connection) -> Table:
    rows = await pg.fetch("SELECT * FROM report_aggregate")
    return {
        (r["period"], r["ruleset"], r["code"]): {
            "level": r["level"],
            "parent_code": r["parent_code"],
            **{name: r[name] for name in FIGURES},
        }
        for r in rows
    }


def assert_same(actual: Table, wanted: Table) -> None:
    assert actual.keys() == wanted.keys()
    mismatches = [
        (key, name, actual[key][name], value)
        for key, figures in wanted.items()
        for name, value in figures.items()
        if actual[key][name] != value
    ]
    assert not mismatches, f"{len(mismatches)} differ, first: {mismatches[:5]}"


async def rebuild_all(pg: asyncpg.Connection) -> None:
    for period in PERIODS:
        await rebuild_period(pg, period=period, rulesets=RULESETS)


async def test_rebuild_matches_the_oracle(pg: asyncpg.Connection, dataset: Dataset) -> None:
    await rebuild_all(pg)
    wanted = oracle.expected(await oracle.read_rows(pg), PERIODS, RULESETS)
    assert_same(await stored(pg), wanted)
    # the data cover what the tests claim to cover
    nation = [wanted[(p, RULESETS[0], "00")] for p in PERIODS]
    assert all(f["kampung_total"] < f["desa_total"] for f in nation)
    assert len({f["kampung_total"] for f in nation}) > 1, "some Kampung KB are formed within the periods"
    assert all(f["reported"] < f["kampung_total"] for f in nation)
    assert all(f["kkbpk_kampung"] > 0 and f["promoted"] + f["demoted"] > 0 for f in nation)
    # the method mix: every method used in the nation, one some region's users lack, each region's adding up
    methods = oracle.method_columns()
    assert all(f[method] > 0 for f in nation for method in methods)
    assert any(f[method] == 0 < f["kb_users"] for f in wanted.values() for method in methods)
    assert all(sum(f[method] for method in methods) == f["kb_users"] for f in wanted.values())
    assert wanted[(PERIODS[0], RULESETS[0], "96")]["kampung_total"] == 0
    assert wanted[(PERIODS[0], RULESETS[0], "96")]["desa_total"] > 0
    assert wanted[(PERIODS[0], RULESETS[0], "98.71.02")]["kampung_total"] == 0
    assert any(not k["active"] for k in (await oracle.read_rows(pg)).kampung)


FLAGS = "SELECT kampung_id, period, kind, subject, value, evidence, status FROM quality_flag ORDER BY 1, 2, 3, 4"


async def test_a_rebuild_in_shares_of_the_provinsi_stores_what_one_statement_stores(fresh_database_url: str) -> None:
    """The shares commit on connections of their own: the data are committed, in a database of the test's own."""
    pg = await asyncpg.connect(fresh_database_url)
    try:
        await generate(pg)
        # a provinsi the region list no longer holds: its rows go with the rebuild, as one statement's delete takes them
        await rebuild_period(pg, period=PERIODS[0], rulesets=RULESETS)
        await pg.execute("""
            CREATE TEMP TABLE gone AS SELECT * FROM report_aggregate WHERE code = '00';
            UPDATE gone SET code = '99', level = 'provinsi', parent_code = '00';
            INSERT INTO report_aggregate SELECT * FROM gone
        """)
        connections: list[asyncpg.Connection] = []

        async def connect() -> asyncpg.Connection:
            connections.append(await asyncpg.connect(fresh_database_url))
            return connections[-1]

        for period in PERIODS:
            await rebuild_period(pg, period=period, rulesets=RULESETS, apart=Apart(connect, connections=3))
        # three shares a period for its figures, three for its flags, each on a connection closed once it is done
        assert len(connections) == 2 * 3 * len(PERIODS) and all(c.is_closed() for c in connections)
        in_shares = await stored(pg)
        assert_same(in_shares, oracle.expected(await oracle.read_rows(pg), PERIODS, RULESETS))
        flags_in_shares = await pg.fetch(FLAGS)
        assert {flag["kind"] for flag in flags_in_shares} >= {FlagKind.JUMP, FlagKind.IMPLAUSIBLE_RATIO}  # it ran
        for period in PERIODS:
            await rebuild_period(pg, period=period, rulesets=RULESETS)
        assert await stored(pg) == in_shares
        assert await pg.fetch(FLAGS) == flags_in_shares
        periods = await pg.fetch("SELECT period, ruleset FROM report_period WHERE rebuilt_at IS NOT NULL")
        assert len(periods) == len(PERIODS) * len(RULESETS)
    finally:
        await pg.close()


async def test_a_share_that_fails_leaves_the_period_unmarked_and_raises_what_failed(fresh_database_url: str) -> None:
    pg = await asyncpg.connect(fresh_database_url)
    try:
        await generate(pg)
        opened = 0

        async def connect() -> asyncpg.Connection:
            nonlocal opened
            opened += 1
            if opened == 2:
                raise OSError("the database went away")
            return await asyncpg.connect(fresh_database_url)

        with pytest.raises(OSError, match="went away"):
            await rebuild_period(pg, period=PERIODS[0], rulesets=RULESETS, apart=Apart(connect, connections=2))
        assert await pg.fetchval("SELECT count(*) FROM report_period") == 0
        assert await pg.fetchval("SELECT count(*) FROM report_aggregate WHERE level = 'provinsi'") > 0  # the other's
    finally:
        await pg.close()


async def test_running_twice_changes_nothing(pg: asyncpg.Connection, dataset: Dataset) -> None:
    await rebuild_all(pg)
    first = await stored(pg)
    await rebuild_all(pg)
    await refresh_chain(pg, period=PERIODS[0], kabupaten_code="97.01", rulesets=RULESETS)
    await refresh_chain(pg, period=PERIODS[0], kabupaten_code="97.01", rulesets=RULESETS)
    assert await stored(pg) == first


async def mutate(pg: asyncpg.Connection, dataset: Dataset) -> str:
    """Changes inside one kabupaten, as the registry makes them; returns the kabupaten."""
    kab = "97.01"
    ids = [
        r["id"]
        for r in await pg.fetch(
            "SELECT id FROM kampung WHERE kabupaten_code = $1 AND active AND formed_on < '2024-01-01' ORDER BY id", kab
        )
    ]
    # a back-dated kkbpk and profil for the second period, a new classification, a deactivation
    await upsert_submission(
        pg,
        ids[0],
        "kkbpk",
        PERIODS[1],
        {"poktan_participants": {}, "kb_users": {"KB_IUD": 500}, "non_users": {"TIAL": 77}},
    )
    await upsert_submission(
        pg,
        ids[1],
        "profil",
        PERIODS[1],
        {
            "pokja": {"exists": True, "sk": True, "members": 3, "trained_members": 1, "trained": True},
            "facilities": ["RUMAH_DATAKU"],
            "regulations": [],
            "pkb_pendamping": True,
            "rkm": False,
        },
    )
    await upsert_classification(pg, ids[2], PERIODS[2], RULESETS[0], "berkelanjutan")
    await upsert_classification(pg, ids[2], PERIODS[3], RULESETS[1], "dasar")
    await pg.execute("UPDATE kampung SET active = false WHERE id = $1", ids[3])
    # a Kampung KB formed mid-range in a desa that had none
    empty = await pg.fetchval(
        """SELECT w.code FROM wilayah w WHERE w.level = 'desa' AND w.code LIKE $1 || '.%'
              AND NOT EXISTS (SELECT 1 FROM kampung k WHERE k.desa_code = w.code AND k.active) ORDER BY w.code""",
        kab,
    )
    new = await insert_kampung(pg, empty, formed_on=PERIODS[3] + dt.timedelta(days=9))
    await upsert_submission(
        pg,
        new,
        "kependudukan",
        PERIODS[4],
        {
            "pus": 321,
            "families": 400,
            "remaja": 50,
            "families_with_balita": 10,
            "families_with_remaja": 10,
            "families_with_lansia": 10,
        },
    )
    return kab


async def test_chain_refresh_after_changes_matches_the_oracle(pg: asyncpg.Connection, dataset: Dataset) -> None:
    await rebuild_all(pg)
    before = await stored(pg)
    kab = await mutate(pg, dataset)
    outcome = await refresh_chain(pg, period=PERIODS[0], kabupaten_code=kab, rulesets=RULESETS)
    assert outcome.refreshed == PERIODS and outcome.rebuilt == []
    after = await stored(pg)
    assert_same(after, oracle.expected(await oracle.read_rows(pg), PERIODS, RULESETS))
    changed = {key[2] for key in after if after[key] != before[key]}
    assert changed and all(code in ("00", "97") or code.startswith(kab) for code in changed)
    assert {"00", "97", kab} <= changed


async def test_back_dated_submission_reaches_the_later_periods(pg: asyncpg.Connection, dataset: Dataset) -> None:
    await rebuild_all(pg)
    kampung_id = await pg.fetchval("SELECT min(id) FROM kampung WHERE kabupaten_code = '98.71' AND active")
    await upsert_submission(
        pg, kampung_id, "kkbpk", PERIODS[2], {"poktan_participants": {}, "kb_users": {"KB_PIL": 9999}, "non_users": {}}
    )
    outcome = await refresh_chain(pg, period=PERIODS[2], kabupaten_code="98.71", rulesets=RULESETS)
    assert outcome.refreshed == PERIODS[2:]
    assert_same(await stored(pg), oracle.expected(await oracle.read_rows(pg), PERIODS, RULESETS))


async def test_a_bounded_chain_refresh_stops_at_its_last_period(pg: asyncpg.Connection, dataset: Dataset) -> None:
    await rebuild_all(pg)
    kampung_id = await pg.fetchval("SELECT min(id) FROM kampung WHERE kabupaten_code = '98.71' AND active")
    await upsert_submission(
        pg, kampung_id, "kkbpk", PERIODS[1], {"poktan_participants": {}, "kb_users": {"KB_PIL": 9999}, "non_users": {}}
    )
    # The writer knows the next period's own kkbpk supersedes this one: it bounds the refresh there.
    await upsert_submission(
        pg, kampung_id, "kkbpk", PERIODS[2], {"poktan_participants": {}, "kb_users": {"KB_PIL": 1}, "non_users": {}}
    )
    untouched = {key: row for key, row in (await stored(pg)).items() if key[0] > PERIODS[2]}
    outcome = await refresh_chain(pg, period=PERIODS[1], through=PERIODS[2], kabupaten_code="98.71", rulesets=RULESETS)
    assert outcome.refreshed == PERIODS[1:3]
    refreshed = await stored(pg)
    assert_same(
        {key: row for key, row in refreshed.items() if key[0] <= PERIODS[2]},
        oracle.expected(await oracle.read_rows(pg), PERIODS[:3], RULESETS),
    )
    assert {key: row for key, row in refreshed.items() if key[0] > PERIODS[2]} == untouched


async def test_chain_refresh_of_a_period_never_rebuilt_rebuilds_it(pg: asyncpg.Connection, dataset: Dataset) -> None:
    outcome = await refresh_chain(pg, period=PERIODS[4], kabupaten_code="98.01", rulesets=RULESETS)
    assert outcome.rebuilt == [PERIODS[4]] and outcome.refreshed == []
    assert_same(await stored(pg), oracle.expected(await oracle.read_rows(pg), [PERIODS[4]], RULESETS))
    # now computed: later refreshes cover it and the period before is still absent
    outcome = await refresh_chain(pg, period=PERIODS[3], kabupaten_code="98.01", rulesets=RULESETS)
    assert outcome.rebuilt == [PERIODS[3]] and outcome.refreshed == [PERIODS[4]]
    assert_same(await stored(pg), oracle.expected(await oracle.read_rows(pg), PERIODS[3:5], RULESETS))
