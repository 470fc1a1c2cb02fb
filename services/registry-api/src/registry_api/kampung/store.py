"""The one write of Kampung KB: `POST /v1/kampung` and `PATCH` are batches of one, an import's merge the batch of its
staged rows; all run this statement, with their rows from a different source.

A row with a `kampung_id` replaces that Kampung KB's fields (its version counts on); one without registers a new
Kampung KB, its kecamatan, kabupaten and provinsi codes taken from the desa code. Registering a desa that has an
active Kampung KB already fails on the unique index `uq_kampung_active_desa`. Each written row comes back with the
month from which its being counted changed (the earlier of its old and new `formed_on`), for the reports.
"""

import datetime as dt
import functools
from dataclasses import asdict, dataclass
from typing import Any

import orjson

FIELDS = """kampung_id bigint, desa_code text, name text, formed_on date, scope text, rw_dusun_name text,
    formation_criteria text[], lat float8, lon float8, active boolean, source_hash text"""
"""The columns of a row to write, as `jsonb_to_record` reads them."""

_WRITE = """
    WITH incoming AS ({rows}),
    before AS (SELECT k.id, k.formed_on FROM kampung k JOIN incoming i ON i.kampung_id = k.id),
    updated AS (
        UPDATE kampung k
           SET name = i.name, formed_on = i.formed_on, scope = i.scope, rw_dusun_name = i.rw_dusun_name,
               formation_criteria = i.formation_criteria, lat = i.lat, lon = i.lon, active = i.active,
               source_hash = i.source_hash, version = k.version + 1, updated_at = clock_timestamp()
          FROM incoming i WHERE i.kampung_id = k.id
        RETURNING k.id, k.kabupaten_code, k.formed_on, false AS inserted
    ),
    inserted AS (
        INSERT INTO kampung (name, desa_code, kecamatan_code, kabupaten_code, provinsi_code, formed_on, scope,
                             rw_dusun_name, formation_criteria, lat, lon, active, source_hash, created_by)
        SELECT i.name, i.desa_code, left(i.desa_code, 8), left(i.desa_code, 5), left(i.desa_code, 2), i.formed_on,
               i.scope, i.rw_dusun_name, i.formation_criteria, i.lat, i.lon, i.active, i.source_hash, $1
          FROM incoming i WHERE i.kampung_id IS NULL ORDER BY i.desa_code
        RETURNING id, kabupaten_code, formed_on, true AS inserted
    )
    SELECT u.id, u.kabupaten_code, least(u.formed_on, b.formed_on) AS counted_from, u.inserted
      FROM updated u JOIN before b ON b.id = u.id
    UNION ALL SELECT id, kabupaten_code, formed_on, inserted FROM inserted
"""
_FROM_VALUES = f"SELECT * FROM jsonb_to_recordset(CAST($2 AS jsonb)) AS i({FIELDS})"
WRITE_VALUES = _WRITE.format(rows=_FROM_VALUES)


@functools.cache
def write_from(rows: str) -> str:
    """The write with its rows from another source: a query of the columns of `FIELDS`, with the actor as `$1` and
    its own parameters from `$2` on (an import's staging table)."""
    return _WRITE.format(rows=rows)


@dataclass(frozen=True)
class Row:
    """One Kampung KB to write: every field (a `PATCH` fills in the stored ones it leaves out)."""

    kampung_id: int | None
    desa_code: str
    name: str
    formed_on: dt.date
    scope: str
    rw_dusun_name: str | None
    formation_criteria: list[str]
    lat: float | None
    lon: float | None
    active: bool = True
    source_hash: str | None = None


@dataclass(frozen=True)
class Written:
    id: int
    kabupaten_code: str
    counted_from: dt.date
    """The month its being counted changed from: its formation, or the earlier of its old and new one."""
    inserted: bool


async def write(driver: Any, rows: list[Row], *, actor: str) -> list[Written]:
    """Write `rows` (from an API call); raises asyncpg's `UniqueViolationError` for a desa with an active one."""
    values = orjson.dumps([asdict(row) for row in rows]).decode()
    return [Written(**dict(row)) for row in await driver.fetch(WRITE_VALUES, actor, values)]
