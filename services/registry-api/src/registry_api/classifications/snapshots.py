"""What the registry has in force for many (Kampung KB, period) pairs at once, in set-based SQL.

A snapshot holds, per module, the newest submission at or before the period, and the distinct partner
institutions of the Kampung KB's activities up to the end of the period with their latest activity date.
PostgreSQL builds each snapshot as JSON text and its hash (SHA-256 of that text; `jsonb` output is canonical) and
stores it once by that hash (`classification_snapshot`), so that thousands of snapshots go to the classifier without
being parsed in Python, and never come back.
"""

import asyncio
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kampungkb_shared.periods import current_period, parse_period
from registry_api.db import session_driver

# The months from `{first}` through `{last}` in which a partner leaves a rule set's window (`w.months`, from an outer
# `unnest`): the month after the window that an activity opened, unless another activity of the Kampung KB with that
# partner falls within it. `{activities}` narrows the activities read (by `ix_kegiatan_kampung_date`, which holds the
# partners). Probing each one's window took a national month's periods 1.57 s against 1.08 s without (83,762 Kampung
# KB, 22 activities each over three years); reading every partner's next activity in one pass (`lead`) took 2.8 s.
_LEAVES = """
    SELECT k.kampung_id, CAST(date_trunc('month', k.date) + w.months * interval '1 month' AS date) AS period
      FROM kegiatan k CROSS JOIN unnest(k.partners) AS p(code)
     WHERE {activities}
       AND k.date >= {first} - w.months * interval '1 month'
       AND k.date < {last} - (w.months - 1) * interval '1 month'
       AND NOT EXISTS (SELECT 1 FROM kegiatan n
                        WHERE n.kampung_id = k.kampung_id AND p.code = ANY(n.partners)
                          AND n.date >= date_trunc('month', k.date) + interval '1 month'
                          AND n.date < date_trunc('month', k.date) + (w.months + 1) * interval '1 month')
"""
_LEAVING_AFTER_EARLIEST = _LEAVES.format(
    activities="k.kampung_id = e.kampung_id", first="e.earliest", last="CAST($4 AS date)"
)
_LEAVING_FROM_TO = _LEAVES.format(activities="true", first="CAST($2 AS date)", last="CAST($3 AS date)")

# Each Kampung KB's own rows, read by the key that starts with it (`OFFSET 0` keeps the lookup per Kampung KB): joined
# set to set, a slice of 5,000 Kampung KB was planned as a hash join over the whole of both tables (208 ms for a
# national month, against 16 ms). The months a partner leaves a window (`$3`) count up to the month `$4`.
_PERIODS_FROM = f"""
    SELECT e.kampung_id, e.earliest AS period
      FROM unnest(CAST($1 AS bigint[]), CAST($2 AS date[])) AS e(kampung_id, earliest)
    UNION
    SELECT e.kampung_id, s.period
      FROM unnest(CAST($1 AS bigint[]), CAST($2 AS date[])) AS e(kampung_id, earliest)
     CROSS JOIN LATERAL (SELECT s.period FROM submission s
                          WHERE s.kampung_id = e.kampung_id AND s.period > e.earliest OFFSET 0) AS s
    UNION
    SELECT e.kampung_id, c.period
      FROM unnest(CAST($1 AS bigint[]), CAST($2 AS date[])) AS e(kampung_id, earliest)
     CROSS JOIN LATERAL (SELECT c.period FROM classification c
                          WHERE c.kampung_id = e.kampung_id AND c.period > e.earliest OFFSET 0) AS c
    UNION
    SELECT e.kampung_id, l.period
      FROM unnest(CAST($1 AS bigint[]), CAST($2 AS date[])) AS e(kampung_id, earliest)
     CROSS JOIN unnest(CAST($3 AS int[])) AS w(months)
     CROSS JOIN LATERAL ({_LEAVING_AFTER_EARLIEST} OFFSET 0) AS l
    ORDER BY 1, 2
"""

# The months from `$2` through `$3` in which a partner leaves a window (`$1`) of an active Kampung KB classified before
# that month but not in it under every rule set `$4` (a month passing is a change: nothing else classifies them), and
# with no `classify` event pending (a relay of another process may have swept it already).
_LEFT_UNCLASSIFIED = f"""
    SELECT DISTINCT l.kampung_id, l.period
      FROM unnest(CAST($1 AS int[])) AS w(months)
     CROSS JOIN LATERAL ({_LEAVING_FROM_TO}) AS l
      JOIN kampung kk ON kk.id = l.kampung_id AND kk.active
     WHERE EXISTS (SELECT 1 FROM classification c WHERE c.kampung_id = l.kampung_id AND c.period < l.period)
       AND EXISTS (SELECT 1 FROM unnest(CAST($4 AS text[])) AS r(ruleset)
                    WHERE NOT EXISTS (SELECT 1 FROM classification c
                                       WHERE c.kampung_id = l.kampung_id AND c.period = l.period
                                         AND c.ruleset = r.ruleset))
       AND CAST(l.kampung_id AS text) NOT IN (SELECT key FROM outbox WHERE topic = 'classify' AND delivered_at IS NULL)
     ORDER BY 1, 2
"""


