"""The one write of submissions: a `PUT` (or a multi-module write) is a batch of one to three rows, an import's merge
the batch of its staged rows; both run this statement, with their rows from a different source.

Each row is upserted by (Kampung KB, module, period): a new one starts at revision 1, a changed one counts on, one
whose content hash is the stored one is left alone (no revision). The version an update replaces is kept in
`submission_revision` by a trigger on `submission` (migration 0019), so a new row is written once. Callers hold the
Kampung KB locked (`changes.pipeline.lock`), so no other writer inserts the same (Kampung KB, module, period) in
between.
"""

import datetime as dt
import functools
import hashlib
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import BaseModel

_WRITE = """
    WITH incoming AS ({rows}),
    written AS (
        INSERT INTO submission AS s (kampung_id, module, period, payload, content_hash, source_hash, revision,
                                     submitted_by, submitted_at)
        SELECT i.kampung_id, i.module, i.period, CAST(i.payload AS jsonb), i.content_hash, i.source_hash, 1, $1, now()
          FROM incoming i ORDER BY i.kampung_id, i.module
            ON CONFLICT (kampung_id, module, period) DO UPDATE
           SET payload = excluded.payload, content_hash = excluded.content_hash, source_hash = excluded.source_hash,
               revision = s.revision + 1, submitted_by = excluded.submitted_by, submitted_at = excluded.submitted_at
         WHERE s.content_hash IS DISTINCT FROM excluded.content_hash
        RETURNING s.*
    )
    SELECT {columns} FROM written
"""
_WRITTEN = "id, kampung_id, module, period, content_hash, source_hash, revision, submitted_by, submitted_at"
_FROM_VALUES = """
    SELECT * FROM unnest(CAST($2 AS bigint[]), CAST($3 AS text[]), CAST($4 AS date[]), CAST($5 AS text[]),
                         CAST($6 AS text[]), CAST($7 AS text[]))
                  AS i(kampung_id, module, period, payload, content_hash, source_hash)
"""
WRITE_VALUES = _WRITE.format(rows=_FROM_VALUES, columns=_WRITTEN)


@functools.cache
def write_from(rows: str, columns: str = _WRITTEN) -> str:
    """The write with its rows from another source: a query of the columns of `_FROM_VALUES`, with the actor as `$1`
    and its own parameters from `$2` on (an import's staging table); answering only `columns` of each written row
    (a national file's merge holds every answer at once)."""
    return _WRITE.format(rows=rows, columns=columns)


def canonical_json(payload: dict[str, object]) -> bytes:
    """A payload's canonical JSON (sorted keys, no spaces): what `content_hash` hashes, on every write path."""
    return orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)


def canonical_payload(model: BaseModel, *, exclude: set[str] | None = None) -> bytes:
    """A validated payload's `canonical_json`, written in one pass from the model, for a caller that needs no
    JSON-mode dump besides (an import's rows): dumped in Python mode, its codes stay enum members and its dates
    dates, which orjson writes as their values in C (the JSON mode reads each member's value in Python code, a
    dozen times a row of a national import)."""
    return orjson.dumps(model.model_dump(exclude=exclude), option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)


def content_hash(canonical: bytes) -> str:
    """The hash that recognises unchanged content: SHA-256 of a payload's `canonical_json`."""
    return hashlib.sha256(canonical).hexdigest()


@dataclass(frozen=True)
class Row:
    """One submission to write: its payload as canonical JSON text, with the hash of that text."""

    kampung_id: int
    module: str
    period: dt.date
    payload: str
    content_hash: str
    source_hash: str | None = None
    """The import record it comes from; None for an API write (which clears a stored one)."""


async def write(driver: Any, rows: list[Row], *, actor: str) -> list[Any]:
    """Write `rows` (from an API call); returns the stored rows that changed, with their new revision."""
    columns = ("kampung_id", "module", "period", "payload", "content_hash", "source_hash")
    return list(await driver.fetch(WRITE_VALUES, actor, *([getattr(r, c) for r in rows] for c in columns)))
