"""The set-based half of an import: rows COPY'd into a staging table, checked against the registry, then merged.

`import_rows` lives for the job's transaction. A row recognised by its source hash arrives `unchanged` (with no
payload); the others arrive `ok` and move to `failed` (a row error), `unchanged` (the same content is stored
already) or stay `ok` (to be merged). Each merge is one statement per target table.
"""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from sys import intern

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from registry_api.db import driver_connection
from registry_api.imports.formats import ImportModule
from registry_api.kampung import store as kampung_store
from registry_api.submissions import store as submission_store

_CREATE = text("""
    CREATE TEMP TABLE import_rows (
        row_no integer PRIMARY KEY, desa_code text NOT NULL, payload text, content_hash text, source_hash text NOT NULL,
        kampung_id bigint, state text NOT NULL DEFAULT 'ok'
    ) ON COMMIT DROP
""")
COPY_COLUMNS = ["row_no", "desa_code", "payload", "content_hash", "source_hash", "state"]
# The statements over the table join and group on its keys, never on a payload or a source hash: `addresses`'
# ANALYZE samples 3,000 rows for the columns they read and none for those two. With PostgreSQL's 30,000 rows for
# every column it took 0.2 s of a national file (most of it reading the payloads), for the same estimates.
_STATISTICS = text("""
    ALTER TABLE import_rows ALTER COLUMN payload SET STATISTICS 0, ALTER COLUMN source_hash SET STATISTICS 0,
      ALTER COLUMN row_no SET STATISTICS 10, ALTER COLUMN desa_code SET STATISTICS 10,
      ALTER COLUMN content_hash SET STATISTICS 10, ALTER COLUMN kampung_id SET STATISTICS 10,
      ALTER COLUMN state SET STATISTICS 10
""")

# Read straight from the driver: a national file's 83,762 rows as SQLAlchemy rows cost twice the time.
_SOURCE_HASHES = {
    "submission": """
        SELECT k.desa_code, s.source_hash, k.id FROM submission s JOIN kampung k ON k.id = s.kampung_id AND k.active
         WHERE s.module = $1 AND s.period = $2 AND s.source_hash IS NOT NULL
    """,
    ImportModule.KAMPUNG: "SELECT desa_code, source_hash, id FROM kampung WHERE active AND source_hash IS NOT NULL",
}

# Only rows to be written carry their Kampung KB in the table; the address check reads it for every row.
_RESOLVE = text("""
    UPDATE import_rows r SET kampung_id = k.id
      FROM kampung k WHERE k.desa_code = r.desa_code AND k.active AND r.state = 'ok'
""")
# With `every` false, only the rows an address check could fail: not a desa, no active Kampung KB (`kampung` aside),
# a desa (for kegiatan: an activity) that appears more than once, with all its appearances, or a desa in `also`.
_ADDRESSES = text("""
    SELECT r.row_no, r.desa_code, r.content_hash, k.id AS kampung_id, w.level
      FROM import_rows r LEFT JOIN wilayah w ON w.code = r.desa_code
      LEFT JOIN kampung k ON k.desa_code = r.desa_code AND k.active
     WHERE :every OR w.level IS DISTINCT FROM 'desa' OR (k.id IS NULL AND NOT :creating)
        OR r.desa_code IN (SELECT unnest(CAST(:also AS text[])))
        OR (r.desa_code, coalesce(CASE WHEN :by_content THEN r.content_hash END, '')) IN (
               SELECT desa_code, coalesce(CASE WHEN :by_content THEN content_hash END, '') FROM import_rows
                GROUP BY 1, 2 HAVING count(*) > 1)
     ORDER BY r.row_no
""")
_FAIL = text("UPDATE import_rows SET state = 'failed' WHERE row_no = ANY(CAST(:rows AS integer[]))")
_TO_WRITE = "SELECT DISTINCT kampung_id FROM import_rows WHERE state = 'ok' AND kampung_id IS NOT NULL"
# Pages read straight from the driver, as `_SOURCE_HASHES`: $1 the last row of the page before, $2 the page's size.
_PAGE = """
    SELECT row_no, kampung_id{payload} FROM import_rows
     WHERE state = 'ok' AND row_no > $1 ORDER BY row_no LIMIT $2
"""
_PAGE_WITH_PAYLOADS = _PAGE.format(payload=", payload")
_PAGE_OF_KAMPUNG = _PAGE.format(payload="")
# A kegiatan row's month: the first of the month of its `date`.
_PAGE_OF_MONTHS = _PAGE.format(
    payload=", CAST(date_trunc('month', CAST(CAST(payload AS jsonb) ->> 'date' AS date)) AS date)"
)
_COUNTS = text("SELECT state, count(*) AS n FROM import_rows GROUP BY state")

