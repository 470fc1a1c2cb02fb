"""A stored classification's explanation, derived again: the snapshot it saw, scored by the classifier under the
rule set content it was computed with.

A classification row keeps the tier, sub-scores, indices and passes; the explanation (raw measures, missing data,
the cheapest way to the next tier) is a function of the snapshot and the rule set's content, both kept by hash
(`classification_snapshot`, `ruleset_content`). The classifier stays stateless: the content goes with the request,
so a classification computed under an older version of a rule set is explained as it was computed.
"""

import logging
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from kampungkb_shared.errors import ServiceUnavailable
from kampungkb_shared.periods import format_period
from registry_api.classifications.client import ClassifierClient, ClassifierUnavailable, batch_items
from registry_api.classifications.models import Classification
from registry_api.classifications.schemas import ClassificationRead
from registry_api.db import session_driver
from registry_api.unavailable import RETRY_AFTER_S

log = logging.getLogger(__name__)

_KEPT = """
    SELECT DISTINCT ON (hash) hash, CAST(content AS text) AS content
      FROM ruleset_content WHERE hash = ANY(CAST($1 AS text[]))
"""
_PER_CALL = 5_000


async def ruleset_contents(
    session: AsyncSession, *, classifier: ClassifierClient, wanted: dict[str, str], budget_s: float | None = None
) -> dict[str, str]:
    """The content (JSON text) of each rule set hash of `wanted` (hash -> rule set id): remembered by this process,
    else kept by the registry, else the classifier's current version where it is that hash.

    Raises `ClassifierUnavailable` for a hash that is neither kept nor served by the classifier any more.
    """
    found = {h: text for h in wanted if (text := classifier.known_content(h)) is not None}
    if missing := [h for h in wanted if h not in found]:
        for row in await (await session_driver(session)).fetch(_KEPT, missing):
            classifier.remember_content(row["hash"], row["content"])
            found[row["hash"]] = row["content"]
    for ruleset_hash, ruleset in wanted.items():
        if ruleset_hash not in found:
            found[ruleset_hash] = await classifier.current_content(
                ruleset, ruleset_hash, budget_s=budget_s or classifier.budget_s
            )
    return found


async def explain(
    session: AsyncSession, *, classifier: ClassifierClient, rows: Sequence[Classification]
) -> list[ClassificationRead]:
    """The stored classifications with their explanation, in the order of `rows` (their snapshots loaded).

    Raises `ClassifierUnavailable` when the classifier cannot derive them now.
    """
    if not rows:
        return []
    contents = await ruleset_contents(
        session, classifier=classifier, wanted={row.ruleset_hash: row.ruleset for row in rows}
    )
    by_hash: dict[str, list[int]] = defaultdict(list)
    for index, row in enumerate(rows):
        by_hash[row.ruleset_hash].append(index)
    derived: dict[int, dict[str, Any]] = {}
    for ruleset_hash, indexes in by_hash.items():
        for start in range(0, len(indexes), _PER_CALL):
            items = batch_items(
                (i, rows[i].period, orjson.dumps(rows[i].snapshot.snapshot).decode())
                for i in indexes[start : start + _PER_CALL]
            )
            body = f'{{"ruleset":{contents[ruleset_hash]},"items":[{items}]}}'.encode()
            for result in await classifier.explain(body, budget_s=classifier.budget_s):
                del result["index"]
                derived[result.pop("id")] = result
    explained = []
    for index, row in enumerate(rows):
        result = derived[index]
        if result["tier"] != row.tier:
            log.error(
                "classification of Kampung KB %s, %s under %s derived as %s, stored as %s",
                row.kampung_id,
                format_period(row.period),
                row.ruleset,
                result["tier"],
                row.tier,
            )
        explained.append(ClassificationRead.explained(row, result))
    return explained


UNEXPLAINED: dict[int | str, dict[str, Any]] = {
    503: {"description": "the classifier, which derives the explanation, cannot be reached now"}
}
"""What a route that calls `explain_one` answers when the classifier cannot derive the explanation."""


async def explain_one(
    session: AsyncSession, *, classifier: ClassifierClient, row: Classification
) -> ClassificationRead:
    """One stored classification with its explanation; 503 when the classifier cannot derive it now."""
    try:
        [read] = await explain(session, classifier=classifier, rows=[row])
    except ClassifierUnavailable as exc:
        raise ServiceUnavailable(
            f"the explanation is derived by the classifier, which cannot be reached now: {exc}",
            headers={"Retry-After": str(RETRY_AFTER_S)},
        ) from exc
    return read
