"""Report jobs on the Redis queue: names, payloads and deterministic job ids.

The registry enqueues them (after commit, through its outbox relay); report-worker runs them.
Payloads are primitives only. A deterministic job id makes a burst of submissions in one
kabupaten for one period collapse into one queued refresh.
"""

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from kampungkb_shared.periods import Period
from kampungkb_shared.regions import RegionCode

REPORT_QUEUE = "kampungkb:reports"
"""The arq queue report-worker listens on."""

REFRESH_REGION_CHAIN = "refresh_region_chain"
REBUILD_PERIOD = "rebuild_period"


class RefreshRegionChain(BaseModel):
    """Recompute the aggregates of one kabupaten/kota and its kecamatan, provinsi and the nation for a period."""

    model_config = ConfigDict(frozen=True)
    function: ClassVar[str] = REFRESH_REGION_CHAIN

    period: Period
    kabupaten_code: RegionCode
    request_id: str | None = None

    def job_id(self) -> str:
        """Same period and kabupaten, same id: arq keeps one queued job per id."""
        return f"refresh:{self.period}:{self.kabupaten_code}"


class RebuildPeriod(BaseModel):
    """Recompute every aggregate of one period."""

    model_config = ConfigDict(frozen=True)
    function: ClassVar[str] = REBUILD_PERIOD

    period: Period
    request_id: str | None = None

    def job_id(self) -> str:
        return f"rebuild:{self.period}"


ReportJob = RefreshRegionChain | RebuildPeriod


def report_job(payload: dict[str, Any]) -> ReportJob:
    """The job a `report` outbox payload describes: a chain refresh names its kabupaten, a rebuild does not."""
    if "kabupaten_code" in payload:
        return RefreshRegionChain.model_validate(payload)
    return RebuildPeriod.model_validate(payload)
