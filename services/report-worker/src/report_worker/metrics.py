"""Prometheus metrics of the worker process, served on `WORKER_METRICS_PORT`. Jobs are labelled by `function`, not
`job`: Prometheus gives every scraped series a `job` label of its own (the scrape's), and would rename ours."""

from prometheus_client import Counter, Gauge, Histogram

JOB_SECONDS = Histogram(
    "report_job_duration_seconds",
    "Run time of report jobs, by function.",
    ["function"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)
JOB_FAILURES = Counter(
    "report_job_failures_total",
    "Report jobs that did not finish, by function and reason: error (raised), database (PostgreSQL unreachable: run"
    " again later), timeout (cancelled at the function's timeout), cancelled (cut short at shutdown: run again).",
    ["function", "reason"],
)
QUEUE_DEPTH = Gauge("report_queue_depth", "Jobs in the report queue (waiting, deferred or running).")
ROWS_WRITTEN = Counter("report_rows_written_total", "Aggregate rows written, by function.", ["function"])
LOOP_TICK = Gauge(
    "report_worker_loop_tick_timestamp_seconds",
    "Unix time of the event loop's last heartbeat tick (every second; /healthz fails after 60 s without one).",
)
