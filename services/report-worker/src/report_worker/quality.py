"""Data-quality flags, raised after each refresh in a transaction of their own: a rebuild's over the Kampung KB of its
period changed since the period's last pass over the nation (`flag_changed_everywhere`), or over every one (a
period's first, one whose last pass was under other rules, `rules_key`, or a rebuild asked to reconcile them all); a
chain refresh's over the Kampung KB of its kabupaten changed since that kabupaten's last pass (read from the change
feed after the kabupaten's cursor, `quality_cursor`), each for the computed periods from its first changed one on (a
kkbpk is the history of the next 12 months' outliers, a kependudukan the base of the next jump).

Three kinds (`kampungkb_shared.quality.FlagKind`), each on the submission of exactly the period:
- *kkbpk outlier*: a method's users, or all users, against the same count in the Kampung KB's kkbpk of the 12 months
  before (at least `min_history` of them; read from `kkbpk_users`, their counts kept narrow beside them): modified
  z-score 0.6745 × (x − median) ÷ MAD over `outlier_z` in absolute value, and x outside the history's min-max, as
  DHIS2 does. MAD is taken as at least 1 (counts are whole people), so that a history that never moved does not flag
  a change of one or two.
- *jump*: the PUS, or the population (16 age groups × sex), against the kependudukan in force the month before
  (the newest earlier one): |x − previous| > `jump_share` × previous; from 0 to more than 0 is a jump.
- *implausible ratio*: one method only across `single_method_users` users or more; a CPR of 100 % (users, no
  non-users).

Flags are written set-based: raised ones inserted, ones no longer raised deleted, and one raised again with other
values reopened. The same values keep a checked flag checked, so a recomputation never reopens it.
One statement for every scope (nation, kabupaten, Kampung KB each from a period): only the condition differs.
"""

import datetime as dt
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import lru_cache

import asyncpg

from kampungkb_shared.codes import Contraception, NonUseReason
from kampungkb_shared.quality import CPR_100, FLAG_INPUTS, SINGLE_METHOD, TOTAL_USERS, FlagKind
from kampungkb_shared.statistics import analyze_stale
from report_worker.apart import Apart
from report_worker.sql import rows_written


@dataclass(frozen=True)
class QualityRules:
    """The thresholds of the flags (report-worker settings `WORKER_QUALITY_*`)."""

    min_history: int = 6
    outlier_z: float = 3.5
    jump_share: float = 0.5
    single_method_users: int = 100

    @property
    def thresholds(self) -> tuple[int, float, float, int]:
        """The four, in the order the flag statements take them ($3 to $6)."""
        return (self.min_history, self.outlier_z, self.jump_share, self.single_method_users)


_METHODS = [code.value for code in Contraception]
_SUBJECTS = [*_METHODS, TOTAL_USERS]
_USERS = ", ".join(f'"{code}" bigint' for code in _METHODS)
_NON_USERS = ", ".join(f'"{code.value}" bigint' for code in NonUseReason)


def _users(alias: str) -> str:
    """Each method's users of the kkbpk `alias` (a missing method counts as zero), and all of them as TOTAL."""
    methods = ", ".join(f'coalesce(u."{code}", 0) AS "{code}"' for code in _METHODS)
    total = " + ".join(f'coalesce(u."{code}", 0)' for code in _METHODS)
    return f"""SELECT {methods}, {total} AS "{TOTAL_USERS}"
                FROM jsonb_to_record({alias}.payload->'kb_users') AS u({_USERS})"""


def _stored_users(alias: str) -> str:
    """`_users` of a month before, read from its narrow row `alias` of `kkbpk_users` (the registry keeps it beside
    each stored kkbpk) rather than from the payload."""
    methods = ", ".join(f'{alias}.{code.lower()} AS "{code}"' for code in _METHODS)
    total = " + ".join(f"{alias}.{code.lower()}" for code in _METHODS)
    return f'SELECT {methods}, {total} AS "{TOTAL_USERS}"'


def _population(payload: str) -> str:
    # Most kependudukan carry no population: the sum's subquery runs only for those that do.
    return f"""CASE WHEN jsonb_typeof({payload}->'population') = 'object' THEN (SELECT sum(e::bigint)
                FROM jsonb_array_elements_text(
                   coalesce({payload}->'population'->'male', '[]') || coalesce({payload}->'population'->'female', '[]')
               ) AS e) END"""


