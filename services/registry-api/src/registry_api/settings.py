"""Registry settings, read from the environment (`REGISTRY_*`, plus the shared `DATABASE_URL` and `REDIS_URL`)."""

from functools import lru_cache

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from kampungkb_shared.settings import CommaSeparated, DatabaseSettings, RedisSettings


class Settings(DatabaseSettings, RedisSettings):
    model_config = SettingsConfigDict(env_prefix="REGISTRY_", extra="ignore", frozen=True)

    classifier_url: str = "http://127.0.0.1:8001"
    classifier_timeout_s: float = 1.0
    """Per attempt."""
    classifier_attempts: int = 3
    classifier_budget_s: float = 1.5
    """All attempts of one classification in a write, backoff included: a PUT never waits longer for it."""
    classifier_breaker_s: float = 2.0
    """After the classifier failed, writes skip it (classification pending) for this long."""
    relay_classifier_budget_s: float = 10.0
    """The relay's budget per classifier batch call: it is not holding up a user."""
    rulesets: CommaSeparated = Field(default=["bkkbn-web-2021", "kkb-2025"])
    """Rule sets every submission is classified with; the first is the one `tier` on a profile shows."""
    cors_origins: CommaSeparated = Field(default=["http://localhost:3000", "http://localhost:5173"])
    public_reads: bool = True
    """Region and report reads without an API key."""
    max_body_bytes: int = 1_048_576
    max_import_bytes: int = 512 * 1_048_576
    db_pool_size: int = 10
    outbox_relay_in_api: bool = True
    """Run the outbox relay inside the API process too (near-real-time delivery without `registry-api worker`)."""
    outbox_poll_s: float = 0.5
    outbox_gather_s: float = 0.1
    """A write wakes its process's relay, which lets report events gather this long, then delivers them together."""
    outbox_batch: int = 200
    outbox_retention_s: float = 86_400.0
    """Delivered outbox events are deleted after this long."""
    report_defer_s: float = 0.3
    """Report jobs are deferred this long so that a burst of writes in one kabupaten becomes one refresh."""
    worker_metrics_port: int = 9101
    imports_in_api: bool = True
    """Run import jobs in the API process too, beside `registry-api worker` (both claim jobs with a lease)."""
    import_poll_s: float = 1.0
    import_lease_s: float = 30.0
    """A running job's lease, renewed every third of it; a job whose lease ran out is claimed again."""
    import_max_attempts: int = 3
    """A job claimed this many times without finishing fails with the reason of its last attempt."""
    import_chunk_bytes: int = 1_048_576
    """Bodies are stored in PostgreSQL in chunks of about this size while the request streams."""
    import_classifier_chunk: int = 5_000
    """Results per classifier batch call of an import: snapshots times rule sets."""
    import_classifier_concurrency: int = 2
    """Classifier batch calls an import makes at once."""
    import_classifier_budget_s: float = 120.0
    """An import's budget per classifier batch call, retries included."""
    import_classifier_timeout_s: float = 30.0
    """Per attempt of an import's batch call: one of 5,000 results takes about a second on a busy machine, far more
    than the write path's short `classifier_timeout_s`, which would fail it and leave the work to the relay."""
    import_classify_apart_from: int = 10_000
    """An import that merged this many Kampung KB or more commits its merge first and then classifies on
    `import_classify_connections` connections side by side, rather than on its one connection before committing."""
    import_classify_connections: int = 2
    """Connections (transactions) a large import classifies on once its merge has committed."""
    import_handover_s: float = 120.0
    """A module import with a later one queued leaves its classification to it; if that one has not taken it over
    after this long, the outbox relay classifies it."""
    percontohan_limit_kecamatan: int = Field(default=1, ge=1)
    """Percontohan Kampung KB a kecamatan may have (Kota Tangerang: one in each of five kecamatan)."""
    percontohan_limit_kabupaten: int = Field(default=1, ge=1)
    """Per kabupaten/kota: the official website allowed one."""
    percontohan_limit_provinsi: int = Field(default=1, ge=1)
    """Per provinsi: the official website allowed one."""
    import_test_phase_sleep_s: float = 0.0
    """Tests only: `pg_sleep` this long between an import's phases, inside its transaction, to kill it midway."""

    def percontohan_limit(self, level: str) -> int:
        """At most this many active percontohan per region at `level` (kecamatan, kabupaten or provinsi)."""
        limit: int = getattr(self, f"percontohan_limit_{level}")
        return limit

    @property
    def primary_ruleset(self) -> str:
        return self.rulesets[0]


@lru_cache
def get_settings() -> Settings:
    return Settings()
