"""What the registry has in force for many (Kampung KB, period) pairs at once, in set-based SQL.

A snapshot holds, per module, the newest submission at or before the period, and the distinct partner
institutions of the Kampung KB's activities up to the end of the period with their latest activity date.
"""

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

_PERIODS_FROM = text("""
    SELECT e.kampung_id, e.earliest AS period
      FROM unnest(CAST(:ids AS bigint[]), CAST(:earliest AS date[])) AS e(kampung_id, earliest)
    UNION
    SELECT s.kampung_id, s.period
      FROM unnest(CAST(:ids AS bigint[]), CAST(:earliest AS date[])) AS e(kampung_id, earliest)
      JOIN submission s ON s.kampung_id = e.kampung_id AND s.period > e.earliest
    UNION
    SELECT c.kampung_id, c.period
      FROM unnest(CAST(:ids AS bigint[]), CAST(:earliest AS date[])) AS e(kampung_id, earliest)
      JOIN classification c ON c.kampung_id = e.kampung_id AND c.period > e.earliest
    ORDER BY 1, 2
""")

_IN_FORCE = """(SELECT s.payload FROM submission s
     WHERE s.kampung_id = p.kampung_id AND s.module = '{module}' AND s.period <= p.period
     ORDER BY s.period DESC LIMIT 1)"""

_SNAPSHOTS = text(f"""
    SELECT p.kampung_id, p.period,
           {_IN_FORCE.format(module="profil")} AS profil,
           {_IN_FORCE.format(module="kependudukan")} AS kependudukan,
           {_IN_FORCE.format(module="kkbpk")} AS kkbpk,
           (SELECT coalesce(jsonb_agg(jsonb_build_object('code', x.code, 'last_activity', x.last_activity)
                                      ORDER BY x.code), '[]'::jsonb)
              FROM (SELECT partner AS code, max(k.date) AS last_activity
                      FROM kegiatan k CROSS JOIN unnest(k.partners) AS partner
                     WHERE k.kampung_id = p.kampung_id AND k.date < p.period + interval '1 month'
                     GROUP BY partner) AS x) AS partners
      FROM unnest(CAST(:ids AS bigint[]), CAST(:periods AS date[])) AS p(kampung_id, period)
""")


@dataclass(frozen=True)
class SnapshotRow:
    kampung_id: int
    period: dt.date
    snapshot: dict[str, Any]

    @property
    def hash(self) -> str:
        return snapshot_hash(self.snapshot)


def snapshot_hash(snapshot: dict[str, Any]) -> str:
    """SHA-256 of the snapshot's canonical JSON."""
    canonical = json.dumps(snapshot, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def periods_to_classify(session: AsyncSession, *, earliest: dict[int, dt.date]) -> list[tuple[int, dt.date]]:
    """For each Kampung KB, its earliest changed period and every later period with a submission or a classification."""
    if not earliest:
        return []
    ids = list(earliest)
    result = await session.execute(_PERIODS_FROM, {"ids": ids, "earliest": [earliest[i] for i in ids]})
    return [(row.kampung_id, row.period) for row in result]


async def assemble(session: AsyncSession, *, pairs: list[tuple[int, dt.date]]) -> list[SnapshotRow]:
    """The snapshot in force for each (Kampung KB, period) pair, in one query."""
    if not pairs:
        return []
    params = {"ids": [k for k, _ in pairs], "periods": [p for _, p in pairs]}
    rows = await session.execute(_SNAPSHOTS, params)
    return [
        SnapshotRow(
            kampung_id=row.kampung_id,
            period=row.period,
            snapshot={
                "profil": row.profil,
                "kependudukan": row.kependudukan,
                "kkbpk": row.kkbpk,
                "partners": row.partners,
            },
        )
        for row in rows
    ]