_BOUNDS = ", ".join(f'min(x."{code}") AS "low_{code}", max(x."{code}") AS "high_{code}"' for code in _SUBJECTS)
_OUTSIDE = ", ".join(f'(\'{code}\', n."{code}", b."low_{code}", b."high_{code}")' for code in _SUBJECTS)
_SUBJECT_VALUE = "CASE c.subject " + " ".join(f"WHEN '{code}' THEN x.\"{code}\"" for code in _SUBJECTS) + " END"
_METHODS_USED = " + ".join(f'(n."{code}" > 0)::int' for code in _METHODS)
_ONLY_METHOD = "CASE " + " ".join(f"WHEN n.\"{code}\" > 0 THEN '{code}'" for code in _METHODS) + " END"
_NON_USERS_SUM = " + ".join(f'coalesce(r."{code.value}", 0)' for code in NonUseReason)


def _flag_quality(in_scope: str) -> str:
    """The statement, its scope written out: a generic plan of `$2 IS NULL OR ...` would read the whole nation.

    `in_scope` is a condition on `{row}` (a row with `kampung_id` and `period`) and `{place}` (one with
    `kabupaten_code`)."""
    return f"""
WITH periods AS (
    SELECT unnest($1::date[]) AS period
),
mine AS (
    -- submissions of exactly a period, of the active Kampung KB in scope
    SELECT k.id AS kampung_id, s.module, s.period, s.payload
      FROM periods p
      JOIN submission s ON s.period = p.period AND s.module IN ('kkbpk', 'kependudukan')
      JOIN kampung k ON k.id = s.kampung_id AND k.active
     WHERE {in_scope.format(row="s", place="k")}
),
users_now AS (
    SELECT c.kampung_id, c.period, x.*,
           (SELECT {_NON_USERS_SUM} FROM jsonb_to_record(c.payload->'non_users') AS r({_NON_USERS})) AS non_users
      FROM mine c CROSS JOIN LATERAL ({_users("c")}) x
     WHERE c.module = 'kkbpk'
),
bounds AS (
    -- the min-max of each count over the months before: only a value outside it can be an outlier
    SELECT n.kampung_id, n.period, count(*) AS months, {_BOUNDS}
      FROM users_now n
      JOIN kkbpk_users h ON h.kampung_id = n.kampung_id
                        AND h.period >= (n.period - interval '12 months')::date AND h.period < n.period
      CROSS JOIN LATERAL ({_stored_users("h")}) x
     GROUP BY n.kampung_id, n.period
    HAVING count(*) >= $3::int
),
candidates AS (
    SELECT n.kampung_id, n.period, v.subject, v.value
      FROM bounds b JOIN users_now n USING (kampung_id, period)
      CROSS JOIN LATERAL (VALUES {_OUTSIDE}) AS v(subject, value, low, high)
     WHERE v.value < v.low OR v.value > v.high
),
history AS (
    SELECT c.kampung_id, c.period, c.subject, h.period AS month, {_SUBJECT_VALUE} AS value
      FROM candidates c
      JOIN kkbpk_users h ON h.kampung_id = c.kampung_id
                        AND h.period >= (c.period - interval '12 months')::date AND h.period < c.period
      CROSS JOIN LATERAL ({_stored_users("h")}) x
),
centre AS (
    SELECT kampung_id, period, subject, percentile_cont(0.5) WITHIN GROUP (ORDER BY value) AS median,
           min(value) AS low, max(value) AS high,
           jsonb_agg(jsonb_build_object('period', to_char(month, 'YYYY-MM'), 'value', value) ORDER BY month) AS months
      FROM history GROUP BY kampung_id, period, subject
),
spread AS (
    SELECT h.kampung_id, h.period, h.subject,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY abs(h.value - m.median)) AS mad
      FROM history h JOIN centre m USING (kampung_id, period, subject)
     GROUP BY h.kampung_id, h.period, h.subject
),
outliers AS (
    SELECT c.kampung_id, c.period, '{FlagKind.KKBPK_OUTLIER.value}' AS kind, c.subject, c.value,
           jsonb_build_object('history', m.months, 'median', m.median, 'mad', d.mad, 'min', m.low, 'max', m.high,
                              'z', round(z.z::numeric, 2)) AS evidence
      FROM candidates c
      JOIN centre m USING (kampung_id, period, subject)
      JOIN spread d USING (kampung_id, period, subject)
      CROSS JOIN LATERAL (SELECT 0.6745 * (c.value - m.median) / greatest(d.mad, 1) AS z) z
     WHERE abs(z.z) > $4::float8
),
jumps AS (
    SELECT c.kampung_id, c.period, '{FlagKind.JUMP.value}' AS kind, v.subject, v.value,
           jsonb_build_object('previous', v.previous, 'previous_period', to_char(b.period, 'YYYY-MM'),
                              'change_pct', CASE WHEN v.previous > 0
                                            THEN round(100.0 * (v.value - v.previous) / v.previous, 2) END) AS evidence
      FROM mine c
      CROSS JOIN LATERAL (
            SELECT s.period, s.payload FROM submission s
             WHERE s.kampung_id = c.kampung_id AND s.module = 'kependudukan' AND s.period < c.period
             ORDER BY s.period DESC LIMIT 1
      ) b
      CROSS JOIN LATERAL (VALUES ('pus', (c.payload->>'pus')::bigint, (b.payload->>'pus')::bigint),
                                 ('population', {_population("c.payload")}, {_population("b.payload")})
      ) AS v(subject, value, previous)
     WHERE c.module = 'kependudukan' AND v.value IS NOT NULL AND v.previous IS NOT NULL
       AND CASE WHEN v.previous = 0 THEN v.value > 0 ELSE abs(v.value - v.previous) > $5::float8 * v.previous END
),
ratios AS (
    SELECT n.kampung_id, n.period, '{FlagKind.IMPLAUSIBLE_RATIO.value}' AS kind, r.subject, n."{TOTAL_USERS}" AS value,
           r.evidence
      FROM users_now n
      CROSS JOIN LATERAL (VALUES
            ('{SINGLE_METHOD}', {_METHODS_USED} = 1 AND n."{TOTAL_USERS}" >= $6::bigint,
             jsonb_build_object('method', {_ONLY_METHOD}, 'users', n."{TOTAL_USERS}")),
            ('{CPR_100}', n."{TOTAL_USERS}" > 0 AND n.non_users = 0,
             jsonb_build_object('users', n."{TOTAL_USERS}", 'non_users', n.non_users, 'cpr_pct', 100))
      ) AS r(subject, raised, evidence)
     WHERE r.raised
),
raised AS (
    SELECT f.*, k.desa_code, k.kabupaten_code
      FROM (SELECT * FROM outliers UNION ALL SELECT * FROM jumps UNION ALL SELECT * FROM ratios) f
      JOIN kampung k ON k.id = f.kampung_id
),
gone AS (
    DELETE FROM quality_flag q
     WHERE q.period = ANY($1::date[]) AND {in_scope.format(row="q", place="q")}
       AND NOT EXISTS (SELECT FROM raised r WHERE r.kampung_id = q.kampung_id AND r.period = q.period
                                              AND r.kind = q.kind AND r.subject = q.subject)
)
INSERT INTO quality_flag (kampung_id, desa_code, kabupaten_code, period, kind, subject, value, evidence)
SELECT kampung_id, desa_code, kabupaten_code, period, kind, subject, value, evidence FROM raised
ON CONFLICT (kampung_id, period, kind, subject) DO UPDATE
   SET value = excluded.value, evidence = excluded.evidence, status = 'open', raised_at = now(),
       checked_by = NULL, checked_at = NULL, note = NULL
 WHERE quality_flag.value <> excluded.value OR quality_flag.evidence <> excluded.evidence"""


