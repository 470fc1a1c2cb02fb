"""The staging table's statistics: the columns its statements join and group on, from a small sample, and none of
the payloads or source hashes (an ANALYZE over every column took 0.2 s of a national file)."""

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.imports.conftest import Api
from tests.imports.files import DESA, kampung_rows, to_csv


async def test_an_import_analyses_the_staged_keys_but_not_the_payloads(api: Api, session: AsyncSession) -> None:
    job = await api.run("kampung", to_csv(["desa_code", "name", "formed_on"], kampung_rows(DESA)))
    assert (job["status"], job["rows_inserted"]) == ("succeeded", len(DESA))
    # The job's transaction is the test's, which never commits: its staging table is still there to look at.
    analysed = await session.execute(text("SELECT attname FROM pg_stats WHERE tablename = 'import_rows'"))
    assert set(analysed.scalars()) == {"content_hash", "desa_code", "kampung_id", "row_no", "state"}
    targets = await session.execute(
        text("""SELECT attname, attstattarget FROM pg_attribute
                 WHERE attrelid = 'import_rows'::regclass AND attnum > 0 ORDER BY attname""")
    )
    assert {name: target for name, target in targets if target != 10} == {"payload": 0, "source_hash": 0}
