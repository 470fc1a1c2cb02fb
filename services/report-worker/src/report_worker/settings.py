"""Report-worker settings: `WORKER_*` variables, plus the shared `DATABASE_URL` and `REDIS_URL`."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from kampungkb_shared.settings import CommaSeparated, DatabaseSettings, RedisSettings
from kampungkb_shared.timeliness import DeadlineSettings


class Settings(DatabaseSettings, RedisSettings, DeadlineSettings):
    model_config = SettingsConfigDict(env_prefix="WORKER_", extra="ignore", frozen=True)

    rulesets: CommaSeparated = Field(default=["bkkbn-web-2021", "kkb-2025"])
    """Rule sets aggregated for every period; each gets its own rows."""
    metrics_port: int = 9100
    """Prometheus metrics (`/metrics`); 0 turns the endpoint off."""
    max_jobs: int = 4
    job_timeout_s: float = 60.0
    """A job running longer is cancelled. A killed worker's job is re-run by arq once this plus 10 s has passed."""
    poll_delay_s: float = 0.05
    """How often the queue is polled: part of a submission's way into its report."""
    queue_depth_interval_s: float = 5.0
    db_pool_size: int = 5
    nightly_hour: int = 17
    """UTC hour of the nightly rebuild of the current period (17:00 UTC is midnight in WIB)."""
    nightly_minute: int = 30
    rebuild_on_startup: bool = True
    """Queue a rebuild of the current period at startup when it has not been computed yet."""