FLAG_QUALITY_NATION = _flag_quality("$2::text IS NULL")
"""$1 periods, $2 NULL, $3 min history, $4 z threshold, $5 jump share, $6 single-method users."""
FLAG_QUALITY_KABUPATEN = _flag_quality("{place}.kabupaten_code = $2::text")
"""The same, in the kabupaten $2."""
FLAG_QUALITY_PROVINSI = _flag_quality("left({place}.kabupaten_code, 2) = ANY($2::text[])")
"""The same, in the provinsi $2 (text[]): one share of a pass over the nation (`report_worker.apart`)."""
FLAG_QUALITY_KAMPUNG = _flag_quality(
    """{row}.kampung_id = ANY($2::bigint[])
       AND EXISTS (SELECT FROM unnest($2::bigint[], $7::date[]) AS c(kampung_id, since)
                    WHERE c.kampung_id = {row}.kampung_id AND c.since <= {row}.period)"""
)
"""The same, for the Kampung KB $2, each from its period in $7 on."""


@lru_cache
def rules_key(rules: QualityRules) -> str:
    """What a pass flagged by: its thresholds and the statement that applies them. A period whose last pass over the
    nation was under another key (another threshold, or a release that flags differently) is passed whole again."""
    return hashlib.sha256(f"{rules.thresholds!r}\x1f{FLAG_QUALITY_NATION}".encode()).hexdigest()[:32]


