"""A body is stored in chunks of at most `import_chunk_bytes`, whatever the parts the server hands over (the test
client hands it over whole), and read back chunk by chunk into the same rows."""

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from registry_api.settings import Settings
from tests.imports.conftest import Api, import_settings
from tests.imports.files import DESA, kampung_rows, to_csv

CHUNK = 100


@pytest.fixture
def settings(database_url: str, redis_url: str, classifier_url: str) -> Settings:
    return import_settings(database_url, redis_url, classifier_url, import_chunk_bytes=CHUNK)


async def test_a_body_handed_over_whole_is_stored_in_chunks_of_the_configured_size(
    api: Api, session: AsyncSession
) -> None:
    body = to_csv(["desa_code", "name", "formed_on"], kampung_rows(DESA[:8]))
    encoded = body.encode() if isinstance(body, str) else body
    assert len(encoded) > 3 * CHUNK
    response = await api.post("kampung", body)
    assert response.status_code == 202, response.text
    chunks = (await session.execute(text("SELECT data FROM import_chunk ORDER BY seq"))).scalars().all()
    assert [len(chunk) for chunk in chunks[:-1]] == [CHUNK] * (len(chunks) - 1) and 0 < len(chunks[-1]) <= CHUNK
    assert b"".join(chunks) == encoded
    await api.run_jobs()
    job = await api.job(response.json()["id"])
    assert (job["status"], job["rows_inserted"], job["body_bytes"]) == ("succeeded", 8, len(encoded))
