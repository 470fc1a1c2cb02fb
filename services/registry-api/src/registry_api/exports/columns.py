"""The SQL that writes each exported cell, derived from the import's own definitions (`imports.formats`).

The columns and their order are the import's (`ModuleFormat.columns`); how a column holds its value follows from the
model the import validates with (a list is `;`-joined, a `CODE:FREQ` map is `;`-joined pairs, a bool is
`true`/`false`) and from where `to_payload` puts it (`pokja_<field>` under `pokja`, `population_<sex>` under
`population`, a kkbpk code under the map whose key type holds it). A CSV row is read back into the same payload.

The expressions refer to the tables `kampung` and `kegiatan` and to the in-force row `p` (a submission's `payload`,
a classification's columns).
"""

import datetime as dt
import enum
import typing
from collections.abc import Callable

from pydantic import BaseModel

from kampungkb_shared.classification import Indices, Passed, Scores
from registry_api.cells import FORMULA_QUOTE, FORMULA_STARTS
from registry_api.imports.formats import FORMATS, ImportModule

PAYLOAD = "p.payload"

Cell = Callable[[str], str]
"""A column name to the SQL expression of its text."""


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _joined_json(expression: str) -> str:
    return f"array_to_string(ARRAY(SELECT jsonb_array_elements_text({expression})), ';')"


def _pairs_json(expression: str) -> str:
    return f"(SELECT string_agg(e.key || ':' || e.value, ';') FROM jsonb_each_text({expression}) AS e)"


def _origin(model: type[BaseModel], name: str) -> object:
    annotation = model.model_fields[name].annotation
    return typing.get_origin(annotation) or annotation


def _payload_field(model: type[BaseModel], name: str, expression: str) -> str:
    """A payload field's text, by its type in the model."""
    origin = _origin(model, name)
    if origin is list:
        return _joined_json(f"{expression}->{_literal(name)}")
    if origin is dict:
        return _pairs_json(f"{expression}->{_literal(name)}")
    return f"{expression}->>{_literal(name)}"


def _profil(column: str) -> str:
    model = FORMATS[ImportModule.PROFIL].model
    if column.startswith("pokja_"):
        return f"{PAYLOAD}->'pokja'->>{_literal(column.removeprefix('pokja_'))}"
    return _payload_field(model, column, PAYLOAD)


def _kependudukan(column: str) -> str:
    model = FORMATS[ImportModule.KEPENDUDUKAN].model
    if column.startswith("population_"):
        return _joined_json(f"{PAYLOAD}->'population'->{_literal(column.removeprefix('population_'))}")
    return _payload_field(model, column, PAYLOAD)


def _code_maps(model: type[BaseModel]) -> dict[str, str]:
    """kkbpk: each code column to the payload map whose key type (an enum of codes) holds it."""
    maps: dict[str, str] = {}
    for name, info in model.model_fields.items():
        key_type = typing.get_args(info.annotation)[0]
        assert isinstance(key_type, type) and issubclass(key_type, enum.Enum)
        maps.update({str(code.value): name for code in key_type})
    return maps


def _kkbpk(column: str) -> str:
    maps = _code_maps(FORMATS[ImportModule.KKBPK].model)
    return f"{PAYLOAD}->{_literal(maps[column])}->>{_literal(column)}"


def _table_column(table: str, model: type[BaseModel]) -> Cell:
    """A column stored as a table column of the same name: lists `;`-joined, dates ISO, the rest as text."""

    def cell(column: str) -> str:
        reference = f"{table}.{column}"
        if _origin(model, column) is list:
            return f"array_to_string({reference}, ';')"
        if model.model_fields[column].annotation is dt.date:
            return f"to_char({reference}, 'YYYY-MM-DD')"
        return f"CAST({reference} AS text)"

    return cell


_CELLS: dict[ImportModule, Cell] = {
    ImportModule.KAMPUNG: _table_column("kampung", FORMATS[ImportModule.KAMPUNG].model),
    ImportModule.PROFIL: _profil,
    ImportModule.KEPENDUDUKAN: _kependudukan,
    ImportModule.KKBPK: _kkbpk,
    ImportModule.KEGIATAN: _table_column("kegiatan", FORMATS[ImportModule.KEGIATAN].model),
}

_FORMULA_CLASS = "".join(sorted((start for start in FORMULA_STARTS if start.isprintable()), key=lambda c: c == "-"))
"""The printable formula starts, `-` last so that it is literal inside a bracket expression. Tab and CR never start
a cell: control characters are stripped first."""


def neutralised(expression: str) -> str:
    """Free text for a CSV cell: control characters stripped, a formula start quoted (`FORMULA_QUOTE`)."""
    clean = f"regexp_replace({expression}, '[[:cntrl:]]', '', 'g')"
    return f"regexp_replace({clean}, '^([{_FORMULA_CLASS}])', {_literal(FORMULA_QUOTE + chr(92) + '1')})"


def csv_cells(module: ImportModule) -> list[tuple[str, str]]:
    """(column, SQL text of its cell) for every column of the module's import, in the import's order."""
    fmt = FORMATS[module]
    cells = [("desa_code", "kampung.desa_code")]
    for column in fmt.columns[1:]:
        expression = _CELLS[module](column)
        cells.append((column, neutralised(expression) if column in fmt.text else expression))
    return cells


def ndjson_object(module: ImportModule) -> str:
    """The SQL of one NDJSON line: the object the import reads (`desa_code` beside the module's fields)."""
    if module.submission_module is not None:
        return f"CAST(jsonb_build_object('desa_code', kampung.desa_code) || {PAYLOAD} AS text)"
    table = "kampung" if module is ImportModule.KAMPUNG else "kegiatan"
    fields = ", ".join(f"{_literal(column)}, {table}.{column}" for column in FORMATS[module].columns[1:])
    return f"CAST(json_build_object('desa_code', kampung.desa_code, {fields}) AS text)"


def _elements(column: str, model: type[BaseModel], suffix: str = "") -> list[tuple[str, str]]:
    """Each field of `model` as the element of the in-force row's array `column` that holds it, as text."""
    return [
        (f"{name}{suffix}", f"CAST(p.{column}[{position}] AS text)")
        for position, name in enumerate(model.model_fields, 1)
    ]


def _object(column: str, model: type[BaseModel]) -> str:
    """The in-force row's array `column` as the `jsonb` object of `model` (its keys in `jsonb`'s order)."""
    pairs = ", ".join(
        f"{_literal(name)}, p.{column}[{position}]" for position, name in enumerate(model.model_fields, 1)
    )
    return f"jsonb_build_object({pairs})"


CLASSIFICATION_CELLS: list[tuple[str, str]] = [
    ("desa_code", "kampung.desa_code"),
    ("period", "to_char(p.period, 'YYYY-MM')"),
    ("ruleset", "p.ruleset"),
    ("ruleset_hash", "p.ruleset_hash"),
    ("tier", "p.tier"),
    *_elements("indices", Indices, "_index"),
    *_elements("scores", Scores),
    *_elements("passed", Passed, "_passed"),
]
"""A classification in force: its period, rule set and hash, tier, the group indices, the 12 sub-scores and whether
each group passed (not the explanation)."""

CLASSIFICATION_OBJECT = (
    "CAST(json_build_object('desa_code', kampung.desa_code, 'period', to_char(p.period, 'YYYY-MM'), "
    "'ruleset', p.ruleset, 'ruleset_hash', p.ruleset_hash, 'tier', p.tier, "
    f"'indices', {_object('indices', Indices)}, 'scores', {_object('scores', Scores)}, "
    f"'passed', {_object('passed', Passed)}) AS text)"
)
