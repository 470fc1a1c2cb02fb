"""Recompute aggregates in one transaction: a whole period, or one kabupaten's chain up to the nation.

Chain refreshes of different kabupaten run in parallel; a provinsi is always summed from committed, current kabupaten
rows and the nation from the provinsi rows so made, whichever jobs run at the same time (see the locks below). Both
are safe to run twice. Each is followed by its data-quality pass (`report_worker.quality`), in a transaction of its
own.
"""

import datetime as dt
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg

from kampungkb_shared.periods import add_months
from kampungkb_shared.statistics import analyze_stale
from kampungkb_shared.timeliness import deadline as default_deadline
from report_worker import sql
from report_worker.apart import JOB_SETTINGS, Apart
from report_worker.quality import QualityRules, flag_changed_everywhere, flag_changes, flag_quality

DEFAULT_QUALITY = QualityRules()

# What the aggregates read: after a bulk import their statistics lag, and the national statement's plan with them.
_SOURCES = ("kampung", "submission", "classification", "kegiatan")

# Advisory locks, always taken in this order, held to commit:
#   kabupaten (exclusive): one job at a time writes a kabupaten's rows;
#   all (shared by chain refreshes, exclusive by rebuilds): a rebuild replaces every row of a period alone;
#   roll-up (exclusive, only around the provinsi/nation sums): each roll-up reads every kabupaten (and provinsi) row
#   committed before it, so whichever chain commits last leaves the sums complete.
_LOCK_KABUPATEN = "SELECT pg_advisory_xact_lock(hashtext('kampungkb:report:kabupaten:' || $1::text))"
_LOCK_ALL_SHARED = "SELECT pg_advisory_xact_lock_shared(hashtext('kampungkb:report:all'))"
_LOCK_ALL = "SELECT pg_advisory_xact_lock(hashtext('kampungkb:report:all'))"
_LOCK_QUALITY_KABUPATEN = "SELECT pg_advisory_xact_lock(hashtext('kampungkb:quality:kabupaten:' || $1::text))"
_LOCK_QUALITY_ALL_SHARED = "SELECT pg_advisory_xact_lock_shared(hashtext('kampungkb:quality:all'))"
_LOCK_QUALITY_ALL = "SELECT pg_advisory_xact_lock(hashtext('kampungkb:quality:all'))"
_LOCK_ROLLUP = "SELECT pg_advisory_xact_lock(hashtext('kampungkb:report:rollup'))"


Deadline = Callable[[dt.date], dt.datetime]
"""A period's reporting deadline (`kampungkb_shared.timeliness.DeadlineSettings.deadline`)."""


@dataclass(frozen=True)
class Outcome:
    """What a job wrote: periods rebuilt whole, periods whose chain was refreshed, aggregate rows inserted, and
    data-quality flags raised or reopened."""

    rebuilt: list[dt.date]
    refreshed: list[dt.date]
    rows: int
    flags: int = 0


async def _rebuild(
    connection: asyncpg.Connection,
    *,
    period: dt.date,
    rulesets: list[str],
    deadline: Deadline,
    apart: Apart | None = None,
) -> int:
    if apart is None or apart.connections < 2:
        await connection.execute(sql.DELETE_PERIOD, [period], rulesets)
        rows = sql.rows_written(
            await connection.execute(sql.INSERT_ALL_LEVELS, [period], None, rulesets, [deadline(period)])
        )
    else:
        rows = await _rebuild_apart(connection, apart, period=period, rulesets=rulesets, deadline=deadline)
    await connection.execute(sql.MARK_REBUILT, [period], rulesets)
    return rows


async def _rebuild_apart(
    connection: asyncpg.Connection, apart: Apart, *, period: dt.date, rulesets: list[str], deadline: Deadline
) -> int:
    """`_rebuild`'s rows in shares of the provinsi, each committed on its own connection while `connection` holds the
    rebuild's lock (chain refreshes wait for it), then the nation summed from them. Should a share fail, the others'
    rows stay, each region's figures correct, and the period is not marked rebuilt: the job fails and runs again."""

    async def rebuild_share(helper: asyncpg.Connection, provinsi: list[str]) -> int:
        await helper.execute(sql.DELETE_PROVINSI_LEVELS, [period], provinsi, rulesets)
        return sql.rows_written(
            await helper.execute(sql.INSERT_PROVINSI_LEVELS, [period], provinsi, rulesets, [deadline(period)])
        )

    everywhere, rows = await apart.each(connection, rebuild_share)
    await connection.execute(sql.DELETE_OUTSIDE, [period], rulesets, everywhere)
    return rows + sql.rows_written(await connection.execute(sql.UPSERT_NATION, [period], rulesets))


@asynccontextmanager
async def _quality_pass(connection: asyncpg.Connection, *, kabupaten_code: str | None) -> AsyncIterator[None]:
    """A data-quality pass's transaction, its own once the figures have committed: a report is fresh without waiting
    for its flags. Its locks keep two passes over the same Kampung KB apart (the nation's alone, a kabupaten's beside
    other kabupaten's)."""
    async with connection.transaction():
        if kabupaten_code is None:
            await connection.execute(_LOCK_QUALITY_ALL)
        else:
            await connection.execute(_LOCK_QUALITY_ALL_SHARED)
            await connection.execute(_LOCK_QUALITY_KABUPATEN, kabupaten_code)
        await connection.execute(JOB_SETTINGS)
        yield


