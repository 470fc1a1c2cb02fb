"""Settings base: every service reads its configuration from the environment through a subclass."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Settings every process has. Subclasses add their own fields under an env prefix."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", frozen=True)

    log_level: str = Field(default="INFO", validation_alias="LOG_LEVEL")
    log_json: bool = Field(default=True, validation_alias="LOG_JSON")


class DatabaseSettings(ServiceSettings):
    """A process that talks to PostgreSQL. `DATABASE_URL` is shared by every service, without prefix."""

    database_url: str = Field(validation_alias="DATABASE_URL")


class RedisSettings(ServiceSettings):
    """A process that talks to Redis. `REDIS_URL` is shared by every service, without prefix."""

    redis_url: str = Field(default="redis://127.0.0.1:6379/0", validation_alias="REDIS_URL")
