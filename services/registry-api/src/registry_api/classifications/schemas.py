import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, Field

from kampungkb_shared.classification import ClassificationResult, Indices, Passed, Scores, Snapshot
from kampungkb_shared.codes import Tier
from kampungkb_shared.periods import format_period
from registry_api.classifications.models import Classification


class ClassificationSummary(BaseModel):
    """A classification without its explanation and snapshot: what a write answers under `Prefer: return=minimal`."""

    status: Literal["classified"] = Field(default="classified", description="Always `classified`.")
    ruleset: str = Field(description="The rule set that scored it.")
    period: str = Field(description="The month classified, `YYYY-MM`.")
    tier: Tier = Field(description="The tier.")
    indices: Indices = Field(description="The three indices.")
    passed: Passed = Field(description="Which indices reach the threshold.")

    @classmethod
    def stored(cls, row: Classification) -> "ClassificationSummary":
        """A stored classification's summary, from its row alone."""
        return cls.model_validate(_figures(row))


def _figures(row: Classification) -> dict[str, Any]:
    """A stored classification's rule set, period, tier and figures, as the models name them."""
    return {
        "ruleset": row.ruleset,
        "ruleset_hash": row.ruleset_hash,
        "period": format_period(row.period),
        "tier": row.tier,
        "scores": dict(zip(Scores.model_fields, row.scores, strict=True)),
        "indices": dict(zip(Indices.model_fields, row.indices, strict=True)),
        "passed": dict(zip(Passed.model_fields, row.passed, strict=True)),
    }


class ClassificationRead(ClassificationResult):
    """A stored classification: the classifier's result and explanation, with the input it saw."""

    status: Literal["classified"] = Field(
        default="classified", description='Always `classified` (a pending one is `{"status": "pending"}`).'
    )
    kampung_id: int = Field(description="The Kampung KB.")
    computed_at: dt.datetime = Field(description="When the classification was stored.")
    snapshot_hash: str = Field(description="SHA-256 of the snapshot it was computed from.")
    snapshot: Snapshot = Field(description="What the classifier saw: the modules in force and the partners.")

    @classmethod
    def explained(cls, row: Classification, derived: dict[str, Any]) -> "ClassificationRead":
        """A stored classification (its row and snapshot loaded) with the explanation derived again (`derived`: the
        classifier's result for its snapshot under its rule set's content)."""
        return cls.model_validate(
            {
                **derived,
                **_figures(row),
                "kampung_id": row.kampung_id,
                "computed_at": row.computed_at,
                "snapshot_hash": row.snapshot_hash,
                "snapshot": row.snapshot.snapshot,
            }
        )
