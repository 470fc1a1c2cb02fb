"""Batch parsing: orjson and a strict fast check on the happy path, the pydantic models for the rest."""

from typing import Any

import orjson
from pydantic import ValidationError

from classifier.fastpath import accept
from kampungkb_shared.classification import BatchItem
from kampungkb_shared.errors import FieldError, PayloadTooLarge, Unprocessable


def field_errors(error: ValidationError) -> list[dict[str, Any]]:
    """A pydantic error as `{loc, msg}` items."""
    return [FieldError(loc=list(e["loc"]), msg=e["msg"]).model_dump() for e in error.errors(include_url=False)]


def parse_batch(
    body: bytes, max_items: int
) -> tuple[str | None, list[tuple[int, Any, str, dict[str, Any]]], list[dict[str, Any]]]:
    """The rule set asked for, the valid items as (index, id, period, snapshot data), and the invalid items' errors.

    Raises 413 above `max_items` items and 422 when the body itself, not an item, is malformed.
    """
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Unprocessable.field(["body"], f"invalid JSON: {exc}") from None
    if type(data) is not dict:
        raise Unprocessable.field(["body"], "must be an object with `items`")
    unknown = sorted(set(data) - {"ruleset", "items"})
    if unknown:
        raise Unprocessable.field(["body", unknown[0]], "extra inputs are not permitted")
    ruleset, items = data.get("ruleset"), data.get("items")
    if ruleset is not None and type(ruleset) is not str:
        raise Unprocessable.field(["body", "ruleset"], "must be a string")
    if type(items) is not list:
        raise Unprocessable.field(["body", "items"], "must be a list")
    if len(items) > max_items:
        raise PayloadTooLarge(f"{len(items)} items; a batch holds at most {max_items}")
    valid: list[tuple[int, Any, str, dict[str, Any]]] = []
    errors: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        if accept(item):
            valid.append((index, item["id"], item["period"], item["snapshot"]))
            continue
        try:
            model = BatchItem.model_validate(item)
        except ValidationError as exc:
            item_id = item.get("id") if type(item) is dict else None
            errors.append(
                {"id": item_id if type(item_id) in (str, int) else None, "index": index, "errors": field_errors(exc)}
            )
        else:
            valid.append((index, model.id, model.period, model.snapshot.model_dump(mode="json")))
    return ruleset, valid, errors
