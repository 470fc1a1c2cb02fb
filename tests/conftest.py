"""Real PostgreSQL and Redis for the whole suite: the ones DATABASE_URL / REDIS_URL name, or embedded ones.

Each run migrates a database of its own. In-process API tests run inside a transaction that is rolled back
(`join_transaction_mode="create_savepoint"`), so they stay independent; end-to-end tests get a fresh copy of the
migrated database (`fresh_database_url`).
"""

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kampungkb_local import processes
from kampungkb_local.servers import RedisServer, free_port, start_postgres, stop_postgres
from registry_api import migrate
from registry_api.db import create_engine, create_sessionmaker
from registry_api.main import create_app
from registry_api.settings import Settings

WILAYAH_CSV = Path(__file__).resolve().parents[2] / "shared" / "data" / "wilayah.csv"


def with_database(url: str, name: str) -> str:
    """The same server URL pointing at another database."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(server URL, Redis URL): configured by the environment, or embedded for this run."""
    database_url, redis_url = os.environ.get("DATABASE_URL"), os.environ.get("REDIS_URL")
    pg_dir = redis = None
    if not database_url:
        pg_dir = tmp_path_factory.mktemp("pg")
        database_url = start_postgres(pg_dir)
    if not redis_url:
        redis = RedisServer(tmp_path_factory.mktemp("redis"), free_port()).start()
        redis_url = redis.url
    yield database_url, redis_url
    if redis:
        redis.stop()
    if pg_dir:
        stop_postgres(pg_dir)


@pytest.fixture(scope="session")
def redis_url(servers: tuple[str, str]) -> str:
    return servers[1]


async def create_database(server_url: str, name: str, *, template: str | None = None) -> str:
    connection = await asyncpg.connect(with_database(server_url, "postgres"))
    try:
        clause = f' TEMPLATE "{template}"' if template else ""
        await connection.execute(f'CREATE DATABASE "{name}"{clause}')
    finally:
        await connection.close()
    return with_database(server_url, name)


async def drop_database(server_url: str, name: str) -> None:
    connection = await asyncpg.connect(with_database(server_url, "postgres"))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


@pytest.fixture(scope="session")
async def database_url(servers: tuple[str, str]) -> AsyncIterator[str]:
    """A database migrated to head, private to this run."""
    name = f"kkb_test_{uuid.uuid4().hex[:8]}"
    url = await create_database(servers[0], name)
    await asyncio.to_thread(migrate.upgrade, url)
    yield url
    await drop_database(servers[0], name)


@pytest.fixture
async def fresh_database_url(servers: tuple[str, str], database_url: str) -> AsyncIterator[str]:
    """A new database copied from the migrated one, for tests whose data must be committed (other processes)."""
    name = f"kkb_e2e_{uuid.uuid4().hex[:8]}"
    url = await create_database(servers[0], name, template=urlsplit(database_url).path.lstrip("/"))
    yield url
    await drop_database(servers[0], name)


@pytest.fixture
async def committed_session(fresh_database_url: str) -> AsyncIterator[AsyncSession]:
    """A session on a fresh database whose commits are real (for tests with concurrent requests or claimers)."""
    engine = create_engine(fresh_database_url, pool_size=2)
    async with create_sessionmaker(engine)() as session:
        yield session
    await engine.dispose()


@pytest.fixture
def settings(database_url: str, redis_url: str) -> Settings:
    return Settings(  # type: ignore[call-arg]
        DATABASE_URL=database_url, REDIS_URL=redis_url, LOG_JSON=False, webhooks_in_api=False
    )


@pytest.fixture
async def session_factory(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions joined to one outer transaction that is rolled back when the test ends."""
    engine = create_engine(settings.database_url, pool_size=1)
    async with engine.connect() as connection:
        transaction = await connection.begin()
        yield async_sessionmaker(bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint")
        await transaction.rollback()
    await engine.dispose()


@pytest.fixture
async def session(session_factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    async with session_factory() as session:
        yield session


@pytest.fixture
async def client(
    settings: Settings, session_factory: async_sessionmaker[AsyncSession]
) -> AsyncIterator[httpx.AsyncClient]:
    """The registry app in-process, its lifespan run, its sessions inside the test's transaction."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        app.state.sessionmaker = session_factory
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://registry.test") as http:
            yield http


@pytest.fixture(scope="session")
def classifier_url() -> Iterator[str]:
    """One classifier process (uvicorn classifier.main:app) for the whole run."""
    port = free_port()
    service = processes.classifier(port).start(quiet=True).wait_ready()
    yield f"http://127.0.0.1:{port}"
    service.stop()
