"""Report jobs on the Redis queue: names, payloads and deterministic job ids.

The registry enqueues them (after commit, through its outbox relay); report-worker runs them.
Payloads are primitives only. A deterministic job id makes a burst of submissions in one
kabupaten for one period collapse into one queued refresh. Every producer and worker stores jobs as JSON
(`serialize_job`, `deserialize_job`), never as pickle: whoever can write to Redis must not be able to run code in
a worker by queueing a crafted payload.
"""

import json
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, model_validator

from kampungkb_shared.periods import Period
from kampungkb_shared.regions import RegionCode

REPORT_QUEUE = "kampungkb:reports"
"""The arq queue report-worker listens on."""

REFRESH_REGION_CHAIN = "refresh_region_chain"
REBUILD_PERIOD = "rebuild_period"


def _check_span(period: str, through: str | None) -> None:
    if through is not None and through < period:  # YYYY-MM texts sort as the months do
        raise ValueError(f"through {through} is before period {period}")


class RefreshRegionChain(BaseModel):
    """Recompute the aggregates of one kabupaten/kota and its kecamatan, provinsi and the nation for a period and the
    computed periods after it, up to `through` when it is given."""

    model_config = ConfigDict(frozen=True)
    function: ClassVar[str] = REFRESH_REGION_CHAIN

    period: Period
    kabupaten_code: RegionCode
    through: Period | None = None
    """The last period to refresh; none: every computed one after `period`, including those computed later."""
    request_id: str | None = None

    @model_validator(mode="after")
    def _through_not_before_period(self) -> "RefreshRegionChain":
        _check_span(self.period, self.through)
        return self

    def key(self) -> str:
        """Its outbox key: `{period}:{kabupaten}`, or `{period}..{through}:{kabupaten}` for a bounded one."""
        span = self.period if self.through is None else f"{self.period}..{self.through}"
        return f"{span}:{self.kabupaten_code}"

    def job_id(self) -> str:
        """Same periods and kabupaten, same id: arq keeps one queued job per id."""
        return f"refresh:{self.key()}"


class RebuildPeriod(BaseModel):
    """Recompute every aggregate of one period, and of the computed periods after it up to `through`."""

    model_config = ConfigDict(frozen=True)
    function: ClassVar[str] = REBUILD_PERIOD

    period: Period
    through: Period | None
    """The last period to rebuild; none: every computed one after `period`. Left out, `period` alone (as every
    payload written before the field was)."""
    request_id: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _one_period_by_default(cls, data: Any) -> Any:
        if isinstance(data, dict) and "through" not in data:
            return {**data, "through": data.get("period")}
        return data

    @model_validator(mode="after")
    def _through_not_before_period(self) -> "RebuildPeriod":
        _check_span(self.period, self.through)
        return self

    def key(self) -> str:
        """Its outbox key: `{period}` for one period, `{period}..{through}`, or `{period}..` for every later one."""
        if self.through == self.period:
            return self.period
        return f"{self.period}..{self.through or ''}"

    def job_id(self) -> str:
        """Same periods, same id: arq keeps one queued job per id."""
        return f"rebuild:{self.key()}"


ReportJob = RefreshRegionChain | RebuildPeriod


def report_job(payload: dict[str, Any]) -> ReportJob:
    """The job a `report` outbox payload describes: a chain refresh names its kabupaten, a rebuild does not."""
    if "kabupaten_code" in payload:
        return RefreshRegionChain.model_validate(payload)
    return RebuildPeriod.model_validate(payload)


def serialize_job(data: dict[str, Any]) -> bytes:
    """arq's `job_serializer`: a job (or its result) as JSON; an exception a failed job returns becomes its text."""
    return json.dumps(data, separators=(",", ":"), default=_fallback).encode()


def deserialize_job(raw: bytes) -> dict[str, Any]:
    """arq's `job_deserializer`: JSON only; anything else (a pickled job, say) raises, and arq fails the job unrun."""
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError(f"a job is a JSON object, not a {type(data).__name__}")
    if isinstance(args := data.get("a"), list):
        data["a"] = tuple(args)  # arq's positional arguments, as pickle would have kept them
    return data


def _fallback(value: object) -> str:
    if isinstance(value, BaseException):
        return f"{type(value).__name__}: {value}"
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
