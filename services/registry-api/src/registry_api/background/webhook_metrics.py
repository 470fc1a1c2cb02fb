"""The webhook deliveries' figures for Prometheus (the API's /metrics and the worker's metrics server). Every
dispatcher exports the backlog and the disabled count, read from the database: across processes, take their `max`."""

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
BACKLOG_AGE = Gauge(
    "registry_webhook_backlog_age_seconds",
    "Per enabled subscription: seconds since the oldest change it is owed and has not had was made (0: caught up);"
    " grows while its receiver is down, whether or not anything is delivered",
    ["subscription"],
)
DISABLED = Gauge(
    "registry_webhook_subscriptions_disabled",
    "Webhook subscriptions disabled (failing for the whole retry window, behind the kept changes, or their creator"
    " without a key in force): nothing is delivered to them until enabled",
)
LAG_ITEMS = Histogram(
    "registry_webhook_item_lag_seconds",
    "Seconds between each delivered item's changed_at and its delivery",
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 86_400),
)
