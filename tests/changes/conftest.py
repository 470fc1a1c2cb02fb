"""The change tests run against the registry in-process (`client`, `live_client`) and as real processes."""

from tests.registry_api.conftest import admin, dead_url, kampung_id, live_client, settings

__all__ = ["admin", "dead_url", "kampung_id", "live_client", "settings"]
