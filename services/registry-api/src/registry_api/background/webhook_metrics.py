"""The webhook deliveries' figures for Prometheus (the API's /metrics and the worker's metrics server)."""

from prometheus_client import Counter, Gauge, Histogram

DELIVERIES = Counter(
    "registry_webhook_deliveries_total",
    "Webhook delivery attempts by outcome (delivered, http_error, timeout, unreachable, refused, expired)",
    ["outcome"],
)
ITEMS = Counter("registry_webhook_items_delivered_total", "Change feed items delivered to webhook receivers")
LAG = Gauge(
    "registry_webhook_lag_seconds",
    "Seconds between the newest delivered item's changed_at and its delivery, per subscription",
    ["subscription"],
)
LAG_ITEMS = Histogram(
    "registry_webhook_item_lag_seconds",
    "Seconds between each delivered item's changed_at and its delivery",
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 86_400),
)
