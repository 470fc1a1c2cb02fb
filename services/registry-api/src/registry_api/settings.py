"""Registry settings, read from the environment (`REGISTRY_*`, plus the shared `DATABASE_URL` and `REDIS_URL`)."""

from functools import lru_cache
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from kampungkb_shared.settings import DatabaseSettings, RedisSettings


class Settings(DatabaseSettings, RedisSettings):
    model_config = SettingsConfigDict(env_prefix="REGISTRY_", extra="ignore", frozen=True)

    classifier_url: str = "http://127.0.0.1:8001"
    classifier_timeout_s: float = 2.0
    classifier_attempts: int = 3
    rulesets: Annotated[list[str], NoDecode] = Field(default=["bkkbn-web-2021", "kkb-2025"])
    """Rule sets every submission is classified with; the first is the one `tier` on a profile shows."""
    cors_origins: Annotated[list[str], NoDecode] = Field(default=["http://localhost:3000", "http://localhost:5173"])
    public_reads: bool = True
    """Region and report reads without an API key."""
    max_body_bytes: int = 1_048_576
    max_import_bytes: int = 512 * 1_048_576
    import_dir: str = ".local/imports"
    db_pool_size: int = 10

    @field_validator("rulesets", "cors_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        return [part.strip() for part in value.split(",") if part.strip()] if isinstance(value, str) else value

    @property
    def primary_ruleset(self) -> str:
        return self.rulesets[0]


@lru_cache
def get_settings() -> Settings:
    return Settings()  # type: ignore[call-arg]
