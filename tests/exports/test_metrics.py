"""Exports count their rows and bytes by module and format, and each export by outcome."""

from prometheus_client import REGISTRY

from tests.exports.conftest import Registry
from tests.exports.test_round_trip import kampung_file
from tests.imports.files import DESA


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_rows_bytes_and_outcome_are_counted(registry: Registry) -> None:
    await registry.imported("kampung", kampung_file(DESA[:7]), period=None)
    labels = {"module": "kampung", "format": "ndjson"}
    before = (
        sample("registry_export_rows_total", **labels),
        sample("registry_export_bytes_total", **labels),
        sample("registry_exports_total", **labels, outcome="completed"),
    )
    response = await registry.export("kampung", format="ndjson")
    assert response.status_code == 200
    after = (
        sample("registry_export_rows_total", **labels),
        sample("registry_export_bytes_total", **labels),
        sample("registry_exports_total", **labels, outcome="completed"),
    )
    assert [b - a for a, b in zip(before, after, strict=True)] == [7, len(response.content), 1]
