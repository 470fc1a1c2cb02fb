"""Exports: what is in force, as PostgreSQL's own `COPY (SELECT ...) TO STDOUT`, streamed chunk by chunk.

The rows are read in one repeatable-read, read-only transaction (the file is one moment's snapshot, whatever commits
meanwhile) and in index order (Kampung KB by desa code, each one's rows from an index), so the first bytes leave at
once and no more than a few chunks are ever held in memory.
"""

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import Select, column, lateral, literal_column, select, text, true
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from kampungkb_shared.errors import Forbidden, NotFound, Unprocessable
from kampungkb_shared.periods import add_months, parse_read_period
from kampungkb_shared.regions import NATION_CODE, is_region_code
from registry_api.auth.service import Principal
from registry_api.classifications.models import Classification
from registry_api.classifications.snapshots import in_force
from registry_api.db import session_driver
from registry_api.exports import columns, metrics
from registry_api.exports.schemas import ExportFormat, ExportModule, ExportQuery
from registry_api.kampung.models import Kampung
from registry_api.kampung.readable import in_region, kampung_in_scope
from registry_api.submissions.models import Kegiatan
from registry_api.wilayah.models import Wilayah

_DIALECT = asyncpg_dialect()  # type: ignore[no-untyped-call]
COPY_OPTIONS: dict[ExportFormat, dict[str, Any]] = {
    ExportFormat.CSV: {"format": "csv", "header": True},
    # One JSON text per line, as is: CSV with a quote and a delimiter that JSON text never holds raw (it escapes
    # every control character), so no line is ever quoted or escaped.
    ExportFormat.NDJSON: {"format": "csv", "quote": "\x01", "delimiter": "\x02"},
}
"""asyncpg's `copy_from_query` options of each format."""
STREAMING_PLAN = "SET LOCAL jit = off; SET LOCAL enable_sort = off"
"""Plans that send the first row at once. The planner weighs total cost only: where the Kampung KB rows lie out of
desa-code order it sorts the whole result instead of reading the index (and computes every cell before the sort, so
a national NDJSON file took 1.9 s to its first byte), and a national export's cost is past `jit_above_cost`
(compiling it took a second or more before the first row, for a plan that only reads indexes)."""
_QUEUED_CHUNKS = 8
"""Chunks read from PostgreSQL ahead of the socket: past them COPY waits, so memory stays a few chunks whatever the
file's size."""


def _parse_period(period: str | None, *, required: bool, module: ExportModule) -> dt.date | None:
    if period is None:
        if required:
            raise Unprocessable.field(["query", "period"], f"required for {module}: the month in force, YYYY-MM")
        return None
    try:
        return parse_read_period(period)
    except ValueError as exc:
        raise Unprocessable.field(["query", "period"], str(exc)) from exc


async def _region(session: AsyncSession, *, principal: Principal, wilayah: str | None) -> str:
    """The region to export: the one asked for, inside the key's scope (403 past it), or the key's whole scope."""
    own = principal.scope.startswith("kampung:")
    if wilayah is None:
        return NATION_CODE if own else principal.scope
    if wilayah != NATION_CODE and not is_region_code(wilayah):
        raise Unprocessable.field(["query", "wilayah"], "must be 00 or a region code such as 36, 36.71 or 36.71.01")
    if own:
        desa_code = await session.scalar(
            select(Kampung.desa_code).where(kampung_in_scope(principal)).where(in_region(wilayah))
        )
        if desa_code is None:
            raise Forbidden(f"key scope {principal.scope} does not cover region {wilayah}")
    else:
        principal.require_region(wilayah)
    if wilayah != NATION_CODE and await session.get(Wilayah, wilayah) is None:
        raise NotFound(f"no region {wilayah}")
    return wilayah


async def check_query(
    session: AsyncSession,
    *,
    principal: Principal,
    module: ExportModule,
    fmt: ExportFormat,
    period: str | None,
    wilayah: str | None,
    start: dt.date | None,
    end: dt.date | None,
    ruleset: str | None,
    rulesets: list[str],
) -> ExportQuery:
    """The export asked for, checked before a byte is sent: 422 for a parameter that does not fit the module, 403
    for a region past the key's scope, 404 for an unknown region."""
    dated = module is ExportModule.KEGIATAN
    if dated and period is not None:
        raise Unprocessable.field(["query", "period"], "kegiatan are chosen by date: use from= and to=")
    if not dated and (start is not None or end is not None):
        raise Unprocessable.field(["query", "from" if start else "to"], f"only for kegiatan; {module} takes period=")
    if start is not None and end is not None and start > end:
        raise Unprocessable.field(["query", "to"], "must not be before from")
    if module is not ExportModule.CLASSIFICATIONS and ruleset is not None:
        raise Unprocessable.field(["query", "ruleset"], "only for classifications")
    if ruleset is not None and ruleset not in rulesets:
        raise Unprocessable.field(["query", "ruleset"], f"unknown rule set; the registry keeps {', '.join(rulesets)}")
    required = module not in (ExportModule.KAMPUNG, ExportModule.KEGIATAN)
    return ExportQuery(
        module=module,
        format=fmt,
        region=await _region(session, principal=principal, wilayah=wilayah),
        period=_parse_period(period, required=required, module=module),
        start=start,
        end=end,
        ruleset=(ruleset or rulesets[0]) if module is ExportModule.CLASSIFICATIONS else None,
    )


