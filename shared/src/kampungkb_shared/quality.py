"""Data-quality flags: their kinds and subjects, as report-worker raises them and the registry serves them."""

from enum import StrEnum


class FlagKind(StrEnum):
    """What a data-quality flag warns about."""

    KKBPK_OUTLIER = "kkbpk_outlier"
    """A method's users (or all users) far from the Kampung KB's own last 12 months."""
    JUMP = "jump"
    """PUS or population changed by more than the configured share since the month before."""
    IMPLAUSIBLE_RATIO = "implausible_ratio"
    """A ratio that cannot be: one method only across 100+ users, or a CPR of 100 %."""


TOTAL_USERS = "TOTAL"
"""The subject of an outlier in the sum of every method's users."""
JUMP_SUBJECTS = ("pus", "population")
SINGLE_METHOD = "single_method"
CPR_100 = "cpr_100"

FLAG_INPUTS = (
    "kind = 'submission' AND module IN ('kkbpk', 'kependudukan') OR kind = 'kampung' AND action IN ('updated', "
    "'deactivated')"
)
"""The change feed's rows that can move a flag, as a condition on `change_log`: a kkbpk or kependudukan written
(from its period on), a Kampung KB deactivated or updated (it may be active again; every period). A new one has no
submission yet; a tier is no input. The report worker reads a kabupaten's such rows by the feed's partial index
`ix_change_log_kabupaten`, which holds these rows only: the two must say the same."""
