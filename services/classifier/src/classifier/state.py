"""What the app holds once started: settings, rule sets and metrics."""

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram

from classifier.ruleset import RuleSet
from classifier.settings import Settings
from kampungkb_shared.classification import RuleSetInfo

__all__ = ["AppState", "Metrics", "RuleSetInfo"]


@dataclass
class Metrics:
    registry: CollectorRegistry
    latency: Histogram
    classifications: Counter

    @classmethod
    def create(cls) -> "Metrics":
        registry = CollectorRegistry()
        latency = Histogram(
            "classifier_request_duration_seconds",
            "HTTP request latency by route.",
            ["route", "method"],
            registry=registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        classifications = Counter(
            "classifier_classifications",
            "Classifications by tier and rule set.",
            ["tier", "ruleset"],
            registry=registry,
        )
        return cls(registry, latency, classifications)


@dataclass
class AppState:
    settings: Settings
    rulesets: dict[str, RuleSet]
    default: str