async def _flag_periods(
    connection: asyncpg.Connection,
    *,
    periods: list[dt.date],
    rules: QualityRules | None,
    apart: Apart | None = None,
    reconcile: bool = True,
) -> int:
    """The data-quality flags of the periods, everywhere (`apart`: in shares of the provinsi side by side): of every
    Kampung KB, or without `reconcile` of those changed since each period's last pass (`flag_changed_everywhere`)."""
    if rules is None or not periods:  # None: the pass is turned off (WORKER_QUALITY_FLAGS=false)
        return 0
    flag = flag_quality if reconcile else flag_changed_everywhere
    async with _quality_pass(connection, kabupaten_code=None):
        return await flag(connection, periods=periods, rules=rules, apart=apart)


async def _flag_changes(
    connection: asyncpg.Connection, *, kabupaten_code: str, rulesets: list[str], rules: QualityRules | None
) -> int:
    """The data-quality flags of the kabupaten's Kampung KB changed since its last pass, in the computed periods."""
    if rules is None:
        return 0
    async with _quality_pass(connection, kabupaten_code=kabupaten_code):

        async def computed_since(period: dt.date) -> list[dt.date]:
            return await _computed(connection, period=period, rulesets=rulesets)

        return await flag_changes(connection, kabupaten_code=kabupaten_code, computed_since=computed_since, rules=rules)


async def _computed(connection: asyncpg.Connection, *, period: dt.date, rulesets: list[str]) -> list[dt.date]:
    return [row["period"] for row in await connection.fetch(sql.COMPUTED_PERIODS, period, rulesets)]


async def rebuild_period(
    connection: asyncpg.Connection,
    *,
    period: dt.date,
    rulesets: list[str],
    through: dt.date | None = None,
    onward: bool = False,
    deadline: Deadline = default_deadline,
    quality: QualityRules | None = DEFAULT_QUALITY,
    apart: Apart | None = None,
    reconcile_flags: bool = True,
) -> Outcome:
    """Every region's rows of one period, from base data, in one statement (grouping sets), or (`apart`) in shares of
    the provinsi side by side; then those of every computed later period up to `through`, or (`onward`, without
    `through`) every one, each in a transaction of its own (so that the chain refreshes waiting for one period do not
    wait for the rest); then their flags: every Kampung KB's, or without `reconcile_flags` (a rebuild a change
    queued) those of the Kampung KB changed since each period's last pass over the nation."""
    await analyze_stale(connection, _SOURCES)
    rebuilt, rows = [period], 0
    if onward or (through is not None and through > period):  # one period alone reads no list of computed ones
        later = await _computed(connection, period=add_months(period, 1), rulesets=rulesets)
        rebuilt += [p for p in later if through is None or p <= through]
    for month in rebuilt:
        async with connection.transaction():
            await connection.execute(_LOCK_ALL)
            await connection.execute(JOB_SETTINGS)
            rows += await _rebuild(connection, period=month, rulesets=rulesets, deadline=deadline, apart=apart)
    flags = await _flag_periods(connection, periods=rebuilt, rules=quality, apart=apart, reconcile=reconcile_flags)
    return Outcome(rebuilt=rebuilt, refreshed=[], rows=rows, flags=flags)


async def refresh_chain(
    connection: asyncpg.Connection,
    *,
    period: dt.date,
    kabupaten_code: str,
    rulesets: list[str],
    through: dt.date | None = None,
    deadline: Deadline = default_deadline,
    quality: QualityRules | None = DEFAULT_QUALITY,
) -> Outcome:
    """One kabupaten, its kecamatan, its provinsi and the nation, for the period and every computed later one up to
    `through` (every one without it); then the data-quality flags of the kabupaten's Kampung KB changed since its
    last pass (`quality.flag_changes`).

    Later periods are included because a back-dated submission stays in force after its own month; the writer bounds
    them by `through` where it knows where its change stops moving a report (`registry_api.changes.pipeline`). A
    period never rebuilt has no kabupaten rows to sum, so it is rebuilt whole instead, with every kabupaten's flags.
    """

    async def computed_periods() -> list[dt.date]:
        periods = await _computed(connection, period=period, rulesets=rulesets)
        return periods if through is None else [p for p in periods if p <= through]

    await analyze_stale(connection, _SOURCES)
    async with connection.transaction():
        await connection.execute(_LOCK_KABUPATEN, kabupaten_code)
        computed = await computed_periods()
        # A rebuild needs the period to itself; checked again once alone, as another job may have done it.
        await connection.execute(_LOCK_ALL_SHARED if period in computed else _LOCK_ALL)
        await connection.execute(JOB_SETTINGS)
        rebuilt, rows = [], 0
        if period not in computed:
            computed = await computed_periods()
        if period not in computed:
            rows += await _rebuild(connection, period=period, rulesets=rulesets, deadline=deadline)
            rebuilt.append(period)
        if computed:
            await connection.execute(sql.DELETE_CHAIN, computed, kabupaten_code, rulesets)
            deadlines = [deadline(p) for p in computed]
            rows += sql.rows_written(
                await connection.execute(sql.INSERT_CHAIN, computed, kabupaten_code, rulesets, deadlines)
            )
            await connection.execute(_LOCK_ROLLUP)
            provinsi = kabupaten_code[:2]
            rows += sql.rows_written(await connection.execute(sql.UPSERT_PROVINSI, computed, rulesets, provinsi))
            rows += sql.rows_written(await connection.execute(sql.UPSERT_NATION, computed, rulesets))
            await connection.execute(sql.MARK_REFRESHED, computed, rulesets)
    flags = await _flag_periods(connection, periods=rebuilt, rules=quality)
    flags += await _flag_changes(connection, kabupaten_code=kabupaten_code, rulesets=rulesets, rules=quality)
    return Outcome(rebuilt=rebuilt, refreshed=computed, rows=rows, flags=flags)
