"""On-time, late and missing counts per module against the oracle, around the deadline day."""

import datetime as dt
import functools
from typing import Any

import asyncpg

from kampungkb_shared.timeliness import DeadlineSettings, deadline
from report_worker import jobs
from report_worker.aggregates import rebuild_period, refresh_chain
from report_worker.settings import Settings
from tests.report_worker import oracle
from tests.report_worker.data import PERIODS, RULESETS, WIB, Dataset, upsert_submission
from tests.report_worker.test_aggregates import assert_same, stored

KKBPK = {"poktan_participants": {}, "kb_users": {"KB_PIL": 3}, "non_users": {}}


def test_the_deadline_is_the_end_of_the_day_in_wib() -> None:
    assert deadline(dt.date(2025, 1, 1)) == dt.datetime(2025, 2, 10, 17, tzinfo=dt.UTC)
    assert deadline(dt.date(2025, 12, 1), day=5, time_zone="UTC") == dt.datetime(2026, 1, 6, tzinfo=dt.UTC)
    settings = DeadlineSettings.model_validate({"REPORTING_DEADLINE_DAY": 3, "REPORTING_TIME_ZONE": "Asia/Jayapura"})
    assert settings.deadline(dt.date(2025, 3, 1)) == dt.datetime(2025, 4, 3, 15, tzinfo=dt.UTC)


async def test_counts_match_the_oracle_around_the_deadline(pg: asyncpg.Connection, dataset: Dataset) -> None:
    for period in PERIODS:
        await rebuild_period(pg, period=period, rulesets=RULESETS)
    rows = await oracle.read_rows(pg)
    assert_same(await stored(pg), oracle.expected(rows, PERIODS, RULESETS))
    # the data hold submissions on both sides of the deadline's last microsecond, and corrections written later
    last_moment = [s for s in rows.submissions if s["first_at"] == oracle.deadline(s["period"]) - dt.timedelta(0, 0, 1)]
    first_late = [s for s in rows.submissions if s["first_at"] == oracle.deadline(s["period"])]
    assert last_moment and first_late
    corrected = [s for s in rows.submissions if s["submitted_at"] > s["first_at"]]
    assert any(s["first_at"] < oracle.deadline(s["period"]) <= s["submitted_at"] for s in corrected)
    nation = oracle.figures_of(rows, "00", PERIODS[2], RULESETS[0])
    for module in oracle.TIMELY:
        on_time, late = nation[f"{module}_on_time"], nation[f"{module}_late"]
        assert on_time > 0 and late > 0 and on_time + late < nation["kampung_total"], module


async def test_a_later_deadline_day_moves_the_counts(pg: asyncpg.Connection, dataset: Dataset) -> None:
    later = functools.partial(deadline, day=20)
    period = PERIODS[1]
    await rebuild_period(pg, period=period, rulesets=RULESETS, deadline=later)
    rows = await oracle.read_rows(pg)
    got = await pg.fetchrow("SELECT * FROM report_aggregate WHERE period = $1 AND code = '00'", period)
    assert got is not None
    for module in oracle.TIMELY:
        statuses = [oracle.timeliness(rows, k["id"], module, period, day=20) for k in oracle.counted(rows, period)]
        assert (got[f"{module}_on_time"], got[f"{module}_late"]) == (statuses.count("on_time"), statuses.count("late"))
    default = oracle.figures_of(rows, "00", period, RULESETS[0])
    assert sum(got[f"{m}_on_time"] for m in oracle.TIMELY) > sum(default[f"{m}_on_time"] for m in oracle.TIMELY)


async def test_a_submission_a_microsecond_late_is_late(pg: asyncpg.Connection, dataset: Dataset) -> None:
    period = PERIODS[3]
    for p in PERIODS:
        await rebuild_period(pg, period=p, rulesets=RULESETS)
    kab = "98.71"
    ids = [
        r["id"]
        for r in await pg.fetch(
            """SELECT k.id FROM kampung k WHERE k.kabupaten_code = $1 AND k.active AND k.formed_on < '2024-01-01'
                AND NOT EXISTS (SELECT FROM submission s WHERE s.kampung_id = k.id AND s.module = 'kkbpk'
                                AND s.period = $2) ORDER BY k.id LIMIT 2""",
            kab,
            period,
        )
    ]
    assert len(ids) == 2
    before = await pg.fetchrow(
        "SELECT * FROM report_aggregate WHERE period = $1 AND ruleset = $2 AND code = $3", period, RULESETS[0], kab
    )
    assert before is not None
    end_of_tenth = dt.datetime(2025, 5, 10, 23, 59, 59, 999_999, tzinfo=WIB)
    await upsert_submission(pg, ids[0], "kkbpk", period, KKBPK, at=end_of_tenth)
    await upsert_submission(pg, ids[1], "kkbpk", period, KKBPK, at=end_of_tenth + dt.timedelta(microseconds=1))
    await refresh_chain(pg, period=period, kabupaten_code=kab, rulesets=RULESETS)
    after = await pg.fetchrow(
        "SELECT * FROM report_aggregate WHERE period = $1 AND ruleset = $2 AND code = $3", period, RULESETS[0], kab
    )
    assert after is not None
    assert after["kkbpk_on_time"] == before["kkbpk_on_time"] + 1
    assert after["kkbpk_late"] == before["kkbpk_late"] + 1
    assert_same(await stored(pg), oracle.expected(await oracle.read_rows(pg), PERIODS, RULESETS))


async def test_the_worker_counts_by_the_configured_deadline(pg: asyncpg.Connection, dataset: Dataset) -> None:
    class Pool:
        """The test's own connection, so that the job sees the test's rows."""

        def acquire(self) -> Any:
            class Acquired:
                async def __aenter__(self) -> asyncpg.Connection:
                    return pg

                async def __aexit__(self, *exc: object) -> None:
                    return None

            return Acquired()

    config = Settings(  # type: ignore[call-arg]
        DATABASE_URL="postgresql://unused",
        LOG_JSON=False,
        REPORTING_DEADLINE_DAY=20,
        REPORTING_TIME_ZONE="UTC",
        rebuild_connections=1,  # the rows are the test's transaction's: seen on its connection alone
    )
    period = PERIODS[4]
    await jobs.rebuild_whole_period({"pool": Pool(), "settings": config, "job_id": "j"}, {"period": "2025-05"})
    rows = await oracle.read_rows(pg)
    got = await pg.fetchrow("SELECT * FROM report_aggregate WHERE period = $1 AND code = '00'", period)
    assert got is not None
    utc_20th = dt.datetime(2025, 6, 21, tzinfo=dt.UTC)
    for module in oracle.TIMELY:
        firsts = [
            s["first_at"]
            for k in oracle.counted(rows, period)
            for s in rows.submissions
            if s["kampung_id"] == k["id"] and s["module"] == module and s["period"] == period
        ]
        assert (got[f"{module}_on_time"], got[f"{module}_late"]) == (
            sum(at < utc_20th for at in firsts),
            sum(at >= utc_20th for at in firsts),
        )
