"""Schemathesis against both OpenAPI documents, served by real processes: no 5xx, every status one the document
declares for the operation, every response matching its schema.

Bounded so that it fits in the suite: a fixed number of generated cases per operation, then the registry's stateful
phase (scenarios that follow the document's links from one answer to the next), which must reach every operation
under a Kampung KB with a real id.
"""

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import FlakyStrategyDefinition
from schemathesis.checks import CheckFunction, not_a_server_error, response_schema_conformance, status_code_conformance
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import FailureGroup
from schemathesis.core.transport import Response
from schemathesis.generation.case import Case

from kampungkb_local import processes
from kampungkb_local.servers import free_port
from kampungkb_shared.periods import current_period
from registry_api.db import create_engine, create_sessionmaker
from tests.factories import (
    auth,
    kependudukan_payload,
    kkbpk_payload,
    load_demo_regions,
    make_kampung,
    make_key,
    profil_payload,
    put_module,
)

pytestmark = pytest.mark.e2e

CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
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
        except (Exception, FailureGroup) as exc:  # a failing operation is reported with the others below
            failures.append(f"{operation.label}: {exc}")
        operations += 1
    assert not failures, "\n\n".join(failures)
    return operations


def test_classifier_never_fails_and_matches_its_schema(classifier_url: str) -> None:
    assert fuzz(f"{classifier_url}/openapi.json") >= 6


@pytest.fixture
async def registry(fresh_database_url: str, redis_url: str, classifier_url: str) -> AsyncIterator[tuple[str, str]]:
    """registry-api as a process on a database with the demo province, an admin key and one Kampung KB with this
    month's three modules (so that its reads find something)."""
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
        async with httpx.AsyncClient(base_url=url) as http:
            kampung = await make_kampung(http, key, name="Fuzz", formed_on="2020-01-01")
            period = current_period()
            for module, payload in (
                ("profil", profil_payload()),
                ("kependudukan", kependudukan_payload()),
                ("kkbpk", kkbpk_payload()),
            ):
                assert (await put_module(http, key, kampung["id"], module, period, payload)).status_code == 201
        yield url, key
    finally:
        service.stop()


@pytest.mark.timeout(300)  # a couple of minutes at most on a busy machine
async def test_registry_never_fails_and_matches_its_schema(registry: tuple[str, str]) -> None:
    url, key = registry
    operations = await asyncio.to_thread(fuzz, f"{url}/openapi.json", headers=auth(key))
    assert operations >= 20


KAMPUNG_ROUTES = "/v1/kampung/{kampung_id}"
STATEFUL = settings(
    max_examples=20,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    phases=[Phase.generate],
)
REFUSED_WRITE = {409, 412, 422}
"""Documented refusals of a write to a Kampung KB that exists (a missing one is a 404)."""


@dataclass(frozen=True)
class Call:
    operation: str
    method: str
    status: int
    kampung_id: object


def explore(openapi_url: str, *, headers: dict[str, str]) -> tuple[list[str], list[Call], list[str]]:
    """Schemathesis's stateful phase over the Kampung KB operations, following only the links the document declares
    (no inferred ones), each answer checked (no 5xx, a declared status, matches its schema); returns the operations
    under a Kampung KB, every call made and every failed check."""
    config = SchemathesisConfig.from_dict(
        {
            "headers": headers,
            "generation": {"mode": "positive"},
            "phases": {"stateful": {"inference": {"algorithms": []}}},
        }
    )
    document = schemathesis.openapi.from_url(openapi_url, config=config)
    document.as_state_machine()  # every link of the whole document resolves: its target and parameters exist
    schema = document.include(path_regex="^/v1/kampung")
    calls: list[Call] = []
    failures: list[str] = []

    class Workflow(schema.as_state_machine()):  # type: ignore[misc]
        def after_call(self, response: Response, case: Case) -> None:
            super().after_call(response, case)
            kampung_id = (case.path_parameters or {}).get("kampung_id")
            calls.append(Call(case.operation.label, case.method, response.status_code, kampung_id))

        def validate_response(
            self, response: Response, case: Case, additional_checks: list[CheckFunction] | None = None, **kwargs: Any
        ) -> None:
            try:
                case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs or None, recorder=self.recorder)
            except FailureGroup as failure:  # kept here: a replay may meet the API in another state and pass
                failures.append(f"{case.operation.label}: {failure}")
                raise

    # The API's data outlive a scenario, so a replayed prefix of one may take another turn (FlakyStrategyDefinition);
    # schemathesis's own runner ends the phase there too. The calls made so far stand.
    with contextlib.suppress(FlakyStrategyDefinition):
        Workflow.run(settings=STATEFUL)
    kampung_operations = [
        result.ok().label for result in schema.get_all_operations() if result.ok().path.startswith(KAMPUNG_ROUTES)
    ]
    return kampung_operations, calls, failures


def found(call: Call) -> bool:
    """Whether the answer shows the Kampung KB was found: a read succeeded, a write succeeded or was refused."""
    if call.method.upper() == "GET":
        return 200 <= call.status < 300 or call.status == 304
    return 200 <= call.status < 300 or call.status in REFUSED_WRITE


@pytest.mark.timeout(300)  # a couple of minutes at most on a busy machine
async def test_registry_stateful_phase_reaches_every_kampung_route_with_real_ids(registry: tuple[str, str]) -> None:
    url, key = registry
    operations, calls, failures = await asyncio.to_thread(explore, f"{url}/openapi.json", headers=auth(key))
    assert not failures, "\n\n".join(failures)
    async with httpx.AsyncClient(base_url=url, headers=auth(key)) as http:
        tried = {call.kampung_id for call in calls if isinstance(call.kampung_id, int)}
        real = {kampung_id for kampung_id in tried if (await http.get(f"/v1/kampung/{kampung_id}")).status_code == 200}
    answers: dict[str, list[int]] = {operation: [] for operation in operations}
    for call in calls:
        if call.operation in answers and call.kampung_id in real:
            answers[call.operation].append(call.status)
    reached = {call.operation for call in calls if call.kampung_id in real and found(call)}
    missing = {operation: sorted(set(statuses)) for operation, statuses in answers.items() if operation not in reached}
    assert not missing, "\n".join(
        f"{operation}: answered {statuses} with a real id" for operation, statuses in missing.items()
    )
