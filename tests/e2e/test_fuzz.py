"""Schemathesis against both OpenAPI documents, served by real processes: no 5xx, every response matches its schema.

Bounded so that it fits in the suite: a fixed number of generated cases per operation.
"""

import asyncio
import os
from collections.abc import AsyncIterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance
from schemathesis.generation.case import Case

from kampungkb_local import processes
from kampungkb_local.servers import free_port
from registry_api.db import create_engine, create_sessionmaker
from tests.factories import DEMO_DESA, auth, load_demo_regions, make_key

pytestmark = pytest.mark.e2e

CHECKS = [not_a_server_error, response_schema_conformance]
BOUNDED = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


def fuzz(openapi_url: str, *, headers: dict[str, str] | None = None) -> int:
    """Every operation of the document, each with a bounded number of generated cases; returns how many ran.

    Failures of every operation are gathered, so that one run names all of them."""
    schema = schemathesis.openapi.from_url(openapi_url)
    operations = 0
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @BOUNDED
        @given(case=operation.as_strategy())
        def check(case: Case) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            check()
        except Exception as exc:  # a failing operation is reported with the others below
            failures.append(f"{operation.label}: {exc}")
        operations += 1
    assert not failures, "\n\n".join(failures)
    return operations


def test_classifier_never_fails_and_matches_its_schema(classifier_url: str) -> None:
    assert fuzz(f"{classifier_url}/openapi.json") >= 6


@pytest.fixture
async def registry(fresh_database_url: str, redis_url: str, classifier_url: str) -> AsyncIterator[tuple[str, str]]:
    """registry-api as a process on a database with the demo province, one Kampung KB and an admin key."""
    engine = create_engine(fresh_database_url, pool_size=1)
    async with create_sessionmaker(engine)() as session:
        await load_demo_regions(session)
        key = await make_key(session)
    await engine.dispose()
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": fresh_database_url,
        "REDIS_URL": redis_url,
        "REGISTRY_CLASSIFIER_URL": classifier_url,
        "LOG_LEVEL": "WARNING",
    }
    service = processes.registry_api(port).start(base_env=env, quiet=True)
    try:
        await asyncio.to_thread(service.wait_ready)
        url = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=url, headers=auth(key)) as http:
            body = {"name": "Fuzz", "desa_code": DEMO_DESA, "formed_on": "2020-01-01"}
            assert (await http.post("/v1/kampung", json=body)).status_code == 201
        yield url, key
    finally:
        service.stop()


async def test_registry_never_fails_and_matches_its_schema(registry: tuple[str, str]) -> None:
    url, key = registry
    operations = await asyncio.to_thread(fuzz, f"{url}/openapi.json", headers=auth(key))
    assert operations >= 20