# Set-based on purpose: a correlated `ORDER BY period DESC LIMIT 1` per pair lets the planner walk the
# (module, period) index and filter on the Kampung KB, which is quadratic for a whole province at once.
# `snapshots` and `texts` are MATERIALIZED so that each snapshot (with its partners subquery) is built, and turned
# into text, once: inlined, every reference (the document, its text, its hash) would build it again.
def in_force(module: str, *, kampung_id: str, period: str) -> str:
    """A subquery for `LEFT JOIN LATERAL (...) AS alias ON true`: the submission of `module` in force for the Kampung
    KB `kampung_id` at `period` (SQL expressions of the outer query): the newest at or before it, or no row.

    One descent of the `(kampung_id, module, period)` key whatever the statistics say and however long the history:
    the row comparison is an index condition only that key can serve, so no plan can walk the `(module, period)`
    index and filter on the Kampung KB (quadratic for a batch), nor read the Kampung KB's whole history. The step
    back lands on the nearest key below; it is the module's only when its Kampung KB and module match, hence the
    outer `WHERE`."""
    return f"""
        SELECT s.period, s.payload
          FROM (SELECT s.kampung_id, s.module, s.period, s.payload FROM submission s
                 WHERE (s.kampung_id, s.module, s.period) <= ({kampung_id}, '{module}', {period})
                 ORDER BY s.kampung_id DESC, s.module DESC, s.period DESC LIMIT 1) s
         WHERE s.kampung_id = {kampung_id} AND s.module = '{module}'"""


def _module_in_force(module: str) -> str:
    return f"(SELECT f.payload FROM ({in_force(module, kampung_id='p.kampung_id', period='p.period')}) f)"


# A classification refers to its snapshot by hash with no foreign key (its check, a row lock per classification, was a
# third of storing a national import's): instead, a writer that may point classifications at a stored snapshot (one
# it finds stored already) holds this lock shared from the snapshot's assembly to its commit, and the prune deletes
# only while no writer holds it. The assembly takes it itself, in `held`, before its first pair: every pair joins the
# lock's one row, so no snapshot is looked up or stored before it is held (a statement of its own was a round trip
# more on every write).
_SNAPSHOTS_IN_USE = "hashtext('kampungkb:classification-snapshots')"

_SNAPSHOTS = f"""
    WITH held AS MATERIALIZED (SELECT pg_advisory_xact_lock_shared({_SNAPSHOTS_IN_USE})),
    p AS (SELECT p.* FROM held, unnest(CAST($1 AS bigint[]), CAST($2 AS date[])) AS p(kampung_id, period)),
    snapshots AS MATERIALIZED (
        SELECT p.kampung_id, p.period, jsonb_build_object(
               'profil', {_module_in_force("profil")},
               'kependudukan', {_module_in_force("kependudukan")},
               'kkbpk', {_module_in_force("kkbpk")},
               'partners', (SELECT coalesce(jsonb_agg(
                                   jsonb_build_object('code', x.code, 'last_activity', x.last_activity)
                                   ORDER BY x.code), '[]'::jsonb)
                  FROM (SELECT partner AS code, max(k.date) AS last_activity
                          FROM kegiatan k CROSS JOIN unnest(k.partners) AS partner
                         WHERE k.kampung_id = p.kampung_id AND k.date < p.period + interval '1 month'
                         GROUP BY partner) AS x)) AS snap
          FROM p
    ),
    texts AS MATERIALIZED (SELECT kampung_id, period, snap, snap::text AS snapshot FROM snapshots),
    hashed AS (
        SELECT kampung_id, period, snap, snapshot, encode(sha256(convert_to(snapshot, 'UTF8')), 'hex') AS hash
          FROM texts
    ),
    stored AS (
        INSERT INTO classification_snapshot (hash, snapshot) SELECT hash, snap FROM hashed ON CONFLICT (hash) DO NOTHING
    )
    SELECT h.kampung_id, h.period, h.snapshot, h.hash,
           ARRAY(SELECT c.ruleset FROM classification c
                  WHERE c.kampung_id = h.kampung_id AND c.period = h.period AND c.snapshot_hash = h.hash) AS classified
      FROM hashed h
"""