# Where a kabupaten's pass starts: its cursor, the feed's pruned horizon, and the snapshot's horizon (every transaction
# below it has ended, so every row below it is final), read before the changes so that none below it can be missed;
# and how many Kampung KB the kabupaten has.
_HORIZON = "pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
"""The snapshot's horizon: every transaction below it has ended."""
_START = f"""
SELECT {_HORIZON} AS xmin, c.txid, c.id,
       h.txid AS horizon_txid, h.id AS horizon_id,
       (SELECT count(*) FROM kampung k WHERE k.kabupaten_code = $1) AS kampung
  FROM (SELECT) AS one
  LEFT JOIN quality_cursor c ON c.kabupaten_code = $1
  LEFT JOIN change_log_horizon h ON true"""
# Where a queued rebuild's pass over the nation starts, as `_START` for a kabupaten: the snapshot's horizon, the
# feed's pruned horizon and how many Kampung KB the nation has.
_NATION_START = f"""
SELECT {_HORIZON} AS xmin, h.txid AS horizon_txid, h.id AS horizon_id, (SELECT count(*) FROM kampung) AS kampung
  FROM (SELECT) AS one
  LEFT JOIN change_log_horizon h ON true"""
# The Kampung KB of a kabupaten whose flags may have moved since a position (`FLAG_INPUTS`, by the feed's partial
# index), each from its earliest changed period.
_CHANGED = f"""
SELECT kampung_id, min(coalesce(period, '-infinity')) AS since
  FROM change_log
 WHERE left(desa_code, 5) = $3 AND (txid, id) > ($1, $2) AND ({FLAG_INPUTS})
 GROUP BY kampung_id"""
_MOVE_CURSOR = """
INSERT INTO quality_cursor (kabupaten_code, txid, id) VALUES ($1, $2, $3)
    ON CONFLICT (kabupaten_code) DO UPDATE SET txid = excluded.txid, id = excluded.id, passed_at = now()"""

# A pass over the nation leaves each of its periods current up to the snapshot's horizon, read before its statement,
# under its rules ($3, `rules_key`); a period's position only moves on (an older pass committing late leaves a newer
# one's).
_PERIODS_PASSED = """
INSERT INTO quality_period_cursor (period, txid, id, rules) SELECT unnest($1::date[]), $2, 0, $3
    ON CONFLICT (period) DO UPDATE SET txid = excluded.txid, id = excluded.id, rules = excluded.rules, passed_at = now()
 WHERE (quality_period_cursor.txid, quality_period_cursor.id) < (excluded.txid, excluded.id)"""
_PERIOD_POSITIONS = "SELECT period, txid, id, rules FROM quality_period_cursor WHERE period = ANY($1::date[])"


def _changed_since_passes(in_scope: str) -> str:
    """The Kampung KB in scope (`in_scope`, a condition on the feed's row `c`) whose flags may have moved since the
    passes of the periods ($3, each passed at ($4, $5)), each from the first of those periods one of its changes
    moves: a change of a month moves that month and every later one, a change with no period (a Kampung KB updated
    or deactivated) every one; read from the earliest position ($1, $2) on."""
    return f"""
SELECT c.kampung_id, min(p.period) AS since
  FROM change_log c
 CROSS JOIN LATERAL (SELECT min(p.period) AS period
                       FROM unnest($3::date[], $4::bigint[], $5::bigint[]) AS p(period, txid, id)
                      WHERE p.period >= coalesce(c.period, '-infinity') AND (c.txid, c.id) > (p.txid, p.id)) p
 WHERE {in_scope} AND (c.txid, c.id) > ($1, $2) AND ({FLAG_INPUTS}) AND p.period IS NOT NULL
 GROUP BY c.kampung_id"""


_CHANGED_SINCE_PASSES = _changed_since_passes("left(c.desa_code, 5) = $6")
"""In the kabupaten $6 (by the feed's index of it)."""
_CHANGED_SINCE_PASSES_EVERYWHERE = _changed_since_passes("true")

