from pydantic import BaseModel, Field

from registry_api.classifications.schemas import ClassificationRead, ClassificationSummary
from registry_api.kampung.schemas import KampungRead
from registry_api.submissions.schemas import KegiatanRead, SubmissionRead


class InForce(BaseModel):
    """A Kampung KB with everything in force for a month: a client's first pull, before it follows the change feed."""

    cursor: str = Field(
        description="The change feed's cursor taken before anything else was read: follow `GET /v1/changes?after=` "
        "from it and no change made since is missed (one already included may come again: apply it again)."
    )
    period: str = Field(description="YYYY-MM, the month it is in force for.")
    kampung: KampungRead = Field(description="The profile, as `GET /v1/kampung/{id}` answers it (`version`: its ETag).")
    profil: SubmissionRead | None = Field(description="The profil in force (the newest at or before the month).")
    kependudukan: SubmissionRead | None = Field(description="The kependudukan in force.")
    kkbpk: SubmissionRead | None = Field(description="The kkbpk in force.")
    kegiatan: list[KegiatanRead] = Field(
        description="The activities of the twelve months up to the end of this one, by date (older ones: "
        "`GET /v1/kampung/{id}/kegiatan?from=`)."
    )
    classification: ClassificationRead | ClassificationSummary | None = Field(
        description="The newest classification at or before the month under the primary rule set, with its "
        "explanation; its figures alone (`ClassificationSummary`: no `raw`, `missing`, `next_tier` or `snapshot`) "
        "while the classifier, which derives the explanation, cannot be reached; null if none."
    )
