"""The alerting rules (`deploy/prometheus/alerts.yml`): each well formed, its PromQL parsed, naming only series the
services export or kube-state-metrics gives; and, where Debian's `prometheus` package put `promtool` on the machine,
checked by it and unit-tested on series that must raise each alert and series that must not (`alerts_test.yml`)."""

import re
import shutil
import subprocess
from typing import Any

import promql_parser
import pytest
import yaml
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.metrics import MetricWrapperBase

import registry_api.background.worker  # the registry worker's own metric, registered
import registry_api.main  # noqa: F401  (every registry-api metric registered)
import report_worker.metrics
from classifier.state import Metrics
from tests.deploy.conftest import REPO

ALERTS = REPO / "deploy" / "prometheus" / "alerts.yml"
UNIT_TESTS = REPO / "tests" / "deploy" / "alerts_test.yml"
KUBE_STATE_METRICS = frozenset(
    {
        "kube_deployment_status_replicas_available",
        "kube_deployment_spec_replicas",
        "kube_horizontalpodautoscaler_status_current_replicas",
        "kube_horizontalpodautoscaler_spec_max_replicas",
    }
)
_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "summary": ("_count", "_sum")}


def _rules() -> list[dict[str, Any]]:
    return [rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]]


def exported(*, families: bool = False) -> set[str]:
    """The series names the services' metrics write, whether or not a sample exists yet (with `families`, their
    families' names too: `http_request_duration_seconds` beside its `_bucket`, `_count` and `_sum`)."""
    names: set[str] = set()
    for registry in (REGISTRY, Metrics.create().registry):
        assert isinstance(registry, CollectorRegistry)
        for family in registry.collect():
            names |= {family.name + suffix for suffix in _SUFFIXES.get(family.type, ("",))}
            if families:
                names.add(family.name)
    return names


def selected(expr: str) -> set[str]:
    """The metric names an expression's selectors name."""
    names: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            names.add(node.name)
        for attribute in ("lhs", "rhs", "expr", "vector_selector"):
            if (child := getattr(node, attribute, None)) is not None:
                visit(child)
        for argument in getattr(node, "args", None) or ():
            visit(argument)

    visit(promql_parser.parse(expr))
    return names


def test_every_rule_is_an_alert_with_severity_summary_and_description() -> None:
    rules = _rules()
    assert len(rules) >= 10
    assert len({rule["alert"] for rule in rules}) == len(rules)
    for rule in rules:
        assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert set(rule["annotations"]) == {"summary", "description"}, rule["alert"]


def test_every_expression_parses_and_names_only_series_that_exist() -> None:
    ours = exported()
    assert {"registry_outbox_oldest_age_seconds", "report_job_failures_total", "http_requests_total"} <= ours
    for rule in _rules():
        names = selected(rule["expr"])
        assert names, rule["alert"]
        unknown = names - ours - KUBE_STATE_METRICS
        assert not unknown, f"{rule['alert']}: no process exports {sorted(unknown)}"


def test_the_readme_names_only_metrics_that_exist() -> None:
    """*What to watch*, in the README's Operations, names the metrics an ops team looks at."""
    readme = (REPO / "README.md").read_text()
    watch = readme[readme.index("**What to watch**") : readme.index("- Alerts: `deploy/prometheus/alerts.yml`")]
    named = set(re.findall(r"`((?:registry|report|classifier|http)_[a-z_]+)(?:\{[a-z_,]*\})?`", watch))
    assert len(named) >= 13, named
    assert not named - exported(families=True)


def test_no_metric_of_ours_has_a_label_prometheus_sets_itself() -> None:
    """Prometheus sets `job` and `instance` on every scraped series (the scrape's) and renames the target's own."""
    metrics = [value for value in vars(report_worker.metrics).values() if isinstance(value, MetricWrapperBase)]
    assert len(metrics) == 5
    for metric in metrics:
        assert not {"job", "instance"} & set(metric._labelnames), metric


PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="no promtool (apt-get install prometheus)")


@needs_promtool
def test_promtool_checks_the_rules_and_their_unit_tests_pass() -> None:
    assert PROMTOOL is not None
    for command in ([PROMTOOL, "check", "rules", str(ALERTS)], [PROMTOOL, "test", "rules", str(UNIT_TESTS)]):
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=UNIT_TESTS.parent)
        assert done.returncode == 0, done.stdout + done.stderr
