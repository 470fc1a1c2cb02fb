"""Classifier settings, from `CLASSIFIER_*` environment variables."""

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from kampungkb_shared.settings import HttpSettings


class Settings(HttpSettings):
    model_config = SettingsConfigDict(env_prefix="CLASSIFIER_")

    default_ruleset: str = "bkkbn-web-2021"
    rulesets_dir: Path | None = Field(default=None, description="Where the rule set files are; default: packaged.")
    max_batch_items: int = 10_000
    max_body_bytes: int = 128 * 1024 * 1024
