"""Export figures for Prometheus: rows and bytes as they stream, and each export's outcome when it ends."""

from prometheus_client import Counter

ROWS = Counter("registry_export_rows_total", "Rows of exports streamed to the end", ["module", "format"])
BYTES = Counter("registry_export_bytes_total", "Bytes of exports sent, header included", ["module", "format"])
EXPORTS = Counter(
    "registry_exports_total",
    "Exports by outcome: completed, failed (the database stopped it), disconnected (the client went away), busy "
    "(refused: as many streaming as the server streams at once)",
    ["module", "format", "outcome"],
)
