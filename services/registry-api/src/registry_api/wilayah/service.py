"""Regions: set-based import from CSV, one region with the counts below it, and listing."""

import asyncpg
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from kampungkb_shared.errors import FieldError, NotFound, Unprocessable
from kampungkb_shared.regions import NATION_CODE, Level
from registry_api.db import driver_connection
from registry_api.wilayah.models import Wilayah
from registry_api.wilayah.schemas import WilayahCounts, WilayahDetail, WilayahImportResult, WilayahPage, WilayahRead

CSV_HEADER = ("code", "name", "level", "kind", "parent_code")
MAX_REPORTED_ERRORS = 1000

# Every row problem the import looks for, as (field, message, SQL condition over staging row `s`).
# Row numbers are 1-based data rows (the header is row 0), as a spreadsheet user counts them below the header.
_ROW_CHECKS: list[tuple[str, str, str]] = [
    (
        "level",
        "must be provinsi, kabupaten, kecamatan or desa",
        "s.level IS NULL OR s.level NOT IN ('provinsi', 'kabupaten', 'kecamatan', 'desa')",
    ),
    (
        "code",
        "does not have the shape of its level (NN, NN.NN, NN.NN.NN or NN.NN.NN.NNNN)",
        r"""s.code IS NULL OR NOT (
            (s.level = 'provinsi' AND s.code ~ '^\d{2}$')
         OR (s.level = 'kabupaten' AND s.code ~ '^\d{2}\.\d{2}$')
         OR (s.level = 'kecamatan' AND s.code ~ '^\d{2}\.\d{2}\.\d{2}$')
         OR (s.level = 'desa' AND s.code ~ '^\d{2}\.\d{2}\.\d{2}\.\d{4}$')
         OR s.level IS NULL OR s.level NOT IN ('provinsi', 'kabupaten', 'kecamatan', 'desa'))""",
    ),
    ("name", "must not be empty", "s.name IS NULL OR btrim(s.name) = ''"),
    (
        "kind",
        "must be kabupaten or kota for a kabupaten, desa or kelurahan for a desa, empty otherwise",
        """NOT ((s.level = 'kabupaten' AND s.kind IN ('kabupaten', 'kota'))
          OR (s.level = 'desa' AND s.kind IN ('desa', 'kelurahan'))
          OR (s.level IN ('provinsi', 'kecamatan') AND s.kind IS NULL)
          OR s.level IS NULL OR s.level NOT IN ('provinsi', 'kabupaten', 'kecamatan', 'desa'))""",
    ),
    (
        "parent_code",
        "must be the code without its last segment (empty for a provinsi)",
        """s.code IS NOT NULL AND s.parent_code IS DISTINCT FROM
          CASE WHEN position('.' in s.code) = 0 THEN NULL ELSE regexp_replace(s.code, '\\.[^.]*$', '') END""",
    ),
    (
        "parent_code",
        "names a region that is neither in the file nor already loaded",
        """s.parent_code IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM wilayah_staging p WHERE p.code = s.parent_code)
        AND NOT EXISTS (SELECT 1 FROM wilayah w WHERE w.code = s.parent_code)""",
    ),
    (
        "code",
        "appears more than once in the file",
        "EXISTS (SELECT 1 FROM wilayah_staging d WHERE d.code = s.code AND d.row_no <> s.row_no)",
    ),
]


def _check_header(first_line: bytes) -> None:
    header = tuple(part.strip().lower() for part in first_line.decode("utf-8-sig", "replace").strip().split(","))
    if header != CSV_HEADER:
        raise Unprocessable.field(["body", 0], f"the header must be {','.join(CSV_HEADER)}, found {','.join(header)}")


