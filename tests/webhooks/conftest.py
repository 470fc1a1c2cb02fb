"""The webhook tests run against the registry in-process and a receiver process on loopback."""

from tests.registry_api.conftest import admin, app_client, settings

__all__ = ["admin", "app_client", "settings"]