_KAMPUNG_FIELDS = """jsonb_to_record(CAST(r.payload AS jsonb)) AS x(
    name text, formed_on date, scope text, rw_dusun_name text, formation_criteria text[], lat float8, lon float8)"""
_KEGIATAN_FIELDS = """jsonb_to_record(CAST(r.payload AS jsonb)) AS x(
    title text, date date, function text, targets text[], partners text[], inpres_kegiatan text)"""

_UNCHANGED = {
    "submission": text("""
        UPDATE import_rows r SET state = 'unchanged'
          FROM submission s
         WHERE r.state = 'ok' AND s.kampung_id = r.kampung_id AND s.module = :module AND s.period = :period
           AND s.content_hash = r.content_hash
    """),
    ImportModule.KAMPUNG: text(f"""
        UPDATE import_rows SET state = 'unchanged' WHERE row_no IN (
            SELECT r.row_no FROM import_rows r CROSS JOIN LATERAL {_KAMPUNG_FIELDS}
              JOIN kampung k ON k.id = r.kampung_id
             WHERE r.state = 'ok'
               AND (k.name, k.formed_on, k.scope, k.rw_dusun_name, CAST(k.formation_criteria AS text[]), k.lat, k.lon)
                   IS NOT DISTINCT FROM (x.name, x.formed_on, x.scope, x.rw_dusun_name, x.formation_criteria, x.lat,
                                         x.lon))
    """),
    ImportModule.KEGIATAN: text(f"""
        UPDATE import_rows SET state = 'unchanged' WHERE row_no IN (
            SELECT r.row_no FROM import_rows r CROSS JOIN LATERAL {_KEGIATAN_FIELDS}
             WHERE r.state = 'ok' AND EXISTS (
                   SELECT 1 FROM kegiatan k
                    WHERE k.kampung_id = r.kampung_id AND k.date = x.date AND k.title = x.title
                      AND k.function = x.function AND CAST(k.targets AS text[]) = x.targets
                      AND CAST(k.partners AS text[]) = x.partners
                      AND k.inpres_kegiatan IS NOT DISTINCT FROM x.inpres_kegiatan))
    """),
}

_WOULD_UPDATE = text("""
    SELECT count(*) FROM import_rows r JOIN submission s
        ON s.kampung_id = r.kampung_id AND s.module = :module AND s.period = :period
     WHERE r.state = 'ok'
""")

# The rows of the one submission write and the one Kampung KB write (`submissions.store`, `kampung.store`).
_STAGED_SUBMISSIONS = """
    SELECT kampung_id, CAST($2 AS text) AS module, CAST($3 AS date) AS period, payload, content_hash, source_hash
      FROM import_rows WHERE state = 'ok'
"""
_STAGED_KAMPUNG = f"""
    SELECT x.* FROM import_rows r CROSS JOIN LATERAL jsonb_to_record(
               CAST(r.payload AS jsonb) || jsonb_build_object('kampung_id', r.kampung_id, 'desa_code', r.desa_code,
                                                             'active', true, 'source_hash', r.source_hash)
           ) AS x({kampung_store.FIELDS})
     WHERE r.state = 'ok'
"""

