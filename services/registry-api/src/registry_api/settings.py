"""Registry settings, read from the environment (`REGISTRY_*`, plus the shared `DATABASE_URL` and `REDIS_URL`)."""

import ipaddress
from functools import lru_cache

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from kampungkb_shared.closing import Closing
from kampungkb_shared.settings import CommaSeparated, DatabaseSettings, HttpSettings, RedisSettings
from kampungkb_shared.timeliness import DeadlineSettings


class Settings(DatabaseSettings, RedisSettings, HttpSettings, DeadlineSettings):
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
    db_pool_timeout_s: float = Field(default=10.0, gt=0)
    """How long a request waits for a free database connection (every one busy: slow exports, a burst) before it
    answers 503 with `Retry-After`, rather than holding a phone's request for SQLAlchemy's 30 s."""
    exports_at_once: int = Field(default=4, ge=1)
    """Exports one process streams at once (`exports/slots.py`), each on a connection of the pool while its client
    reads: `export_slots`."""
    outbox_relay_in_api: bool = True
    """Run the outbox relay inside the API process too (near-real-time delivery without `registry-api worker`)."""
    outbox_poll_s: float = 0.5
    outbox_gather_s: float = 0.1
    """A write wakes its process's relay, which lets report events gather this long, then delivers them together."""
    outbox_batch: int = 200
    partner_window_sweep_s: float = Field(default=3600.0, gt=0)
    """How often a relay looks for the Kampung KB that a partner left a rule set's window (`kkb-2025` counts partners
    of the last 12 months) in a month nothing classified them in, and classifies them again."""
    outbox_retention_s: float = 86_400.0
    """Delivered outbox events are deleted after this long."""
    changes_retention_days: float = 90.0
    """The change feed keeps its items this long; a client whose cursor is older gets 410 and pulls again whole."""
    changes_page_max: int = 1000
    """The most items one page of the change feed holds."""
    report_defer_s: float = 0.3
    """Report jobs are deferred this long so that a burst of writes in one kabupaten becomes one refresh."""
    report_lease_s: float = Field(default=120.0, gt=0)
    """A `report` event stays owed once its job is queued, until report-worker confirms the job done; unconfirmed
    after this long (the job lost with Redis's data, dropped after its tries, timed out), it is queued again."""
    worker_metrics_port: int = 9101
    imports_in_api: bool = True
    """Run import jobs in the API process too, beside `registry-api worker` (both claim jobs with a lease)."""
    import_runners: int = Field(default=1, ge=1)
    """Import jobs `registry-api worker` runs side by side (an API process runs one). Where cores are to spare, two
    let a month's kkbpk file be claimed beside its profil and kependudukan and read its rows while they merge; on two
    cores the third file's parsing slows the other two more than it gains (the README's national month)."""
    import_poll_s: float = 1.0
    import_lease_s: float = 30.0
    """A running job's lease, renewed every third of it; a job whose lease ran out is claimed again."""
    import_max_attempts: int = 3
    """A job claimed this many times without finishing fails with the reason of its last attempt."""
    import_chunk_bytes: int = 1_048_576
    """Bodies are stored in PostgreSQL in chunks of about this size while the request streams."""
    import_max_record_bytes: int = Field(default=64 * 1024, gt=0)
    """A record (CSV record or NDJSON line) longer than this is a row error, dropped as it streams past."""
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

    period_closes_after_days: int = Field(default=0, ge=0)
    """A month closes itself to operators and integrations this many days after its end, as if approved (0: never)."""

    key_max_days_person: int = 90
    """The longest a key given over the API to a person may live (`expires_in_days`)."""
    key_max_days_device: int = 365
    key_max_days_integration: int = 365
    dashboard_session_hours: float = Field(default=12.0, gt=0)
    """How long a sign-in to the dashboard lasts (never beyond its key's expiry); then the officer signs in again."""
    enrolment_valid_s: int = 86_400
    """How long a phone enrolment's one-time code may be used."""
    enrolment_retry_s: int = Field(default=120, ge=0)
    """How long after a code's use the same phone (the same `device_name`) may post it again, its first answer lost,
    and get a new key for the one then made (revoked, unless used meanwhile); 0: never. Short: in that time whoever
    holds the code and the phone's name could replace a phone whose key has not yet made a successful request."""
    oidc_issuer: str | None = None
    """An OpenID Connect issuer (`https://sso.example.go.id/realms/bkkbn`): its bearer tokens are accepted beside
    API keys. Unset: API keys only."""
    oidc_audience: str = "kampungkb-registry"
    oidc_algorithms: CommaSeparated = Field(default=["RS256", "ES256", "PS256", "EdDSA"])
    oidc_role_claim: str = "kampungkb_role"
    oidc_scope_claim: str = "kampungkb_scope"
    oidc_name_claim: str = "name"
    oidc_jwks_ttl_s: float = 3600.0
    """The provider's keys are fetched again after this long."""
    oidc_jwks_refetch_s: float = 30.0
    """A token signed with an unknown key id refetches the keys at most this often."""
    oidc_leeway_s: float = 30.0
    """Clock skew allowed on `exp` and `nbf`."""
    rate_limits: dict[str, str] = Field(
        default={
            "read": "6000/minute",
            "write": "3000/minute",
            "import": "60/minute",
            "keys": "120/minute",
            "anonymous": "600/minute",
            "enrol": "30/minute",
        }
    )
    """Per route group (`limits` notation; JSON in the environment); per principal, per client address for
    `anonymous` reads and `enrol`. A group left out has no limit."""
    rate_limits_enabled: bool = True
    rate_limit_prefix: str = "kkb-rate"
    """Prefix of the counters' Redis keys."""
    import_running_per_principal: int = 3
    """Import jobs of one principal that run at once (a month's three module files); claims go to the principal with
    the fewest running first."""
    percontohan_limit_kecamatan: int = Field(default=1, ge=1)
    """Percontohan Kampung KB a kecamatan may have (Kota Tangerang: one in each of five kecamatan)."""
    percontohan_limit_kabupaten: int = Field(default=1, ge=1)
    """Per kabupaten/kota: the official website allowed one."""
    percontohan_limit_provinsi: int = Field(default=1, ge=1)
    """Per provinsi: the official website allowed one."""

    def percontohan_limit(self, level: str) -> int:
        """At most this many active percontohan per region at `level` (kecamatan, kabupaten or provinsi)."""
        limit: int = getattr(self, f"percontohan_limit_{level}")
        return limit

    webhooks_in_api: bool = True
    """Deliver webhooks inside the API process too, beside `registry-api worker` (both claim with a lease)."""
    webhook_allowed_networks: CommaSeparated = Field(default=[])
    """CIDRs receivers may resolve into besides public addresses (`127.0.0.0/8,10.0.0.0/8`); by default loopback,
    private, link-local, multicast and reserved addresses are refused."""
    webhook_ca_file: str | None = None
    """A PEM file of certificate authorities receivers' certificates may be issued by, besides the public ones (a
    ministry's own authority for its systems)."""
    webhook_batch: int = Field(default=100, ge=1, le=1000)
    """The most feed items one delivery holds."""
    webhook_timeout_s: float = 10.0
    """A receiver's time to answer one delivery (connect included)."""
    webhook_concurrency: int = Field(default=16, ge=1)
    """Subscriptions one process delivers to at once."""
    webhook_lease_s: float = 60.0
    """How long a claimed subscription stays with its worker (longer than a delivery); then another may take it."""
    webhook_poll_s: float = 1.0
    """How often a worker looks for due subscriptions and new changes."""
    webhook_retry_base_s: float = 5.0
    """The first retry's delay, doubling with each failed attempt up to `webhook_retry_max_s`."""
    webhook_retry_max_s: float = 3600.0
    webhook_retry_window_s: float = 86_400.0
    """A subscription failing for this long is disabled (its owner enables it again)."""
    webhook_log_retention_days: float = 30.0
    """Delivery attempts (`GET /v1/webhooks/{id}/deliveries`) are kept this long."""

    @field_validator("webhook_allowed_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for cidr in value:
            ipaddress.ip_network(cidr, strict=False)  # a ValueError names the bad one at start
        return value

    @property
    def export_slots(self) -> int:
        """Exports streamed at once: `exports_at_once`, never more than the pool's size, so that slow downloads never
        hold its overflow too."""
        return min(self.exports_at_once, self.db_pool_size)

    @property
    def primary_ruleset(self) -> str:
        return self.rulesets[0]

    def closing(self) -> Closing:
        """When months close by themselves, in the reporting time zone."""
        return Closing(after_days=self.period_closes_after_days, time_zone=self.reporting_time_zone)


@lru_cache
def get_settings() -> Settings:
    return Settings()