def export_statement(*, principal: Principal, query: ExportQuery) -> Select[Any]:
    """The rows in force, one statement: Kampung KB in desa-code order, each joined to its row(s) by an index."""
    module = query.module
    source: Any = Kampung.__table__
    scope = [Kampung.active, kampung_in_scope(principal), in_region(query.region)]
    if module is ExportModule.KAMPUNG:
        if query.period is not None:
            scope.append(Kampung.formed_on < add_months(query.period, 1))
    elif module is ExportModule.KEGIATAN:
        dated = select(Kegiatan).where(Kegiatan.kampung_id == Kampung.id)
        if query.start is not None:
            dated = dated.where(Kegiatan.date >= query.start)
        if query.end is not None:
            dated = dated.where(Kegiatan.date <= query.end)
        source = source.join(dated.order_by(Kegiatan.date, Kegiatan.id).lateral("kegiatan"), true())
    elif module is ExportModule.CLASSIFICATIONS:
        newest = (
            select(
                Classification.period,
                Classification.ruleset,
                Classification.ruleset_hash,
                Classification.tier,
                Classification.scores,
                Classification.indices,
                Classification.passed,
            )
            .where(Classification.kampung_id == Kampung.id, Classification.ruleset == query.ruleset)
            .where(Classification.period <= query.period)
            .order_by(Classification.period.desc())
            .limit(1)
        )
        source = source.join(newest.lateral("p"), true())
    else:
        # The one descent of the `(kampung_id, module, period)` key the snapshots use: ordered by period alone, the
        # planner may walk the `(module, period)` index and filter on the Kampung KB instead, once per Kampung KB
        # (a national kkbpk export was seen past five minutes so).
        assert query.period is not None
        kampung_id, period = f"{Kampung.__tablename__}.id", f"DATE '{query.period.isoformat()}'"
        submission = text(in_force(module.value, kampung_id=kampung_id, period=period))
        source = source.join(lateral(submission.columns(column("period"), column("payload")), "p"), true())
    return select(*_cells(query)).select_from(source).where(*scope).order_by(Kampung.desa_code)


def _cells(query: ExportQuery) -> list[Any]:
    imported = query.module.import_module
    if query.format is ExportFormat.NDJSON:
        line = columns.ndjson_object(imported) if imported is not None else columns.CLASSIFICATION_OBJECT
        return [literal_column(line).label("line")]
    cells = columns.csv_cells(imported) if imported is not None else columns.CLASSIFICATION_CELLS
    return [literal_column(sql).label(name) for name, sql in cells]


def as_copy_query(statement: Select[Any]) -> tuple[str, list[Any]]:
    """The statement's SQL with `$n` parameters, and their values in order (asyncpg quotes them into the COPY)."""
    compiled = statement.compile(dialect=_DIALECT)
    params = compiled.params
    return str(compiled), [params[name] for name in compiled.positiontup or ()]


async def stream(
    sessionmaker: async_sessionmaker[AsyncSession], *, statement: Select[Any], query: ExportQuery
) -> AsyncIterator[bytes]:
    """The export's bytes as PostgreSQL writes them, in one repeatable-read, read-only transaction."""
    sql, args = as_copy_query(statement)
    options = COPY_OPTIONS[query.format]
    labels = (query.module.value, query.format.value)
    chunks: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=_QUEUED_CHUNKS)

    async def deliver(data: bytes | bytearray | memoryview) -> None:
        await chunks.put(bytes(data))  # asyncpg hands over a buffer of its own

    async def copy() -> str:
        try:
            async with sessionmaker() as session:
                # A snapshot of one moment, on a connection of its own; a sessionmaker bound to a connection whose
                # transaction another owns (in-process tests) reads in that transaction instead.
                snapshot = {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
                await session.connection(execution_options=snapshot if isinstance(session.bind, AsyncEngine) else None)
                driver = await session_driver(session)
                await driver.execute(STREAMING_PLAN)
                status: str = await driver.copy_from_query(sql, *args, output=deliver, **options)
                await session.commit()
        except Exception:
            await chunks.put(None)  # not when cancelled: then nobody reads, and the queue may be full
            raise
        await chunks.put(None)
        return status

    task = asyncio.create_task(copy(), name="export-copy")
    outcome = "disconnected"
    try:
        while (chunk := await chunks.get()) is not None:
            metrics.BYTES.labels(*labels).inc(len(chunk))
            yield chunk
        try:
            status = await task
        except Exception:
            outcome = "failed"
            raise
        metrics.ROWS.labels(*labels).inc(int(status.rsplit(" ", 1)[-1]))
        outcome = "completed"
    finally:
        metrics.EXPORTS.labels(*labels, outcome).inc()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
