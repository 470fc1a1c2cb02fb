"""Keyset cursors for listings ordered by (a date or an instant, id): `<ISO value>_<id>` of the last row served."""

import datetime as dt
import re
from collections.abc import Callable
from typing import TypeVar

from kampungkb_shared.errors import Unprocessable
from registry_api.db import BIGINT_MAX

_Key = TypeVar("_Key", dt.date, dt.datetime)
_ID = re.compile(r"[0-9]{1,19}")


def encode(value: dt.date, row_id: int) -> str:
    return f"{value.isoformat()}_{row_id}"


def decode(cursor: str, parse: Callable[[str], _Key]) -> tuple[_Key, int]:
    """The (value, id) a cursor from `encode` holds; 422 naming `cursor` for anything else, and for what PostgreSQL
    could not take: an id beyond `bigint`, an instant without its offset or outside the years it stores."""
    value, _, row_id = cursor.rpartition("_")
    try:
        key = parse(value)
        if isinstance(key, dt.datetime):
            if key.tzinfo is None:
                raise ValueError("an instant without its offset")
            key = key.astimezone(dt.UTC)  # OverflowError for year 1 east of UTC
    except (ValueError, OverflowError) as exc:
        raise Unprocessable.field(["query", "cursor"], "not a cursor this API returned") from exc
    if not _ID.fullmatch(row_id) or int(row_id) > BIGINT_MAX:
        raise Unprocessable.field(["query", "cursor"], "not a cursor this API returned")
    return key, int(row_id)
