"""Spreadsheet cells that are safe to open: every export (CSV or XLSX) passes its values through `safe_cell`.

A spreadsheet program runs text that starts with `=`, `+`, `-` or `@` (or a tab or carriage return before one) as
a formula, so a Kampung KB named `=HYPERLINK(...)` would become a live link in an officer's sheet (OWASP "CSV
injection"): such text gets a leading `'`. Control characters are dropped: XML, and so XLSX, cannot hold them.
"""

import re
from typing import TypeVar

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What a spreadsheet may run as a formula when a cell starts with it (CSV injection)."""
FORMULA_QUOTE = "'"
"""Put before text that starts with one of `FORMULA_STARTS`, so that no spreadsheet runs it; an import takes it off
again (`imports.formats.unquote_formula`)."""
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
"""C0 controls other than tab, line feed and carriage return (which XML keeps), DEL and the C1 controls."""

T = TypeVar("T")


def safe_text(text: str) -> str:
    """The text without control characters, with a leading `'` when a spreadsheet would read it as a formula."""
    text = _CONTROL.sub("", text)
    return FORMULA_QUOTE + text if text.startswith(FORMULA_STARTS) else text


def safe_cell(value: T) -> T | str:
    """A cell's value: text made safe (`safe_text`), numbers, dates and None as they are."""
    return safe_text(value) if isinstance(value, str) else value
