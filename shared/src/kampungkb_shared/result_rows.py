"""A batch's results as CSV records: what the classifier answers under `Accept: text/csv` (`"explain": false` only),
and what the registry hands to PostgreSQL to store (`registry_api.classifications.service`).

One record per result, in the order of `RESULT_COLUMNS`: the item's `id` and `index`, the rule set, its hash and
the tier, the 12 sub-scores, the three indices, the three passes and the threshold, then `errors` (empty). An
invalid item is one record with its `id`, its `index` and its `errors` (JSON), every other field empty. A missing
value is an empty field; a pass is `true` or `false`. Only an `id` or `errors` can need quoting (RFC 4180); with
integer ids, a result's record holds no quote, so that it splits on commas, which is how PostgreSQL reads it: ten
times cheaper for it than the same result as JSON.
"""

from collections.abc import Mapping
from functools import lru_cache
from operator import itemgetter
from typing import Any

import orjson

from kampungkb_shared.classification import Indices, Passed, Scores

CSV = "text/csv"

RESULT_COLUMNS: tuple[str, ...] = (
    "id",
    "index",
    "ruleset",
    "ruleset_hash",
    "tier",
    *Scores.model_fields,
    *(f"index_{group}" for group in Indices.model_fields),
    *(f"passed_{group}" for group in Passed.model_fields),
    "threshold",
    "errors",
)
HEADER = ",".join(RESULT_COLUMNS).encode()

FIGURES: tuple[str, ...] = RESULT_COLUMNS[5:-1]
"""The columns between the tier and `errors`: a result's numbers and passes."""
_SCORES = itemgetter(*Scores.model_fields)
_INDICES = itemgetter(*Indices.model_fields)
_PASSED = itemgetter(*Passed.model_fields)
_EMPTY = "," * (len(RESULT_COLUMNS) - 2)
_QUOTED = frozenset(',"\r\n')


def _text(value: Any) -> str:
    text = str(value)
    return f'"{text.replace(chr(34), chr(34) * 2)}"' if _QUOTED.intersection(text) else text


def result_row(item_id: str | int, index: int, result: Mapping[str, Any]) -> bytes:
    """A result (`ShortResult` data, or a full result: its explanation is left out) as one record, no line end."""
    values = (*_SCORES(result["scores"]), *_INDICES(result["indices"]), *_PASSED(result["passed"]), result["threshold"])
    return figures_row(item_id, index, result["ruleset"], result["ruleset_hash"], result["tier"], values)


def figures_row(
    item_id: str | int, index: int, ruleset: str, ruleset_hash: str, tier: str, figures: tuple[Any, ...]
) -> bytes:
    """A result as one record, no line end, from its rule set, tier and `FIGURES` values in order."""
    # The numbers and passes as orjson writes a list of them, brackets off and `null` emptied: in C, not cell by cell.
    item = b"%d" % item_id if type(item_id) is int else _text(item_id).encode()
    values = orjson.dumps(figures)[1:-1].replace(b"null", b"")
    return b"%s,%d%s%s," % (item, index, _between(ruleset, ruleset_hash, tier), values)


@lru_cache(maxsize=256)
def _between(ruleset: str, ruleset_hash: str, tier: str) -> bytes:
    """`,ruleset,ruleset_hash,tier,`: a handful of distinct texts, made once each."""
    return f",{ruleset},{ruleset_hash},{tier},".encode()


def error_row(item_id: str | int | None, index: int, errors: list[dict[str, Any]]) -> bytes:
    """An invalid item as one record: its id (empty when unreadable), its index and its errors as JSON."""
    text = f"{'' if item_id is None else _text(item_id)},{index}{_EMPTY}{_text(orjson.dumps(errors).decode())}"
    return text.encode()
