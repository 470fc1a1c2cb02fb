"""A chain refresh's data-quality pass recomputes only the Kampung KB changed since its kabupaten's last pass, read from
the change feed: with committed data, as report-worker sees it (each test on a database of its own)."""

import datetime as dt
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import pytest

from report_worker.aggregates import DEFAULT_QUALITY, rebuild_period, refresh_chain
from report_worker.quality import QualityRules, rules_key
from tests.report_worker import oracle
from tests.report_worker.data import RULESETS
from tests.report_worker.quality_oracle import Key, expected_flags
from tests.report_worker.test_quality import PERIOD, STEADY, Village, people, stored_flags, users, villages

NEXT = dt.date(2025, 7, 1)
COMPUTED = [PERIOD, NEXT]
KABUPATEN = "95.01"


@pytest.fixture
async def pg(fresh_database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection whose every statement commits (no test transaction around it)."""
    connection = await asyncpg.connect(fresh_database_url)
    yield connection
    await connection.close()


@dataclass
class Flagged:
    """Two Kampung KB of one kabupaten: `spiky`'s pill users leap in NEXT (an outlier against its history),
    `steady`'s PUS doubles in PERIOD (a jump)."""

    spiky: Village
    steady: Village


async def flagged(pg: asyncpg.Connection) -> Flagged:
    spiky, steady, *_ = await villages(pg, 8)  # two changed of eight: the pass names them
    await spiky.history(STEADY)
    await spiky.kkbpk(0, users(KB_SUNTIK=100, KB_PIL=40))
    await upsert(spiky, "kkbpk", NEXT, users(KB_SUNTIK=160, KB_PIL=40))
    await steady.kependudukan(1, people(100))
    await steady.kependudukan(0, people(200))
    for period in COMPUTED:
        await rebuild_period(pg, period=period, rulesets=RULESETS)
    return Flagged(spiky, steady)


async def upsert(village: Village, module: str, period: dt.date, payload: dict[str, object]) -> None:
    await village.pg.execute(
        """INSERT INTO submission (kampung_id, module, period, payload, content_hash, revision)
           VALUES ($1, $2, $3, $4::jsonb, 'h', 1)
           ON CONFLICT (kampung_id, module, period)
           DO UPDATE SET payload = excluded.payload, revision = submission.revision + 1""",
        village.id,
        module,
        period,
        json.dumps(payload),
    )


async def refresh(pg: asyncpg.Connection, period: dt.date = PERIOD) -> None:
    await refresh_chain(pg, period=period, kabupaten_code=KABUPATEN, rulesets=RULESETS)


async def wanted(pg: asyncpg.Connection) -> set[Key]:
    return set(expected_flags(await oracle.read_rows(pg), COMPUTED))


async def set_aside(pg: asyncpg.Connection, kampung_id: int) -> str:
    """Mark the Kampung KB's flag checked with evidence a recomputation would not keep; its row version (xmin)."""
    return str(
        await pg.fetchval(
            """UPDATE quality_flag SET status = 'checked', checked_by = 'key:1',
                      evidence = evidence || '{"set_aside": true}'
                WHERE kampung_id = $1 RETURNING xmin::text""",
            kampung_id,
        )
    )


async def the_flag(pg: asyncpg.Connection, kampung_id: int) -> tuple[str, str, bool]:
    row = await pg.fetchrow(
        "SELECT xmin::text AS version, status, evidence ? 'set_aside' AS set_aside FROM quality_flag "
        "WHERE kampung_id = $1",
        kampung_id,
    )
    assert row is not None
    return row["version"], row["status"], row["set_aside"]


async def test_a_change_reflags_its_kampung_and_later_months_only(pg: asyncpg.Connection) -> None:
    kb = await flagged(pg)
    await refresh(pg)  # no cursor yet: the whole kabupaten, then the cursor
    assert await pg.fetchval("SELECT count(*) FROM quality_cursor WHERE kabupaten_code = $1", KABUPATEN) == 1
    flags = await stored_flags(pg)
    assert set(flags) == await wanted(pg)
    assert (kb.spiky.id, NEXT, "kkbpk_outlier", "KB_SUNTIK") in flags
    version = await set_aside(pg, kb.steady.id)

    # A correction of PERIOD: now it leaps there (flagged), and NEXT is no longer outside its history's min-max.
    await kb.spiky.kkbpk(0, users(KB_SUNTIK=160, KB_PIL=40))
    await refresh(pg)
    flags = await stored_flags(pg)
    assert (kb.spiky.id, PERIOD, "kkbpk_outlier", "KB_SUNTIK") in flags
    assert not [key for key in flags if key[0] == kb.spiky.id and key[1] == NEXT]
    assert set(flags) == await wanted(pg)
    # not recomputed: a whole-kabupaten pass would have reopened it with its evidence again
    assert await the_flag(pg, kb.steady.id) == (version, "checked", True)

    # A job of NEXT runs first: the pass still recomputes the changed Kampung KB from its changed month on.
    await kb.spiky.kkbpk(0, users(KB_SUNTIK=100, KB_PIL=40))
    await refresh(pg, NEXT)
    assert set(await stored_flags(pg)) == await wanted(pg)
    assert (kb.spiky.id, NEXT, "kkbpk_outlier", "KB_SUNTIK") in await stored_flags(pg)
    assert await the_flag(pg, kb.steady.id) == (version, "checked", True)


async def test_a_deactivation_drops_its_flags(pg: asyncpg.Connection) -> None:
    kb = await flagged(pg)
    await refresh(pg)
    version = await set_aside(pg, kb.steady.id)
    await pg.execute("UPDATE kampung SET active = false WHERE id = $1", kb.spiky.id)
    await refresh(pg)
    flags = await stored_flags(pg)
    assert not [key for key in flags if key[0] == kb.spiky.id]
    assert set(flags) == await wanted(pg)
    assert await the_flag(pg, kb.steady.id) == (version, "checked", True)
    await pg.execute("UPDATE kampung SET active = true WHERE id = $1", kb.spiky.id)  # back: flagged again
    await refresh(pg)
    assert (kb.spiky.id, NEXT, "kkbpk_outlier", "KB_SUNTIK") in await stored_flags(pg)


async def test_a_change_committed_after_the_pass_began_is_flagged_by_the_next(
    pg: asyncpg.Connection, fresh_database_url: str
) -> None:
    kb = await flagged(pg)
    await refresh(pg)
    late = await asyncpg.connect(fresh_database_url)
    try:
        async with late.transaction():
            # begun (its id taken) before the pass, committed after it
            await upsert(Village(late, kb.spiky.id), "kkbpk", PERIOD, users(KB_SUNTIK=160, KB_PIL=40))
            await kb.steady.kependudukan(0, people(100))  # committed meanwhile: no jump any more
            await refresh(pg)
            flags = await stored_flags(pg)
            assert not [key for key in flags if key[0] == kb.steady.id]
            assert (kb.spiky.id, PERIOD, "kkbpk_outlier", "KB_SUNTIK") not in flags
            txid = await late.fetchval("SELECT pg_current_xact_id()::text::bigint")
            cursor = await pg.fetchrow("SELECT txid, id FROM quality_cursor WHERE kabupaten_code = $1", KABUPATEN)
            assert (cursor["txid"], cursor["id"]) <= (txid, 0)  # held back before the open transaction's rows
        await refresh(pg)
    finally:
        await late.close()
    flags = await stored_flags(pg)
    assert (kb.spiky.id, PERIOD, "kkbpk_outlier", "KB_SUNTIK") in flags
    assert set(flags) == await wanted(pg)


async def test_no_cursor_takes_each_period_from_the_last_pass_over_the_nation(pg: asyncpg.Connection) -> None:
    kb = await flagged(pg)  # both periods rebuilt: their passes over the nation are where the kabupaten starts
    assert await pg.fetchval("SELECT count(*) FROM quality_period_cursor WHERE period = ANY($1::date[])", COMPUTED) == 2
    version = await set_aside(pg, kb.steady.id)
    await kb.spiky.kkbpk(0, users(KB_SUNTIK=160, KB_PIL=40))  # after the passes: a leap in PERIOD, none in NEXT
    await refresh(pg, NEXT)  # no cursor: only what changed since each period's pass, from the months it moves
    flags = await stored_flags(pg)
    assert (kb.spiky.id, PERIOD, "kkbpk_outlier", "KB_SUNTIK") in flags
    assert not [key for key in flags if key[0] == kb.spiky.id and key[1] == NEXT]
    assert set(flags) == await wanted(pg)
    assert await the_flag(pg, kb.steady.id) == (version, "checked", True)
    assert await pg.fetchval("SELECT count(*) FROM quality_cursor WHERE kabupaten_code = $1", KABUPATEN) == 1


async def test_a_change_to_a_later_month_leaves_the_earlier_passes_alone(pg: asyncpg.Connection) -> None:
    kb = await flagged(pg)
    version = await set_aside(pg, kb.steady.id)  # its jump is in PERIOD
    await upsert(kb.steady, "kependudukan", NEXT, people(400))  # a month after it: PERIOD's flags cannot move
    await refresh(pg, NEXT)
    assert await the_flag(pg, kb.steady.id) == (version, "checked", True)
    assert (kb.steady.id, NEXT, "jump", "pus") in await stored_flags(pg)
    assert set(await stored_flags(pg)) == await wanted(pg)


async def test_a_period_no_pass_covered_is_recomputed_whole(pg: asyncpg.Connection) -> None:
    kb = await flagged(pg)
    await set_aside(pg, kb.spiky.id)  # its outlier is in NEXT
    version = await set_aside(pg, kb.steady.id)  # its jump in PERIOD
    await pg.execute("DELETE FROM quality_period_cursor WHERE period = $1", NEXT)
    await refresh(pg)
    assert (await the_flag(pg, kb.spiky.id))[1:] == ("open", False)
    assert await the_flag(pg, kb.steady.id) == (version, "checked", True)
    assert set(await stored_flags(pg)) == await wanted(pg)


async def test_no_cursor_or_one_behind_the_pruned_feed_recomputes_the_whole_kabupaten(pg: asyncpg.Connection) -> None:
    kb = await flagged(pg)
    await pg.execute("DELETE FROM quality_period_cursor")  # as before any pass over the nation
    await set_aside(pg, kb.steady.id)
    await refresh(pg, NEXT)  # no cursor: every computed period recomputed, the job's and those before it
    assert (await the_flag(pg, kb.steady.id))[1:] == ("open", False)

    version = await set_aside(pg, kb.steady.id)
    await refresh(pg)  # nothing changed: left alone
    assert await the_flag(pg, kb.steady.id) == (version, "checked", True)

    # The feed pruned past the cursor and the periods' passes: what changed before the horizon is unknown.
    await pg.execute(
        """INSERT INTO quality_period_cursor (period, txid, id)
           SELECT unnest($1::date[]), txid, id FROM quality_cursor WHERE kabupaten_code = $2""",
        COMPUTED,
        KABUPATEN,
    )
    await pg.execute(
        """INSERT INTO change_log_horizon (single, txid, id)
           SELECT true, txid, id FROM quality_cursor WHERE kabupaten_code = $1""",
        KABUPATEN,
    )
    await pg.execute("UPDATE change_log_horizon SET id = id + 1")
    await refresh(pg, NEXT)
    assert (await the_flag(pg, kb.steady.id))[1:] == ("open", False)
    assert set(await stored_flags(pg)) == await wanted(pg)


async def test_most_of_a_kabupaten_changed_is_recomputed_whole(pg: asyncpg.Connection) -> None:
    kb = await flagged(pg)
    await refresh(pg)
    version = await set_aside(pg, kb.steady.id)
    others = await pg.fetch("SELECT id FROM kampung WHERE id <> ALL($1::bigint[])", [kb.spiky.id, kb.steady.id])
    for row in others[:2]:  # two of eight: the pass names them
        await upsert(Village(pg, row["id"]), "kependudukan", PERIOD, people(300))
    await refresh(pg)
    assert await the_flag(pg, kb.steady.id) == (version, "checked", True)
    for row in others[2:]:  # as after an import: the kabupaten's own statement, every flag recomputed
        await upsert(Village(pg, row["id"]), "kependudukan", PERIOD, people(300))
    await refresh(pg)
    assert (await the_flag(pg, kb.steady.id))[1:] == ("open", False)
    assert set(await stored_flags(pg)) == await wanted(pg)


async def test_a_period_position_only_moves_on(pg: asyncpg.Connection) -> None:
    await flagged(pg)
    rows = await pg.fetch("SELECT period, txid, id FROM quality_period_cursor ORDER BY period")
    assert [row["period"] for row in rows] == COMPUTED
    current = await pg.fetchval("SELECT pg_current_xact_id()::text::bigint")
    assert all(0 < row["txid"] <= current for row in rows)  # at most the pass's snapshot horizon
    await pg.execute("UPDATE quality_period_cursor SET txid = $1 WHERE period = $2", current + 1000, PERIOD)
    await rebuild_period(pg, period=PERIOD, rulesets=RULESETS, onward=True)  # a pass that began before that one
    moved = {row["period"]: row["txid"] for row in await pg.fetch("SELECT period, txid FROM quality_period_cursor")}
    assert moved[PERIOD] == current + 1000
    assert moved[NEXT] > rows[1]["txid"]


async def test_a_queued_rebuild_reflags_only_the_kampung_changed_since_each_period_s_pass(
    pg: asyncpg.Connection,
) -> None:
    kb = await flagged(pg)  # both periods passed over the nation
    version = await set_aside(pg, kb.steady.id)
    passed = await pg.fetchval("SELECT max(txid) FROM quality_period_cursor")
    await kb.spiky.kkbpk(0, users(KB_SUNTIK=160, KB_PIL=40))  # a back-dated correction of PERIOD

    await rebuild_period(pg, period=PERIOD, rulesets=RULESETS, through=NEXT, reconcile_flags=False)
    flags = await stored_flags(pg)
    assert (kb.spiky.id, PERIOD, "kkbpk_outlier", "KB_SUNTIK") in flags
    assert not [key for key in flags if key[0] == kb.spiky.id and key[1] == NEXT]
    assert set(flags) == await wanted(pg)
    assert await the_flag(pg, kb.steady.id) == (version, "checked", True)  # not recomputed
    positions = await pg.fetch("SELECT txid FROM quality_period_cursor")
    assert len(positions) == 2 and all(row["txid"] > passed for row in positions)

    # A rebuild asked to reconcile every Kampung KB's flags raises the one set aside again as computed.
    await rebuild_period(pg, period=PERIOD, rulesets=RULESETS, through=NEXT)
    assert (await the_flag(pg, kb.steady.id))[1:] == ("open", False)
    assert set(await stored_flags(pg)) == await wanted(pg)


async def passed_under(pg: asyncpg.Connection) -> set[str | None]:
    return {row["rules"] for row in await pg.fetch("SELECT rules FROM quality_period_cursor")}


async def test_a_rebuild_under_the_rules_of_the_last_pass_leaves_unchanged_kampung_as_they_are(
    pg: asyncpg.Connection,
) -> None:
    """The nightly rebuild's case: nothing changed since the last pass, and the rules are the same."""
    kb = await flagged(pg)
    assert await passed_under(pg) == {rules_key(DEFAULT_QUALITY)}
    version = await set_aside(pg, kb.steady.id)
    await rebuild_period(pg, period=PERIOD, rulesets=RULESETS, through=NEXT, reconcile_flags=False)
    assert await the_flag(pg, kb.steady.id) == (version, "checked", True)


async def test_a_rebuild_under_other_rules_flags_every_kampung_again(pg: asyncpg.Connection) -> None:
    """Other thresholds (or a release that flags differently) reach every flag at the next rebuild, the nightly one
    included, though no Kampung KB changed."""
    kb = await flagged(pg)
    await set_aside(pg, kb.steady.id)
    stricter = QualityRules(outlier_z=3.0)
    assert rules_key(stricter) != rules_key(DEFAULT_QUALITY)
    await rebuild_period(pg, period=PERIOD, rulesets=RULESETS, through=NEXT, quality=stricter, reconcile_flags=False)
    assert (await the_flag(pg, kb.steady.id))[1:] == ("open", False)
    assert await passed_under(pg) == {rules_key(stricter)}
    # The next one under the same rules is incremental again.
    version = await set_aside(pg, kb.steady.id)
    await rebuild_period(pg, period=PERIOD, rulesets=RULESETS, through=NEXT, quality=stricter, reconcile_flags=False)
    assert await the_flag(pg, kb.steady.id) == (version, "checked", True)


async def test_a_position_whose_rules_are_not_known_is_passed_whole(pg: asyncpg.Connection) -> None:
    """A position written before the rules were kept (migration 0035) says nothing of the flags' rules."""
    kb = await flagged(pg)
    await pg.execute("UPDATE quality_period_cursor SET rules = NULL")
    await set_aside(pg, kb.steady.id)
    await rebuild_period(pg, period=PERIOD, rulesets=RULESETS, through=NEXT, reconcile_flags=False)
    assert (await the_flag(pg, kb.steady.id))[1:] == ("open", False)
    assert set(await stored_flags(pg)) == await wanted(pg)
    assert await passed_under(pg) == {rules_key(DEFAULT_QUALITY)}


async def test_a_kabupaten_without_a_cursor_takes_no_pass_under_other_rules(pg: asyncpg.Connection) -> None:
    """A kabupaten's first pass builds on the nation's only where that pass flagged by the same rules."""
    kb = await flagged(pg)
    await pg.execute("UPDATE quality_period_cursor SET rules = 'other'")
    await set_aside(pg, kb.steady.id)
    await refresh(pg)
    assert (await the_flag(pg, kb.steady.id))[1:] == ("open", False)
    assert set(await stored_flags(pg)) == await wanted(pg)


async def test_a_queued_rebuild_of_a_period_no_pass_covered_flags_it_whole(pg: asyncpg.Connection) -> None:
    spiky, steady, *_ = await villages(pg, 4)
    await spiky.history(STEADY)
    await spiky.kkbpk(0, users(KB_SUNTIK=160, KB_PIL=40))
    await steady.kependudukan(1, people(100))
    await steady.kependudukan(0, people(200))
    await rebuild_period(pg, period=PERIOD, rulesets=RULESETS, reconcile_flags=False)
    flags = await stored_flags(pg)
    assert {key[0] for key in flags} == {spiky.id, steady.id}
    assert set(flags) == set(expected_flags(await oracle.read_rows(pg), [PERIOD]))
    assert await pg.fetchval("SELECT count(*) FROM quality_period_cursor WHERE period = $1", PERIOD) == 1
