"""Report-worker settings: `WORKER_*` variables, plus the shared `DATABASE_URL` and `REDIS_URL`."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from kampungkb_shared.settings import CommaSeparated, DatabaseSettings, RedisSettings
from kampungkb_shared.timeliness import DeadlineSettings
from report_worker.quality import QualityRules


class Settings(DatabaseSettings, RedisSettings, DeadlineSettings):
    model_config = SettingsConfigDict(env_prefix="WORKER_", extra="ignore", frozen=True)

    rulesets: CommaSeparated = Field(default=["bkkbn-web-2021", "kkb-2025"])
    """Rule sets aggregated for every period; each gets its own rows."""
    metrics_port: int = 9100
    """Prometheus metrics (`/metrics`); 0 turns the endpoint off."""
    max_jobs: int = 4
    job_timeout_s: float = 60.0
    """A chain refresh running longer is cancelled."""
    rebuild_timeout_s: float = 600.0
    """The same for a whole-period rebuild, which may run through every computed period after its own: years of
    national history at a few seconds a period. Cut short, it would start again from its first period each time.
    arq re-runs the jobs of a worker killed without its shutdown once the longer of the two timeouts plus 10 s has
    passed (a worker stopped by SIGTERM hands its jobs back at once)."""
    shutdown_wait_s: int = Field(default=75, ge=0)
    """On SIGTERM, jobs running may finish for this long (none is started meanwhile), then the rest are cancelled and
    run again by another worker: under the pods' `terminationGracePeriodSeconds` (90) and compose's
    `stop_grace_period`, so that the process ends on its own before it is killed. arq's `job_completion_wait`."""
    redis_retry_max_s: float = Field(default=30.0, gt=0)
    """While Redis is away, the worker tries it again after 0.5 s, then twice as long each time up to this."""
    poll_delay_s: float = 0.05
    """How often the queue is polled: part of a submission's way into its report."""
    queue_depth_interval_s: float = 5.0
    db_pool_size: int = 5
    rebuild_connections: int = Field(default=2, ge=1)
    """A whole-period rebuild and its data-quality pass run on this many connections of their own side by side, each
    over a share of the provinsi (1: one statement on the job's connection; `report_worker.apart`)."""
    nightly_hour: int = 17
    """UTC hour of the nightly rebuild of the current period (17:00 UTC is midnight in WIB)."""
    nightly_minute: int = 30
    rebuild_on_startup: bool = True
    """Queue a rebuild of the current period at startup when it has not been computed yet."""
    quality_flags: bool = True
    """Raise data-quality flags after each refresh and rebuild (see `report_worker.quality`)."""
    quality_min_history: int = Field(default=6, ge=1, le=12)
    """kkbpk of the 12 months before that a month's outlier check needs (fewer: no outlier flag)."""
    quality_outlier_z: float = Field(default=3.5, gt=0)
    """Modified z-score over which (with the min-max check) a kkbpk count is an outlier."""
    quality_jump_share: float = Field(default=0.5, gt=0)
    """A PUS or population that changes by more than this share of the month before is flagged."""
    quality_single_method_users: int = Field(default=100, ge=1)
    """Users from which one method only is implausible."""

    def quality_rules(self) -> QualityRules | None:
        """The thresholds of the data-quality flags; None when they are turned off."""
        if not self.quality_flags:
            return None
        return QualityRules(
            min_history=self.quality_min_history,
            outlier_z=self.quality_outlier_z,
            jump_share=self.quality_jump_share,
            single_method_users=self.quality_single_method_users,
        )
