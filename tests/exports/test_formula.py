"""The quote an export puts before a formula in a name is taken off by the import, and only that quote."""

import pytest

from registry_api.imports.formats import unquote_formula


@pytest.mark.parametrize(
    ("cell", "read"),
    [
        ("'=SUM(A1:A9)", "=SUM(A1:A9)"),
        ("'+62 812", "+62 812"),
        ("'-Kampung", "-Kampung"),
        ("'@Kampung", "@Kampung"),
        ("'\tKampung", "\tKampung"),
        ("'Kampung", "'Kampung"),  # a quote the export did not put there stays
        ("'", "'"),
        ("''=x", "''=x"),
        ("Kampung 'Maju'", "Kampung 'Maju'"),
    ],
)
def test_unquote_formula(cell: str, read: str) -> None:
    assert unquote_formula(cell) == read
