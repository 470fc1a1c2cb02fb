"""The timeliness figures of the aggregates: per module, counted Kampung KB on time and late for the period.

The deadline of each period is computed once in Python (`kampungkb_shared.timeliness.deadline`) and passed to the
statement beside the period, so the worker and the registry's list apply the same rule.
"""

from kampungkb_shared.timeliness import FIRST_WRITTEN_SQL, TIMELY_MODULES

ALIASES = {"profil": "prof", "kependudukan": "kep", "kkbpk": "kb"}
"""The alias of each module's in-force lateral in the aggregate statement."""

FIRST_WRITTEN = f"CASE WHEN s.period = kk.period THEN {FIRST_WRITTEN_SQL} END AS first_at"
"""Of the submission in force, when it was first written (`FIRST_WRITTEN_SQL`), if it is the period's own."""
FIRST_WRITTEN_OWN = f"{FIRST_WRITTEN_SQL} AS first_at"
"""The same, of a submission read as the period's own."""

BASE_COLUMNS = ", ".join(
    f"{ALIASES[m]}.first_at < kk.deadline AS {m}_on_time, {ALIASES[m]}.first_at >= kk.deadline AS {m}_late"
    for m in TIMELY_MODULES
)
"""Per Kampung KB: whether each module's submission of the period came by the deadline or after it (else NULL)."""

FIGURES: list[tuple[str, str]] = [
    (f"{module}_{status}", f"count(*) FILTER (WHERE b.{module}_{status})")
    for module in TIMELY_MODULES
    for status in ("on_time", "late")
]
"""Stored counts; missing is the counted Kampung KB less both."""