@dataclass(frozen=True)
class SnapshotRow:
    kampung_id: int
    period: dt.date
    snapshot: str
    """The snapshot as JSON text (`profil`, `kependudukan`, `kkbpk`, `partners`)."""
    hash: str
    """SHA-256 of `snapshot`: an unchanged snapshot is not classified again."""
    classified: frozenset[str] = frozenset()
    """The rule sets whose stored classification of the pair was computed from this very snapshot."""


async def periods_to_classify(
    session: AsyncSession, *, earliest: dict[int, dt.date], windows: Sequence[int] = (), until: dt.date | None = None
) -> list[tuple[int, dt.date]]:
    """For each Kampung KB, its earliest changed period and every later period with a submission or a classification,
    and each later month up to `until` (this month) in which a partner leaves one of the partner `windows`."""
    if not earliest:
        return []
    ids = list(earliest)
    rows = await (await session_driver(session)).fetch(
        _PERIODS_FROM, ids, [earliest[i] for i in ids], list(windows), until or parse_period(current_period())
    )
    return [(row["kampung_id"], row["period"]) for row in rows]


async def left_unclassified(
    session: AsyncSession, *, windows: Sequence[int], rulesets: Sequence[str], since: dt.date, until: dt.date
) -> dict[int, dt.date]:
    """Each active Kampung KB with a month from `since` through `until` in which a partner leaves a window, classified
    before it but not in it under every rule set: its earliest such month."""
    if not windows:
        return {}
    rows = await (await session_driver(session)).fetch(_LEFT_UNCLASSIFIED, list(windows), since, until, list(rulesets))
    owed: dict[int, dt.date] = {}
    for row in rows:
        owed.setdefault(row["kampung_id"], row["period"])
    return owed


async def assemble(session: AsyncSession, *, pairs: list[tuple[int, dt.date]]) -> list[SnapshotRow]:
    """The snapshot in force for each (Kampung KB, period) pair, with the rule sets that classified it already, in one
    query that also stores each by its hash."""
    if not pairs:
        return []
    # The statement holds `_SNAPSHOTS_IN_USE` until this transaction ends: the snapshots it finds stored stay.
    rows = await (await session_driver(session)).fetch(_SNAPSHOTS, [k for k, _ in pairs], [p for _, p in pairs])
    return [
        SnapshotRow(row["kampung_id"], row["period"], row["snapshot"], row["hash"], frozenset(row["classified"]))
        for row in rows
    ]


_ALONE = text(f"SELECT pg_try_advisory_xact_lock({_SNAPSHOTS_IN_USE})")
# Snapshots no classification points at any more (replaced by newer ones): one anti-join over both tables, then each
# batch deleted where it is still so, by the classifications' index on the hash.
_REFERENCED = "EXISTS (SELECT 1 FROM classification c WHERE c.snapshot_hash = s.hash)"
_UNREFERENCED = text(f"SELECT s.hash FROM classification_snapshot s WHERE NOT {_REFERENCED}")
_DELETE_UNREFERENCED = text(
    f"DELETE FROM classification_snapshot s WHERE s.hash = ANY(CAST(:hashes AS text[])) AND NOT {_REFERENCED}"
)
PRUNE_BATCH = 5_000
_ALONE_TRIES = 20
_ALONE_WAIT_S = 0.05


async def prune_unreferenced(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    """Delete the stored snapshots no classification refers to; returns how many.

    Each national import replaces every Kampung KB's snapshot, so without this the table grows by one snapshot per
    Kampung KB and module import. The candidates are read without a lock; each batch is deleted in a transaction of
    its own, only while no writer holds `_SNAPSHOTS_IN_USE` (a few short tries: writers never wait for the prune), so
    a snapshot a running writer has just found stored is never taken from under its classification. A batch that
    finds a writer there each time (a national import classifying for minutes) leaves the rest to the next pass.
    """
    async with sessionmaker() as session:
        candidates = list(await session.scalars(_UNREFERENCED))
    pruned = 0
    for start in range(0, len(candidates), PRUNE_BATCH):
        async with sessionmaker() as session, session.begin():
            if not await _alone(session):
                break
            result = await session.execute(_DELETE_UNREFERENCED, {"hashes": candidates[start : start + PRUNE_BATCH]})
            pruned += int(result.rowcount)  # type: ignore[attr-defined]
    return pruned


async def _alone(session: AsyncSession) -> bool:
    for _ in range(_ALONE_TRIES):
        if await session.scalar(_ALONE):
            return True
        await asyncio.sleep(_ALONE_WAIT_S)
    return False