# The kabupaten of a written row's Kampung KB, by its key (one string each, not one per row: `intern`).
_KABUPATEN = "(SELECT k.kabupaten_code FROM kampung k WHERE k.id = kampung_id) AS kabupaten_code"
_MERGE_KEGIATAN = text(f"""
    INSERT INTO kegiatan (kampung_id, title, date, function, targets, partners, inpres_kegiatan, created_by)
    SELECT r.kampung_id, x.title, x.date, x.function, x.targets, x.partners, x.inpres_kegiatan, :actor
      FROM import_rows r CROSS JOIN LATERAL {_KEGIATAN_FIELDS}
     WHERE r.state = 'ok'
    RETURNING kampung_id, date, {_KABUPATEN}
""")


@dataclass(frozen=True)
class Address:
    row: int
    desa_code: str
    content_hash: str | None
    kampung_id: int | None
    level: str | None


@dataclass(frozen=True, slots=True)
class Merged:
    """A Kampung KB the merge changed, the kabupaten it lies in, the earliest period it changed (for a Kampung KB
    itself: the month from which its being counted changed), and whether it is new."""

    kampung_id: int
    kabupaten_code: str
    period: dt.date
    inserted: bool


async def create(connection: AsyncConnection) -> None:
    # A rolled-back test transaction (savepoints) never commits, so ON COMMIT DROP alone is not enough.
    await connection.execute(text("DROP TABLE IF EXISTS import_rows"))
    await connection.execute(_CREATE)
    await connection.execute(_STATISTICS)


async def source_hashes(
    connection: AsyncConnection, module: ImportModule, period: dt.date | None
) -> dict[str, tuple[str, int]]:
    """Source hash -> the desa code and id of the active Kampung KB whose row (of this module and period) was last
    imported from a record of that hash."""
    query = _SOURCE_HASHES.get("submission" if module.submission_module is not None else module)
    if query is None:  # kegiatan: every row is a new activity or an unchanged one, found by content
        return {}
    driver = await driver_connection(connection)
    rows = await (driver.fetch(query, module.value, period) if module.submission_module else driver.fetch(query))
    return {source_hash: (desa_code, kampung_id) for desa_code, source_hash, kampung_id in rows}


Staged = tuple[int, str, str | None, str | None, str, str]
"""A row as COPY'd: row number, desa code, payload and content hash (None for a row recognised by its source hash),
source hash, and state (`ok`, or `unchanged` for a recognised row)."""


async def copy_rows(connection: AsyncConnection, records: list[Staged]) -> None:
    raw = await driver_connection(connection)
    await raw.copy_records_to_table("import_rows", records=records, columns=COPY_COLUMNS)


async def addresses(
    connection: AsyncConnection, *, every: bool, creating: bool, by_content: bool, also: Sequence[str] = ()
) -> list[Address]:
    """The staged rows with the active Kampung KB of their desa (resolved into the table too) and the region level:
    `every` row, or only those whose address may be wrong (for a key whose scope covers every desa): a desa that is
    none, without an active Kampung KB (unless `creating` it), repeated (`by_content`: the same desa and content),
    or in `also`.
    """
    await connection.execute(_RESOLVE)
    # After the resolve: statistics taken while kampung_id was all null make every later join a nested loop.
    await connection.execute(text("ANALYZE import_rows"))
    params = {"every": every, "creating": creating, "by_content": by_content, "also": list(also)}
    result = await connection.execute(_ADDRESSES, params)
    return [Address(row.row_no, row.desa_code, row.content_hash, row.kampung_id, row.level) for row in result]


async def fail(connection: AsyncConnection, rows: Sequence[int]) -> None:
    if rows:
        await connection.execute(_FAIL, {"rows": list(rows)})


async def kampung_to_write(connection: AsyncConnection) -> list[int]:
    """The Kampung KB the rows to merge write to (the import locks them as a `PUT` locks one)."""
    return [row[0] for row in await (await driver_connection(connection)).fetch(_TO_WRITE)]


