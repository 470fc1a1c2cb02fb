"""An export reads each Kampung KB's submission in force by one descent of its `(kampung_id, module, period)` key (the
snapshots' `in_force`): a row comparison that only that key can serve, so that no statistics can make the planner
walk the `(module, period)` index and filter on the Kampung KB, once per Kampung KB, as the same subquery ordered by
period alone allows."""

import datetime as dt

import asyncpg

from registry_api.auth.service import Role
from registry_api.exports.schemas import ExportFormat, ExportModule, ExportQuery
from registry_api.exports.service import STREAMING_PLAN, as_copy_query, export_statement
from tests.exports.conftest import Registry
from tests.exports.test_round_trip import kampung_file
from tests.factories import nation_principal
from tests.imports.files import DESA, KEPENDUDUKAN_COLUMNS, kependudukan_row, to_csv

_EARLIER_MONTHS = """
    INSERT INTO submission (kampung_id, module, period, payload, content_hash, revision, submitted_by, submitted_at)
    SELECT s.kampung_id, s.module, CAST(m AS date), s.payload, s.content_hash, 1, 'plan', now()
      FROM submission s CROSS JOIN generate_series(DATE '2000-01-01', DATE '2024-04-01', interval '1 month') AS m
     WHERE s.period = DATE '2024-05-01'
"""
NATION = nation_principal(Role.ADMIN, "plan")


async def test_the_submission_in_force_is_read_by_its_own_key_whatever_the_statistics(registry: Registry) -> None:
    desa = DESA[:6]
    await registry.imported("kampung", kampung_file(desa), period=None)
    for period in ("2024-05", "2024-06"):
        rows = [kependudukan_row(code) for code in desa]
        await registry.imported("kependudukan", to_csv(KEPENDUDUKAN_COLUMNS, rows), period=period)
    query = ExportQuery(ExportModule.KEPENDUDUKAN, ExportFormat.CSV, region="00", period=dt.date(2024, 6, 1))
    sql, params = as_copy_query(export_statement(principal=NATION, query=query))
    connection = await asyncpg.connect(registry.database_url)
    try:
        # Years of earlier months, every submission seemingly of one Kampung KB, and no sequential scan.
        await connection.execute(_EARLIER_MONTHS)
        await connection.execute("ALTER TABLE submission ALTER COLUMN kampung_id SET (n_distinct = 1)")
        await connection.execute("ANALYZE submission")
        async with connection.transaction():
            await connection.execute(f"{STREAMING_PLAN}; SET LOCAL enable_seqscan = off")
            plan = "\n".join(row[0] for row in await connection.fetch(f"EXPLAIN {sql}", *params))
    finally:
        await connection.close()
    # The row comparison: an index condition that only the `(kampung_id, module, period)` key can serve.
    assert "using uq_submission_kampung_id on submission" in plan, plan
    assert "Index Cond: (ROW(kampung_id, (module)::text, period) <= ROW(kampung.id, 'kependudukan'::text" in plan, plan
