"""Loading the national region list (../shared/data/wilayah.csv): first import and idempotent re-import."""

import asyncio
import tempfile
import time
from pathlib import Path

import asyncpg
from stack import official_regions

from kampungkb_local.servers import start_postgres, stop_postgres
from registry_api import migrate
from registry_api.db import create_engine, create_sessionmaker
from registry_api.wilayah.service import import_csv


async def timed_import(database_url: str, body: bytes) -> tuple[float, str]:
    engine = create_engine(database_url, pool_size=1)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            started = time.perf_counter()
            result = await import_csv(session, body)
        return time.perf_counter() - started, result.model_dump_json()
    finally:
        await engine.dispose()


async def main() -> None:
    if (body := official_regions()) is None:
        return
    with tempfile.TemporaryDirectory() as tmp:
        server = start_postgres(Path(tmp) / "pg")
        try:
            connection = await asyncpg.connect(server)
            await connection.execute("CREATE DATABASE bench")
            await connection.close()
            url = server.replace("/postgres?", "/bench?")
            await asyncio.to_thread(migrate.upgrade, url)
            first, counts = await timed_import(url, body)
            print(f"wilayah import, {len(body.splitlines()) - 1:,} rows, empty table: {first:.2f} s  {counts}")
            again, counts = await timed_import(url, body)
            print(f"wilayah re-import, unchanged: {again:.2f} s  {counts}")
        finally:
            stop_postgres(Path(tmp) / "pg")


if __name__ == "__main__":
    asyncio.run(main())
