import datetime as dt
from typing import Literal

from kampungkb_shared.classification import ClassificationResult, Snapshot
from registry_api.classifications.models import Classification


class ClassificationRead(ClassificationResult):
    """A stored classification: the classifier's result and explanation, with the input it saw."""

    status: Literal["classified"] = "classified"
    kampung_id: int
    computed_at: dt.datetime
    snapshot_hash: str
    snapshot: Snapshot

    @classmethod
    def of(cls, row: Classification) -> "ClassificationRead":
        return cls.model_validate(
            {
                **row.result,
                "kampung_id": row.kampung_id,
                "computed_at": row.computed_at,
                "snapshot_hash": row.snapshot_hash,
                "snapshot": row.snapshot.snapshot,
            }
        )
