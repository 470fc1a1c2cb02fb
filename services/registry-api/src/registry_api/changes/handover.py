"""Module imports queued together classify once: each leaves its classification to the next, the last does it all.

An integration pushes a month as several files (profil, kependudukan, kkbpk, ...), each re-classifying the same
Kampung KB. A module import that finds a later module import queued or running writes its classifications as
`classify` events marked `handover`, due only after `handover_s`, in the transaction of its merge, and queues no
report of its own. The next import that classifies takes every handed-over event it can lock (with their Kampung KB)
into its own batch run (a large one a slice of Kampung KB at a time: `imports.apart`), so a month of files costs one
classification and one report rebuild (and one event per Kampung KB: one already handed over from the same or an
earlier period gets no second, `outbox.add_classify`). Nothing depends on the later import succeeding: events it
does not take become due after `handover_s` and the relay classifies them; an import that ends (or fails) with no
later import behind it makes the rest due at once.
"""

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from kampungkb_shared.periods import parse_period
from registry_api.changes.models import PENDING_HANDOVER
from registry_api.changes.pipeline import lock

# The events, their Kampung KB's lock and their deletion are three statements on arrays rather than one join: the
# events were written by transactions that committed moments ago, before autovacuum analysed them, and a join planned
# on "one row" statistics is a quadratic nested loop. A slice is every event of the first `:limit` Kampung KB (in id
# order) above `:after`, read from `ix_outbox_handover`: the files of a month merged side by side each hand a Kampung
# KB over (neither sees the other's event before it commits), and both events must fall in one slice, or the Kampung
# KB is classified twice.
_SHARE = f"""
    {PENDING_HANDOVER}
    AND (payload->>'kampung_id')::bigint % :parts = :part AND (payload->>'kampung_id')::bigint > :after
"""
_PENDING = text(f"""
    WITH slice AS (
        SELECT max(kampung_id) AS last
          FROM (SELECT DISTINCT (payload->>'kampung_id')::bigint AS kampung_id FROM outbox WHERE {_SHARE}
                 ORDER BY 1 LIMIT :limit) AS k
    )
    SELECT id, (payload->>'kampung_id')::bigint AS kampung_id, payload->>'period' AS period FROM outbox
     WHERE {_SHARE} AND (payload->>'kampung_id')::bigint <= (SELECT last FROM slice)
     ORDER BY 2
       FOR UPDATE OF outbox SKIP LOCKED
""")
# Taken events are this transaction's work now: deleted, and back if it rolls back.
_TAKEN = text("DELETE FROM outbox o USING unnest(CAST(:ids AS bigint[])) AS t(id) WHERE o.id = t.id")
_RELEASE = text(f"""
    UPDATE outbox SET available_at = clock_timestamp()
     WHERE {PENDING_HANDOVER} AND available_at > clock_timestamp()
""")


@dataclass(frozen=True)
class HandedOver:
    earliest: dict[int, dt.date]
    """The earliest period to classify from, by Kampung KB."""
    kabupaten: dict[int, str]
    """The kabupaten of each, for its report."""
    last_kampung: int | None
    """The highest Kampung KB id among the events read (taken, or left to its writer); none when there were none."""


async def take(
    session: AsyncSession, *, part: int = 0, parts: int = 1, after: int = 0, limit: int | None = None
) -> HandedOver:
    """Every handed-over classification this transaction can lock, taken over (its events deleted); with `parts`,
    only those of the Kampung KB whose id is `part` modulo `parts`, so that several transactions take disjoint
    shares side by side. With `limit`, the events of the first that many Kampung KB of id above `after`: a caller
    taking a national file's share a slice at a time (from the last slice's `last_kampung`) holds one slice at once."""
    pending = (await session.execute(_PENDING, {"part": part, "parts": parts, "after": after, "limit": limit})).all()
    if not pending:
        return HandedOver({}, {}, None)
    # A Kampung KB a `PUT` or another import holds keeps its events for later.
    locked = await lock(session, sorted({row.kampung_id for row in pending}), skip_locked=True)
    kabupaten = {kampung_id: row.kabupaten_code for kampung_id, row in locked.items()}
    earliest: dict[int, dt.date] = {}
    taken = []
    for row in pending:
        if row.kampung_id in kabupaten:
            period = parse_period(row.period)
            earliest[row.kampung_id] = min(period, earliest.get(row.kampung_id, period))
            taken.append(row.id)
    await session.execute(_TAKEN, {"ids": taken})
    return HandedOver(earliest, kabupaten, pending[-1].kampung_id)


async def release(session: AsyncSession) -> None:
    """Every handed-over classification due now, for the relay: the import that ends had no later one to take it."""
    await session.execute(_RELEASE)
