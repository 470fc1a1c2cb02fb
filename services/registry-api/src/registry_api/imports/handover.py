"""Module imports queued together classify once: each leaves its classification to the next, the last does it all.

An integration pushes a month as several files (profil, kependudukan, kkbpk, ...), each re-classifying the same
Kampung KB. A module import that finds a later module import queued or running writes its classifications as
`classify` events marked `handover`, due only after `handover_s`, in the transaction of its merge, and queues no
report of its own. The next import that classifies takes every handed-over event it can lock (with their Kampung KB)
into its own batch run, so a month of files costs one classification and one report rebuild. Nothing depends on the
later import succeeding: events it does not take become due after `handover_s` and the relay classifies them; an
import that ends (or fails) with no later import behind it makes the rest due at once.
"""

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from kampungkb_shared.periods import parse_period

_LATER_IMPORT = text("""
    SELECT EXISTS (SELECT 1 FROM import_job
                    WHERE status IN ('queued', 'running') AND id > :id AND NOT dry_run AND module <> 'kampung')
""")
# Handed-over events whose Kampung KB this transaction can lock too (a `PUT` or another import holding one keeps its
# event for later), marked delivered here: they are this transaction's work now, and back to pending if it rolls back.
_TAKE = text("""
    WITH pending AS (
        SELECT id, (payload->>'kampung_id')::bigint AS kampung_id, payload->>'period' AS period FROM outbox
         WHERE topic = 'classify' AND delivered_at IS NULL AND payload ? 'handover'
           FOR UPDATE SKIP LOCKED
    ),
    locked AS (
        SELECT id, kabupaten_code FROM kampung WHERE id IN (SELECT kampung_id FROM pending)
         ORDER BY id FOR NO KEY UPDATE SKIP LOCKED
    )
    UPDATE outbox o SET delivered_at = clock_timestamp()
      FROM pending p JOIN locked k ON k.id = p.kampung_id
     WHERE o.id = p.id
    RETURNING p.kampung_id, p.period, k.kabupaten_code
""")
_RELEASE = text("""
    UPDATE outbox SET available_at = clock_timestamp()
     WHERE topic = 'classify' AND delivered_at IS NULL AND payload ? 'handover' AND available_at > clock_timestamp()
""")


@dataclass(frozen=True)
class HandedOver:
    earliest: dict[int, dt.date]
    """The earliest period to classify from, by Kampung KB."""
    kabupaten: dict[int, str]
    """The kabupaten of each, for its report."""


async def later_import_pending(session: AsyncSession, *, job_id: int) -> bool:
    """Whether a module import filed after this one is queued or running (it will classify what this one leaves)."""
    return bool((await session.execute(_LATER_IMPORT, {"id": job_id})).scalar_one())


async def take(session: AsyncSession) -> HandedOver:
    """Every handed-over classification this transaction can lock, taken over (delivered when it commits)."""
    earliest: dict[int, dt.date] = {}
    kabupaten: dict[int, str] = {}
    for row in await session.execute(_TAKE):
        period = parse_period(row.period)
        earliest[row.kampung_id] = min(period, earliest.get(row.kampung_id, period))
        kabupaten[row.kampung_id] = row.kabupaten_code
    return HandedOver(earliest, kabupaten)


async def release(session: AsyncSession, *, job_id: int) -> None:
    """No later import will take what is still handed over: make it due now, for the relay (unless one is pending)."""
    if not await later_import_pending(session, job_id=job_id):
        await session.execute(_RELEASE)