async def mark_unchanged(connection: AsyncConnection, module: ImportModule, period: dt.date | None) -> None:
    if module.submission_module is not None:
        await connection.execute(_UNCHANGED["submission"], {"module": module.value, "period": period})
    else:
        await connection.execute(_UNCHANGED[module])


async def page(connection: AsyncConnection, *, after: int, limit: int) -> list[tuple[int, int, str]]:
    """A page of the rows to merge: row, Kampung KB and staged payload."""
    rows = await (await driver_connection(connection)).fetch(_PAGE_WITH_PAYLOADS, after, limit)
    return [tuple(row) for row in rows]


async def page_of_kampung(connection: AsyncConnection, *, after: int, limit: int) -> list[tuple[int, int]]:
    """`page` without the payloads, for a check that does not read them: a national file's worth of JSON is not
    carried across for it."""
    rows = await (await driver_connection(connection)).fetch(_PAGE_OF_KAMPUNG, after, limit)
    return [tuple(row) for row in rows]


async def page_of_months(connection: AsyncConnection, *, after: int, limit: int) -> list[tuple[int, int, dt.date]]:
    """`page_of_kampung` of a kegiatan file, with the month each activity is dated in (the period it writes into)."""
    rows = await (await driver_connection(connection)).fetch(_PAGE_OF_MONTHS, after, limit)
    return [tuple(row) for row in rows]


async def counts(connection: AsyncConnection) -> dict[str, int]:
    return {row.state: int(row.n) for row in await connection.execute(_COUNTS)}


async def would_update(connection: AsyncConnection, module: ImportModule, period: dt.date | None) -> int:
    """For a dry run: how many of the rows to merge would replace a stored submission (the rest would be new)."""
    if module.submission_module is not None:
        return int((await connection.execute(_WOULD_UPDATE, {"module": module.value, "period": period})).scalar_one())
    if module is ImportModule.KAMPUNG:
        query = "SELECT count(*) FROM import_rows WHERE state = 'ok' AND kampung_id IS NOT NULL"
        return int((await connection.execute(text(query))).scalar_one())
    return 0


@dataclass(frozen=True)
class MergeResult:
    changed: list[Merged]
    """One entry per Kampung KB changed."""
    inserted: int
    updated: int


async def merge(
    connection: AsyncConnection,
    module: ImportModule,
    period: dt.date | None,
    *,
    actor: str,
) -> MergeResult:
    """Write the `ok` rows (their Kampung KB locked): submissions with their revisions, or Kampung KB, through their
    one write; or kegiatan."""
    driver = await driver_connection(connection)
    if module.submission_module is not None:
        assert period is not None
        statement = submission_store.write_from(_STAGED_SUBMISSIONS, columns=f"kampung_id, revision, {_KABUPATEN}")
        rows = await driver.fetch(statement, actor, module.value, period)
        changed = [
            Merged(row["kampung_id"], intern(row["kabupaten_code"]), period, row["revision"] == 1) for row in rows
        ]
    elif module is ImportModule.KAMPUNG:
        rows = await driver.fetch(kampung_store.write_from(_STAGED_KAMPUNG), actor)
        changed = [Merged(row["id"], row["kabupaten_code"], row["counted_from"], row["inserted"]) for row in rows]
    else:
        earliest: dict[int, dt.date] = {}
        kabupaten: dict[int, str] = {}
        count = 0
        for row in await connection.execute(_MERGE_KEGIATAN, {"actor": actor}):
            month = row.date.replace(day=1)
            earliest[row.kampung_id] = min(month, earliest.get(row.kampung_id, month))
            kabupaten[row.kampung_id] = row.kabupaten_code
            count += 1
        changed = [Merged(k, intern(kabupaten[k]), month, True) for k, month in earliest.items()]
        return MergeResult(changed, inserted=count, updated=0)
    inserted = sum(1 for m in changed if m.inserted)
    return MergeResult(changed, inserted=inserted, updated=len(changed) - inserted)
