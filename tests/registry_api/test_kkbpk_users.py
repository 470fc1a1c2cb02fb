"""`kkbpk_users`: each stored kkbpk's users by method, written by triggers on `submission` in the statement that
writes the kkbpk, whichever path writes it (the data-quality pass reads a Kampung KB's history from it)."""

from collections.abc import AsyncIterator

import asyncpg
import orjson
import pytest

from kampungkb_shared.codes import Contraception
from registry_api.quality.models import KkbpkUsers
from tests.factories import demo_kampung_by_sql

_STORED = "SELECT period::text, kb_iud, kb_mow, kb_mop, kb_kondom, kb_implan, kb_suntik, kb_pil FROM kkbpk_users"
_WRITE = """
    INSERT INTO submission (kampung_id, module, period, payload, content_hash, revision)
    SELECT $1, $2, p::date, $3::text::jsonb, 'h', 1 FROM unnest($4::text[]) AS p
    ON CONFLICT (kampung_id, module, period) DO UPDATE
       SET payload = excluded.payload, revision = submission.revision + 1
"""


def _kkbpk(**users: int) -> str:
    return orjson.dumps({"poktan_participants": {}, "kb_users": users, "non_users": {}}).decode()


@pytest.fixture
async def connection(fresh_database_url: str) -> AsyncIterator[asyncpg.Connection]:
    await demo_kampung_by_sql(fresh_database_url)
    connection = await asyncpg.connect(fresh_database_url)
    yield connection
    await connection.close()


async def _kampung(connection: asyncpg.Connection) -> int:
    return int(await connection.fetchval("SELECT id FROM kampung"))


async def test_a_kkbpk_written_keeps_its_users_by_method_and_a_missing_method_is_zero(
    connection: asyncpg.Connection,
) -> None:
    kampung = await _kampung(connection)
    await connection.execute(_WRITE, kampung, "kkbpk", _kkbpk(KB_PIL=30, KB_IUD=4), ["2024-01-01", "2024-02-01"])
    await connection.execute(_WRITE, kampung, "kependudukan", orjson.dumps({"pus": 100}).decode(), ["2024-01-01"])
    assert [tuple(row) for row in await connection.fetch(_STORED + " ORDER BY period")] == [
        ("2024-01-01", 4, 0, 0, 0, 0, 0, 30),
        ("2024-02-01", 4, 0, 0, 0, 0, 0, 30),
    ]


async def test_a_kkbpk_written_again_replaces_its_users_and_a_deleted_one_leaves(
    connection: asyncpg.Connection,
) -> None:
    kampung = await _kampung(connection)
    await connection.execute(_WRITE, kampung, "kkbpk", _kkbpk(KB_PIL=30), ["2024-01-01", "2024-02-01"])
    # INSERT ... ON CONFLICT DO UPDATE, as an import's merge writes: one row new, one replaced
    await connection.execute(_WRITE, kampung, "kkbpk", _kkbpk(KB_SUNTIK=12), ["2024-02-01", "2024-03-01"])
    await connection.execute("UPDATE submission SET payload = $1::text::jsonb WHERE period = '2024-01-01'", _kkbpk())
    await connection.execute("DELETE FROM submission WHERE period = '2024-03-01'")
    assert [tuple(row) for row in await connection.fetch(_STORED + " ORDER BY period")] == [
        ("2024-01-01", 0, 0, 0, 0, 0, 0, 0),
        ("2024-02-01", 0, 0, 0, 0, 0, 12, 0),
    ]


def test_there_is_a_column_for_every_official_method() -> None:
    columns = {column.name for column in KkbpkUsers.__table__.columns} - {"kampung_id", "period"}
    assert columns == {method.value.lower() for method in Contraception}
