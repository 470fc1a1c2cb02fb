"""Settings base: every service reads its configuration from the environment through a subclass."""

from typing import Annotated

from pydantic import BeforeValidator, Field
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def _split_commas(value: object) -> object:
    return [part.strip() for part in value.split(",") if part.strip()] if isinstance(value, str) else value


CommaSeparated = Annotated[list[str], NoDecode, BeforeValidator(_split_commas)]
"""A list setting written in the environment as `a,b,c`."""


class ServiceSettings(BaseSettings):
    """Settings every process has. Subclasses add their own fields under an env prefix."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", frozen=True)

    log_level: str = Field(default="INFO", validation_alias="LOG_LEVEL")
    log_json: bool = Field(default=True, validation_alias="LOG_JSON")


class HttpSettings(ServiceSettings):
    """A process that serves HTTP. `HSTS_MAX_AGE_S` is shared by every HTTP service, without prefix."""

    hsts_max_age_s: int = Field(default=0, ge=0, validation_alias="HSTS_MAX_AGE_S")
    """`Strict-Transport-Security` max-age on every response; 0 sends none (TLS ends at the Ingress or proxy)."""


class DatabaseSettings(ServiceSettings):
    """A process that talks to PostgreSQL. `DATABASE_URL` is shared by every service, without prefix."""

    database_url: str = Field(validation_alias="DATABASE_URL")


class RedisSettings(ServiceSettings):
    """A process that talks to Redis. `REDIS_URL` is shared by every service, without prefix."""

    redis_url: str = Field(default="redis://127.0.0.1:6379/0", validation_alias="REDIS_URL")