async def import_csv(session: AsyncSession, body: bytes) -> WilayahImportResult:
    """Load a region CSV: COPY into a staging table, check every row in SQL, then one upsert. All or nothing."""
    _check_header(body.split(b"\n", 1)[0])
    connection = await session.connection()
    await connection.execute(text("DROP TABLE IF EXISTS wilayah_staging"))
    await connection.execute(
        text("""
        CREATE TEMP TABLE wilayah_staging (
            row_no bigint GENERATED ALWAYS AS IDENTITY, code text, name text, level text, kind text, parent_code text
        ) ON COMMIT DROP""")
    )
    raw = await driver_connection(connection)
    try:
        await raw.copy_to_table(
            "wilayah_staging",
            source=_chunks(body),
            columns=list(CSV_HEADER),
            format="csv",
            header=True,
            encoding="utf-8",
        )
    except (asyncpg.DataError, asyncpg.BadCopyFileFormatError, asyncpg.CharacterNotInRepertoireError) as exc:
        raise Unprocessable.field(["body"], f"not a readable CSV: {exc}") from exc
    await connection.execute(text("CREATE INDEX ON wilayah_staging (code)"))
    await connection.execute(text("ANALYZE wilayah_staging"))
    errors = await _row_errors(session)
    if errors:
        shown = errors[:MAX_REPORTED_ERRORS]
        raise Unprocessable(
            f"{len(errors)} invalid row(s); nothing was imported. First: row {shown[0].loc[1]} {shown[0].loc[2]}: "
            f"{shown[0].msg}",
            errors=shown,
        )
    counts = (
        await connection.execute(
            text("""
        WITH upserted AS (
            INSERT INTO wilayah (code, name, level, kind, parent_code)
            SELECT code, btrim(name), level, kind, parent_code FROM wilayah_staging
            ON CONFLICT (code) DO UPDATE
               SET name = excluded.name, level = excluded.level, kind = excluded.kind,
                   parent_code = excluded.parent_code
             WHERE (wilayah.name, wilayah.level, wilayah.kind, wilayah.parent_code)
                   IS DISTINCT FROM (excluded.name, excluded.level, excluded.kind, excluded.parent_code)
            RETURNING (xmax = 0) AS inserted
        )
        SELECT (SELECT count(*) FROM wilayah_staging),
               count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted)
          FROM upserted""")
        )
    ).one()
    rows, inserted, updated = int(counts[0]), int(counts[1]), int(counts[2])
    return WilayahImportResult(rows=rows, inserted=inserted, updated=updated, unchanged=rows - inserted - updated)


async def _chunks(body: bytes, size: int = 1 << 20):  # type: ignore[no-untyped-def]
    for start in range(0, len(body), size):
        yield body[start : start + size]


async def _row_errors(session: AsyncSession) -> list[FieldError]:
    union = " UNION ALL ".join(
        f"SELECT s.row_no, '{field}' AS field, '{message}' AS msg FROM wilayah_staging s WHERE {condition}"
        for field, message, condition in _ROW_CHECKS
    )
    rows = await session.execute(text(f"SELECT row_no, field, msg FROM ({union}) e ORDER BY row_no, field"))
    return [FieldError(loc=["body", int(row_no), field], msg=msg) for row_no, field, msg in rows]


async def get_region(session: AsyncSession, code: str) -> WilayahDetail:
    region = await session.get(Wilayah, code)
    if region is None:
        raise NotFound(f"no region with code {code}")
    rows = await session.execute(
        select(Wilayah.level, Wilayah.kind, func.count())
        .where(Wilayah.code.startswith(code + ".", autoescape=True))
        .group_by(Wilayah.level, Wilayah.kind)
    )
    counts = WilayahCounts()
    for level, kind, n in rows:
        key: str = kind if level in ("kabupaten", "desa") and kind else level
        setattr(counts, key, getattr(counts, key) + n)
    return WilayahDetail(**WilayahRead.model_validate(region, from_attributes=True).model_dump(), counts=counts)


async def list_regions(
    session: AsyncSession, *, parent: str | None, level: str | None, q: str | None, limit: int, cursor: str | None
) -> WilayahPage:
    query = select(Wilayah).order_by(Wilayah.code).limit(limit + 1)
    if parent:
        query = query.where(Wilayah.parent_code == parent)
    if level:
        query = query.where(Wilayah.level == level)
    if q:
        query = query.where(Wilayah.name.ilike(f"%{q}%"))
    if cursor:
        query = query.where(Wilayah.code > cursor)
    regions = list(await session.scalars(query))
    page = regions[:limit]
    return WilayahPage(
        items=[WilayahRead.model_validate(r, from_attributes=True) for r in page],
        next_cursor=page[-1].code if len(regions) > limit else None,
    )


NATION_NAME = "INDONESIA"


def region_of(code: str, found: tuple[str, str] | None) -> tuple[str, Level]:
    """The region's name and level from its row's (name, level), None when there is none; 404 for an unknown code,
    or one below the kecamatan."""
    if code == NATION_CODE:
        return NATION_NAME, Level.NASIONAL
    if found is None:
        raise NotFound(f"no region with code {code}")
    name, level = found
    if level == Level.DESA:
        raise NotFound(f"{code} is a desa/kelurahan: reports exist for kecamatan and above; see its kecamatan")
    return name, Level(level)


async def region_name(session: AsyncSession, code: str) -> tuple[str, Level]:
    """The region's name and level; 404 for an unknown code, or one below the kecamatan (`region_of`)."""
    region = None if code == NATION_CODE else await session.get(Wilayah, code)
    return region_of(code, None if region is None else (region.name, region.level))
