import csv
import io
from typing import Any

import pytest

from kampungkb_shared.result_rows import FIGURES, RESULT_COLUMNS, figures_row, figures_rows

HASH = "9f2c" * 16
VALUES: tuple[Any, ...] = (3, 1, None, 4, 2, 3, 3, 1, 4, None, 2, 1, 2.6, 2.33, None, True, False, None, 2.5)


def _one_at_a_time(rows: list[tuple[Any, ...]]) -> bytes:
    return b"".join(figures_row(*row[:5], row[5:]) + b"\n" for row in rows)


def _rows(heads: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Each head with the figures, turned a little from row to row."""
    return [(*head, *VALUES[n % 3 :], *VALUES[: n % 3]) for n, head in enumerate(heads)]


def test_the_values_fill_every_figure_column() -> None:
    assert len(VALUES) == len(FIGURES)


@pytest.mark.parametrize(
    "heads",
    [
        # integer ids and plain texts: written as one list
        [
            (7, 0, "bkkbn-web-2021", HASH, "mandiri"),
            (7, 0, "kkb-2025", HASH, "dasar"),
            (12, 1, "kkb-2025", HASH, "belum_terklasifikasi"),
        ],
        # a text id, or a text CSV or JSON would quote, or one holding `null`: a record at a time, the same bytes
        [(7, 0, "kkb-2025", HASH, "dasar"), ("k,1", 1, "kkb-2025", HASH, "dasar")],
        [(7, 0, 'set "2"', HASH, "dasar")],
        [(7, 0, "nullable-2030", HASH, "dasar")],
        [(True, 0, "kkb-2025", HASH, "dasar")],
        [(7, 0, "kkb-2025", HASH, "dasar"), (2**70, 1, "kkb-2025", HASH, "dasar")],  # beyond orjson's integers
    ],
)
def test_many_records_are_the_records_one_at_a_time(heads: list[tuple[Any, ...]]) -> None:
    rows = _rows(heads)
    written = figures_rows(rows)
    assert written == _one_at_a_time(rows)
    records = list(csv.reader(io.StringIO(written.decode())))
    assert [len(record) for record in records] == [len(RESULT_COLUMNS)] * len(rows)
    assert [record[0] for record in records] == [str(row[0]) for row in rows]
    assert all(record[-1] == "" for record in records)


def test_no_rows_write_nothing() -> None:
    assert figures_rows([]) == b""
