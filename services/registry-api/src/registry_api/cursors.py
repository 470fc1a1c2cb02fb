"""Keyset cursors for listings ordered by (a date or an instant, id): `<ISO value>_<id>` of the last row served."""

import datetime as dt
from collections.abc import Callable
from typing import TypeVar

from kampungkb_shared.errors import Unprocessable

_Key = TypeVar("_Key", dt.date, dt.datetime)


def encode(value: dt.date, row_id: int) -> str:
    return f"{value.isoformat()}_{row_id}"


def decode(cursor: str, parse: Callable[[str], _Key]) -> tuple[_Key, int]:
    """The (value, id) a cursor from `encode` holds; 422 naming `cursor` for anything else."""
    value, _, row_id = cursor.rpartition("_")
    try:
        return parse(value), int(row_id)
    except ValueError as exc:
        raise Unprocessable.field(["query", "cursor"], "not a cursor this API returned") from exc
