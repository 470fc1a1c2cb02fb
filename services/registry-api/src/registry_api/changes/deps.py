"""What HTTP writes need from the change pipeline: how to classify."""

from typing import Annotated

from fastapi import Depends, Request

from registry_api.changes.pipeline import Classifying
from registry_api.settings import Settings


async def write_classifying(request: Request) -> Classifying:
    """A write's classification: every rule set in one call, a short budget, the circuit breaker."""
    settings: Settings = request.app.state.settings
    return Classifying(
        classifier=request.app.state.classifier,
        rulesets=settings.rulesets,
        budget_s=settings.classifier_budget_s,
        use_breaker=True,
    )


WriteClassifyingDep = Annotated[Classifying, Depends(write_classifying)]
