"""Batch parsing: one msgspec decode into the scoring's inputs on the happy path, the pydantic models for the rest."""

from collections.abc import Mapping
from typing import Any, NamedTuple

import msgspec
import orjson
from pydantic import ValidationError

from classifier import inputs
from classifier.ruleset import RuleSet
from kampungkb_shared.classification import BatchItem
from kampungkb_shared.errors import FieldError, PayloadTooLarge, Unprocessable

Item = tuple[int, Any, str, inputs.Snapshot]
"""A valid batch item: its index in the request, its id, its period and its snapshot."""


class Batch(NamedTuple):
    """A batch body as the scoring takes it."""

    rulesets: list[RuleSet]
    """The rule sets asked for (see `chosen_rulesets`)."""
    items: list[Item]
    """The valid items, in item order."""
    errors: list[dict[str, Any]]
    """The invalid items' errors, in item order."""
    explain: bool
    """Whether the results carry their explanation."""


class _Batch(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    items: list[inputs.Item]
    ruleset: str | None = None
    rulesets: list[str] | None = None
    explain: bool = True


_BATCH = msgspec.json.Decoder(_Batch)
_ITEM = msgspec.json.Decoder(inputs.Item)


def field_errors(error: ValidationError) -> list[dict[str, Any]]:
    """A pydantic error as `{loc, msg}` items."""
    return [FieldError(loc=list(e["loc"]), msg=e["msg"]).model_dump() for e in error.errors(include_url=False)]


def named_ruleset(known: Mapping[str, RuleSet], ruleset_id: str, loc: list[str | int]) -> RuleSet:
    """The rule set of that id; a 422 at `loc` for an id the classifier does not know."""
    found = known.get(ruleset_id)
    if found is None:
        raise Unprocessable.field(loc, f"unknown rule set {ruleset_id!r}; see GET /v1/rulesets")
    return found


def chosen_rulesets(data: dict[str, Any], known: Mapping[str, RuleSet], default: str) -> list[RuleSet]:
    """The rule sets a batch body asks for: `ruleset`, or the distinct ids of `rulesets` in order, or the default."""
    ruleset, rulesets = data.get("ruleset"), data.get("rulesets")
    if ruleset is not None and rulesets is not None:
        raise Unprocessable.field(["body", "rulesets"], "give either ruleset or rulesets")
    if rulesets is None:
        if ruleset is not None and type(ruleset) is not str:
            raise Unprocessable.field(["body", "ruleset"], "must be a string")
        return [named_ruleset(known, ruleset or default, ["body", "ruleset"])]
    if type(rulesets) is not list:
        raise Unprocessable.field(["body", "rulesets"], "must be a list of rule set ids")
    if not rulesets:
        raise Unprocessable.field(["body", "rulesets"], "must name at least one rule set")
    chosen: list[RuleSet] = []
    for position, ruleset_id in enumerate(rulesets):
        if type(ruleset_id) is not str:
            raise Unprocessable.field(["body", "rulesets", position], "must be a string")
        if ruleset_id in rulesets[:position]:
            raise Unprocessable.field(["body", "rulesets", position], f"{ruleset_id!r} is listed twice")
        chosen.append(named_ruleset(known, ruleset_id, ["body", "rulesets", position]))
    return chosen


def parse_batch(body: bytes, *, max_items: int, known: Mapping[str, RuleSet], default: str) -> Batch:
    """A batch body as the scoring takes it: 413 above `max_items` items, 422 when the body itself, not an item, is
    malformed."""
    try:
        batch = _BATCH.decode(body)
    except msgspec.DecodeError:  # not valid at once (ValidationError is a DecodeError): item by item
        return _parse_each(body, max_items=max_items, known=known, default=default)
    rulesets = chosen_rulesets({"ruleset": batch.ruleset, "rulesets": batch.rulesets}, known, default)
    items = batch.items
    if len(items) > max_items:
        raise PayloadTooLarge(f"{len(items)} items; a batch holds at most {max_items}")
    valid = [(index, item.id, item.period, item.snapshot) for index, item in enumerate(items)]
    return Batch(rulesets, valid, [], batch.explain)


def _parse_each(body: bytes, *, max_items: int, known: Mapping[str, RuleSet], default: str) -> Batch:
    """`parse_batch` for a body that holds an invalid item or is malformed: each item on its own, so that one bad
    item never fails the batch, and the models say what is wrong."""
    data = _object(body)
    unknown = sorted(set(data) - {"ruleset", "rulesets", "items", "explain"})
    if unknown:
        raise Unprocessable.field(["body", unknown[0]], "extra inputs are not permitted")
    explain = data.get("explain", True)
    if type(explain) is not bool:
        raise Unprocessable.field(["body", "explain"], "must be true or false")
    rulesets = chosen_rulesets(data, known, default)
    valid, errors = parse_items(data.get("items"), max_items=max_items)
    return Batch(rulesets, valid, errors, explain)


def kept_ruleset(known: Mapping[str, RuleSet], content: Any) -> RuleSet:
    """A rule set given by its content (as `GET /v1/rulesets/{id}` served it, `hash` included): the loaded one when
    its id and hash match, else the content itself, validated (a 422 at `body.ruleset` when it is not a rule set)."""
    if type(content) is not dict or not content.get("hash"):
        raise Unprocessable.field(["body", "ruleset"], "must be a rule set's content with its hash")
    loaded = known.get(content.get("id"))  # type: ignore[arg-type]
    if loaded is not None and loaded.hash == content["hash"]:
        return loaded
    try:
        return RuleSet.model_validate(content)
    except ValidationError as exc:
        errors = [FieldError(loc=["body", "ruleset", *e["loc"]], msg=e["msg"]) for e in exc.errors(include_url=False)]
        raise Unprocessable("body.ruleset: not a valid rule set", errors=errors) from None


def parse_explain(body: bytes, *, max_items: int, known: Mapping[str, RuleSet]) -> tuple[RuleSet, list[Item]]:
    """`POST /v1/explain`: the rule set of `ruleset` (see `kept_ruleset`) and the items, every one valid (422 else)."""
    data = _object(body)
    unknown = sorted(set(data) - {"ruleset", "items"})
    if unknown:
        raise Unprocessable.field(["body", unknown[0]], "extra inputs are not permitted")
    ruleset = kept_ruleset(known, data.get("ruleset"))
    valid, errors = parse_items(data.get("items"), max_items=max_items)
    if errors:
        first = errors[0]
        raise Unprocessable(
            f"body.items.{first['index']}: invalid item",
            errors=[
                FieldError(loc=["body", "items", first["index"], *e["loc"]], msg=e["msg"]) for e in first["errors"]
            ],
        )
    return ruleset, valid


def _object(body: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Unprocessable.field(["body"], f"invalid JSON: {exc}") from None
    if type(data) is not dict:
        raise Unprocessable.field(["body"], "must be an object with `items`")
    return data


def parse_items(items: Any, *, max_items: int) -> tuple[list[Item], list[dict[str, Any]]]:
    """The valid items and the invalid items' errors, in item order; 413 above `max_items` items. Each item is tried
    strictly first (msgspec, as the fast path decodes), then by the models, which accept lax JSON or name what is
    wrong."""
    if type(items) is not list:
        raise Unprocessable.field(["body", "items"], "must be a list")
    if len(items) > max_items:
        raise PayloadTooLarge(f"{len(items)} items; a batch holds at most {max_items}")
    valid: list[Item] = []
    errors: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        try:
            strict = _ITEM.decode(orjson.dumps(item))
        except msgspec.DecodeError:
            pass
        else:
            valid.append((index, strict.id, strict.period, strict.snapshot))
            continue
        try:
            model = BatchItem.model_validate(item)
        except ValidationError as exc:
            item_id = item.get("id") if type(item) is dict else None
            errors.append(
                {"id": item_id if type(item_id) in (str, int) else None, "index": index, "errors": field_errors(exc)}
            )
        else:
            valid.append((index, model.id, model.period, inputs.from_model(model.snapshot)))
    return valid, errors
