"""A body's chunks are stored as they arrived: compressing them cost a national month 0.4 s of PostgreSQL's CPU, for
rows that live only until their job finishes (migration 0034)."""

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.imports.conftest import Api
from tests.imports.files import DESA, kampung_rows, to_csv


async def test_a_chunk_is_stored_out_of_line_and_uncompressed(api: Api, session: AsyncSession) -> None:
    body = to_csv(["desa_code", "name", "formed_on"], kampung_rows(DESA) * 20)
    encoded = body.encode() if isinstance(body, str) else body
    assert len(encoded) > 16 * 1024  # far past the size at which PostgreSQL compresses a value it may
    response = await api.post("kampung", body)
    assert response.status_code == 202, response.text
    stored = await session.execute(text("SELECT length(data), pg_column_compression(data) FROM import_chunk"))
    assert [(size, compression) for size, compression in stored] == [(len(encoded), None)]