# Past a third of a kabupaten's Kampung KB changed, its own statement is cheaper than the list of them (a list of
# every one cost 2-2.5 times the kabupaten's statement in bench_reports), and leaves the unchanged flags as they are.
_CATCH_UP = 3

Position = tuple[int, int]


async def flag_quality(
    connection: asyncpg.Connection,
    *,
    periods: list[dt.date],
    rules: QualityRules,
    kabupaten_code: str | None = None,
    since: dict[int, dt.date] | None = None,
    apart: Apart | None = None,
) -> int:
    """Raise, keep, reopen or drop the flags of the periods: in one kabupaten, of the Kampung KB of `since` each from
    its period on, or everywhere (`apart`: in shares of the provinsi side by side, under the caller's lock), which
    leaves each period's position in the feed (`quality_period_cursor`) for the kabupaten with no cursor of their own
    (`flag_changes`); rows written."""
    thresholds = rules.thresholds
    if since is not None:
        ids = list(since)
        status = await connection.execute(FLAG_QUALITY_KAMPUNG, periods, ids, *thresholds, [since[i] for i in ids])
    else:
        # After a bulk write the narrow history may not be analysed yet; on statistics that hold none of it the planner
        # joins the outliers' steps by nested loops, seconds for a nation with history.
        await analyze_stale(connection, ["kkbpk_users"])
        if kabupaten_code is not None:
            status = await connection.execute(FLAG_QUALITY_KABUPATEN, periods, kabupaten_code, *thresholds)
        else:
            horizon = await connection.fetchval(f"SELECT {_HORIZON}")
            if apart is None or apart.connections < 2:
                written = rows_written(await connection.execute(FLAG_QUALITY_NATION, periods, None, *thresholds))
            else:

                async def flag_share(helper: asyncpg.Connection, provinsi: list[str]) -> int:
                    return rows_written(await helper.execute(FLAG_QUALITY_PROVINSI, periods, provinsi, *thresholds))

                _, written = await apart.each(connection, flag_share)
            await connection.execute(_PERIODS_PASSED, periods, horizon, rules_key(rules))
            return written
    return rows_written(status)


async def flag_changes(
    connection: asyncpg.Connection,
    *,
    kabupaten_code: str,
    computed_since: Callable[[dt.date], Awaitable[list[dt.date]]],
    rules: QualityRules,
) -> int:
    """The flags of one kabupaten's Kampung KB changed since its last pass (read from the change feed), each for the
    computed periods (`computed_since`) from its first changed one on; then its cursor, in the same transaction.

    Without a cursor, or with one older than the feed keeps, the kabupaten's own pass cannot say what changed: each
    computed period is taken from the last pass over the nation that covered it (a whole-period rebuild's,
    `quality_period_cursor`), recomputing the Kampung KB changed since; a period no such pass covered within the feed
    is recomputed whole (every computed period, not only a job's: a job of an earlier period may wait behind this
    one, and would find its change behind the cursor). Rows of transactions at or above the snapshot's horizon are
    read and recomputed too, but the cursor stops before them: one that commits later is read again next time, never
    skipped. Recomputing is idempotent."""
    start = await connection.fetchrow(_START, kabupaten_code)
    cursor: Position | None = None if start["txid"] is None else (start["txid"], start["id"])
    horizon: Position = (0, 0) if start["horizon_txid"] is None else (start["horizon_txid"], start["horizon_id"])
    flags = 0
    if cursor is None or cursor < horizon:
        after = horizon
        periods = await computed_since(dt.date.min)
        passed = await _passed_over_the_nation(connection, periods, kept_from=horizon, rules=rules)
        if whole := [period for period in periods if period not in passed]:
            flags += await flag_quality(connection, periods=whole, rules=rules, kabupaten_code=kabupaten_code)
        if passed:
            changed = await _changed_since(connection, passed, _CHANGED_SINCE_PASSES, kabupaten_code)
            flags += await _flag_changed(
                connection, changed, sorted(passed), start["kampung"], rules, kabupaten_code=kabupaten_code
            )
    else:
        after = cursor
        changed = {row["kampung_id"]: row["since"] for row in await connection.fetch(_CHANGED, *after, kabupaten_code)}
        if changed:
            periods = await computed_since(min(changed.values()))
            flags += await _flag_changed(
                connection, changed, periods, start["kampung"], rules, kabupaten_code=kabupaten_code
            )
    await connection.execute(_MOVE_CURSOR, kabupaten_code, *max(after, (start["xmin"], 0)))
    return flags


