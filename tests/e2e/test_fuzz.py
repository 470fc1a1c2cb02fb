"""Schemathesis against both OpenAPI documents, served by real processes: no 5xx, every response matches its schema.

Bounded so that it fits in the suite: a fixed number of generated cases per operation.
"""

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance
from schemathesis.generation.case import Case

from kampungkb_local import processes
from kampungkb_local.servers import free_port

pytestmark = pytest.mark.e2e

CHECKS = [not_a_server_error, response_schema_conformance]
BOUNDED = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


@pytest.fixture(scope="module")
def classifier_url() -> Iterator[str]:
    port = free_port()
    service = processes.classifier(port).start(quiet=True).wait_ready()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        service.stop()


def fuzz(openapi_url: str, *, headers: dict[str, str] | None = None) -> int:
    """Every operation of the document, each with a bounded number of generated cases; returns how many ran."""
    schema = schemathesis.openapi.from_url(openapi_url)
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()

        @BOUNDED
        @given(case=operation.as_strategy())
        def check(case: Case) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        check()
        operations += 1
    return operations


def test_classifier_never_fails_and_matches_its_schema(classifier_url: str) -> None:
    assert fuzz(f"{classifier_url}/openapi.json") >= 6
