import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, Field

from kampungkb_shared.classification import ClassificationResult, Indices, Passed, Snapshot
from kampungkb_shared.codes import Tier
from registry_api.classifications.models import Classification


class ClassificationSummary(BaseModel):
    """A classification without its explanation and snapshot: what a write answers under `Prefer: return=minimal`."""

    status: Literal["classified"] = Field(default="classified", description="Always `classified`.")
    ruleset: str = Field(description="The rule set that scored it.")
    period: str = Field(description="The month classified, `YYYY-MM`.")
    tier: Tier = Field(description="The tier.")
    indices: Indices = Field(description="The three indices.")
    passed: Passed = Field(description="Which indices reach the threshold.")


class ClassificationRead(ClassificationResult):
    """A stored classification: the classifier's result and explanation, with the input it saw."""

    status: Literal["classified"] = Field(
        default="classified", description='Always `classified` (a pending one is `{"status": "pending"}`).'
    )
    kampung_id: int = Field(description="The Kampung KB.")
    computed_at: dt.datetime = Field(description="When the classification was stored.")
    snapshot_hash: str = Field(description="SHA-256 of the snapshot it was computed from.")
    snapshot: Snapshot = Field(description="What the classifier saw: the modules in force and the partners.")

    def summary(self) -> ClassificationSummary:
        return ClassificationSummary(
            ruleset=self.ruleset, period=self.period, tier=self.tier, indices=self.indices, passed=self.passed
        )

    @classmethod
    def of(cls, row: Classification) -> "ClassificationRead":
        return cls.stored(row.result, row.kampung_id, row.computed_at, row.snapshot_hash, row.snapshot.snapshot)

    @classmethod
    def stored(
        cls, result: dict[str, Any], kampung_id: int, computed_at: dt.datetime, snapshot_hash: str, snapshot: Any
    ) -> "ClassificationRead":
        """From a stored classification's parts: its result, its row's columns and the snapshot it saw."""
        return cls.model_validate(
            {
                **result,
                "kampung_id": kampung_id,
                "computed_at": computed_at,
                "snapshot_hash": snapshot_hash,
                "snapshot": snapshot,
            }
        )