async def _passed_over_the_nation(
    connection: asyncpg.Connection, periods: list[dt.date], *, kept_from: Position, rules: QualityRules
) -> dict[dt.date, Position]:
    """The periods a pass over the nation covered under these `rules` (`rules_key`), each at its position in the feed
    (`quality_period_cursor`), where the feed still holds every change after it (the position at or after
    `kept_from`, the feed's pruned horizon)."""
    positions = await connection.fetch(_PERIOD_POSITIONS, periods)
    key = rules_key(rules)
    return {
        row["period"]: (row["txid"], row["id"])
        for row in positions
        if (row["txid"], row["id"]) >= kept_from and row["rules"] == key
    }


async def _changed_since(
    connection: asyncpg.Connection, passed: dict[dt.date, Position], statement: str, *scope: str
) -> dict[int, dt.date]:
    """The Kampung KB changed since the passes of the periods `passed` (each at its position), each from the first of
    those periods one of its changes moves (`_changed_since_passes`)."""
    covered = sorted(passed)
    rows = await connection.fetch(
        statement,
        *min(passed.values()),
        covered,
        [passed[period][0] for period in covered],
        [passed[period][1] for period in covered],
        *scope,
    )
    return {row["kampung_id"]: row["since"] for row in rows}


async def flag_changed_everywhere(
    connection: asyncpg.Connection, *, periods: list[dt.date], rules: QualityRules, apart: Apart | None = None
) -> int:
    """A rebuild's flags where they may have moved: in each period a pass over the nation covered within the feed
    (`quality_period_cursor`), only the Kampung KB changed since that pass, each from its first changed period on;
    the other periods whole (`flag_quality`). Each period's position then moves on, as a whole pass leaves it.

    For the rebuilds a change queues (a back-dated file, the month's activities) and the nightly one: each moves the
    reports of a period from its base data, but the flags of the Kampung KB that did not change stay what the last
    pass made them, as a chain refresh leaves them. With a year of history a pass over every Kampung KB of a period
    costs two to three times the period's aggregates, and the back-dated files of the months after it have a period
    rebuilt some eight times. A period whose last pass was under other rules (`rules_key`: other thresholds, or a
    release that flags differently) is passed whole, so such a change reaches every flag by the next night."""
    start = await connection.fetchrow(_NATION_START)
    horizon: Position = (0, 0) if start["horizon_txid"] is None else (start["horizon_txid"], start["horizon_id"])
    passed = await _passed_over_the_nation(connection, periods, kept_from=horizon, rules=rules)
    flags = 0
    if whole := [period for period in periods if period not in passed]:
        flags += await flag_quality(connection, periods=whole, rules=rules, apart=apart)
    if not passed:
        return flags
    changed = await _changed_since(connection, passed, _CHANGED_SINCE_PASSES_EVERYWHERE)
    covered = sorted(passed)
    flags += await _flag_changed(
        connection, changed, covered, start["kampung"], rules, kabupaten_code=None, apart=apart
    )
    # Every covered period, those before the first change too: a whole pass above left its own, later, positions.
    await connection.execute(_PERIODS_PASSED, covered, start["xmin"], rules_key(rules))
    return flags


async def _flag_changed(
    connection: asyncpg.Connection,
    changed: dict[int, dt.date],
    periods: list[dt.date],
    kampung: int,
    rules: QualityRules,
    *,
    kabupaten_code: str | None,
    apart: Apart | None = None,
) -> int:
    """The flags of the `changed` Kampung KB of a kabupaten (None: of the nation, `apart` as `flag_quality`) of
    `kampung` of them, each in the `periods` from its own on: named one by one, or past a third of them (after an
    import) by the kabupaten's (or the nation's) own statement, which costs less than the list of them."""
    if not changed:
        return 0
    earliest = min(changed.values())
    periods = [period for period in periods if period >= earliest]
    if not periods:
        return 0
    if len(changed) * _CATCH_UP > kampung:
        return await flag_quality(connection, periods=periods, rules=rules, kabupaten_code=kabupaten_code, apart=apart)
    return await flag_quality(connection, periods=periods, rules=rules, since=changed)
