"""A batch's results as CSV records: what the classifier answers under `Accept: text/csv` (`"explain": false` only),
and what the registry hands to PostgreSQL to store (`registry_api.classifications.service`).

One record per result, in the order of `RESULT_COLUMNS`: the item's `id` and `index`, the rule set, its hash and
the tier, the 12 sub-scores, the three indices, the three passes and the threshold, then `errors` (empty). An
invalid item is one record with its `id`, its `index` and its `errors` (JSON), every other field empty. A missing
value is an empty field; a pass is `true` or `false`. Only an `id` or `errors` can need quoting (RFC 4180); with
integer ids, a result's record holds no quote, so that it splits on commas, which is how PostgreSQL reads it: ten
times cheaper for it than the same result as JSON.
"""

import re
from collections.abc import Mapping
from functools import lru_cache
from operator import itemgetter
from typing import Any

import orjson

from kampungkb_shared.classification import ITEM_NUMBERS, Indices, Passed, Scores

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


_PLAIN = re.compile(r"[A-Za-z0-9_.:+-]*")
# Over a list of rows as orjson writes it: quotes and closing brackets go, an opening bracket becomes a line end. The
# comma between two rows (`],[`) is then the one before the empty `errors` of the first.
_RECORDS = bytes.maketrans(b"[", b"\n")


def figures_rows(rows: list[tuple[Any, ...]]) -> bytes:
    """Many results as records, each ending with a newline: each row `(item_id, index, ruleset, ruleset_hash, tier,
    *FIGURES values)`, the bytes `figures_row` writes for each.

    A classifier batch writes tens of thousands of them: where every id is a 64-bit integer and every text is plain (no
    character CSV or JSON would quote, no `null`), orjson writes all of them as one list in C, which two passes over
    its output make into the records (one of `bytes.translate` for the brackets and quotes, one for `null`), at half
    the cost of a record at a time. Any other row set is written a record at a time."""
    if not rows:
        return b""
    # Read column by column in C: the ids' types and range (orjson writes 64-bit integers only), and the few distinct
    # rule sets, hashes and tiers.
    ids = list(map(itemgetter(0), rows))
    texts = set(map(itemgetter(2), rows)) | set(map(itemgetter(3), rows)) | set(map(itemgetter(4), rows))
    plain = (
        set(map(type, ids)) == {int}
        and ITEM_NUMBERS[0] <= min(ids)
        and max(ids) <= ITEM_NUMBERS[1]
        and all(type(text) is str and _PLAIN.fullmatch(text) and "null" not in text for text in texts)
    )
    if not plain:
        return b"".join(figures_row(row[0], row[1], row[2], row[3], row[4], row[5:]) + b"\n" for row in rows)
    listed = orjson.dumps(rows)  # [[7,0,"ruleset","hash","tier",3,null,...],[8,...]]
    return listed[2:-2].translate(_RECORDS, b'"]').replace(b"null", b"") + b",\n"


@lru_cache(maxsize=256)
def _between(ruleset: str, ruleset_hash: str, tier: str) -> bytes:
    """`,ruleset,ruleset_hash,tier,`: a handful of distinct texts, made once each."""
    return f",{ruleset},{ruleset_hash},{tier},".encode()


def error_row(item_id: str | int | None, index: int, errors: list[dict[str, Any]]) -> bytes:
    """An invalid item as one record: its id (empty when unreadable), its index and its errors as JSON."""
    text = f"{'' if item_id is None else _text(item_id)},{index}{_EMPTY}{_text(orjson.dumps(errors).decode())}"
    return text.encode()
