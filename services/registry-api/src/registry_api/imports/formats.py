"""The columns of each import module, and a CSV record or NDJSON object turned into what the models validate.

Values are not checked here: a CSV cell stays a string (pydantic's lax mode reads `12`, `true`, `2024-06-01`),
code lists are split on `;`, and the shared models say what is wrong, naming the field.
"""

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from kampungkb_shared.codes import Contraception, NonUseReason, Poktan
from kampungkb_shared.modules import KependudukanPayload, KkbpkPayload, ProfilPayload
from registry_api.cells import FORMULA_QUOTE, FORMULA_STARTS
from registry_api.kampung.schemas import KampungCreate
from registry_api.submissions.schemas import KegiatanCreate, Module


class ImportModule(StrEnum):
    KAMPUNG = "kampung"
    PROFIL = "profil"
    KEPENDUDUKAN = "kependudukan"
    KKBPK = "kkbpk"
    KEGIATAN = "kegiatan"

    @property
    def submission_module(self) -> Module | None:
        """The period-keyed submission module this imports, None for `kampung` and `kegiatan`."""
        return Module(self.value) if self.value in Module.__members__.values() else None


class RowProblem(ValueError):
    """A record that cannot become a payload at all (wrong number of cells, not a JSON object)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _codes(cell: str) -> list[str]:
    return [part for part in map(str.strip, cell.split(";")) if part]


def _operational(cell: str) -> dict[str, str]:
    items: dict[str, str] = {}
    for part in _codes(cell):
        code, _, frequency = part.partition(":")
        items[code.strip()] = frequency.strip()
    return items


def _counts(cell: str) -> list[str]:
    return [part.strip() for part in cell.split(";")]


_POKTAN = [code.value for code in Poktan]
_METHODS = [code.value for code in Contraception]
_REASONS = [code.value for code in NonUseReason]


@dataclass(frozen=True)
class ModuleFormat:
    """How one module's rows look: the model, the CSV columns (required first) and the CSV-to-payload mapping."""

    model: type[BaseModel]
    required: tuple[str, ...]
    optional: tuple[str, ...]
    to_payload: Callable[[dict[str, str]], dict[str, Any]]
    column_of: Callable[[tuple[str | int, ...]], str]
    """The CSV column a validation error's `loc` (within the payload) points at."""
    text: tuple[str, ...] = ()
    """The free-text columns: an export neutralises a formula in them (`FORMULA_QUOTE`) and the import undoes it."""

    @property
    def columns(self) -> tuple[str, ...]:
        return ("desa_code", *self.required, *self.optional)


def _dotted(loc: tuple[str | int, ...]) -> str:
    return ".".join(map(str, loc)) or "row"


def unquote_formula(cell: str) -> str:
    """A free-text cell as written before an export neutralised it: the quote before a formula start taken off."""
    if cell.startswith(FORMULA_QUOTE) and cell[1:2] in FORMULA_STARTS:
        return cell[1:]
    return cell


def _plain(cells: dict[str, str], *, lists: tuple[str, ...] = (), text: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        name: (_codes(value) if name in lists else unquote_formula(value) if name in text else value)
        for name, value in cells.items()
        if value != ""
    }


_PROFIL_LISTS = frozenset({"funding_sources", "poktan", "facilities", "regulations", "data_sources"})


def _profil(cells: dict[str, str]) -> dict[str, Any]:
    # One pass over the cells: this runs once per row of a national file.
    payload: dict[str, Any] = {}
    pokja: dict[str, str] = {}
    for name, value in cells.items():
        if not value:
            continue
        if name.startswith("pokja_"):
            pokja[name[6:]] = value
        elif name in _PROFIL_LISTS:
            payload[name] = _codes(value)
        elif name == "operational":
            payload[name] = _operational(value)
        else:
            payload[name] = value
    payload["pokja"] = pokja
    return payload


def _profil_column(loc: tuple[str | int, ...]) -> str:
    if len(loc) >= 2 and loc[0] == "pokja":
        return f"pokja_{loc[1]}"
    return str(loc[0]) if loc else "row"


def _kependudukan(cells: dict[str, str]) -> dict[str, Any]:
    payload = _plain({k: v for k, v in cells.items() if not k.startswith("population_")})
    male, female = cells.get("population_male", ""), cells.get("population_female", "")
    if male or female:
        payload["population"] = {"male": _counts(male) if male else None, "female": _counts(female) if female else None}
    return payload


def _kependudukan_column(loc: tuple[str | int, ...]) -> str:
    if len(loc) >= 2 and loc[0] == "population":
        return f"population_{loc[1]}"
    return str(loc[0]) if loc else "row"


def _kkbpk(cells: dict[str, str]) -> dict[str, Any]:
    return {
        "poktan_participants": {code: cells[code] for code in _POKTAN if cells.get(code, "") != ""},
        "kb_users": {code: cells[code] for code in _METHODS if cells.get(code, "") != ""},
        "non_users": {code: cells[code] for code in _REASONS if cells.get(code, "") != ""},
    }


def _kkbpk_column(loc: tuple[str | int, ...]) -> str:
    # A count's error sits under its code; an unknown key cannot happen from CSV (columns are checked first).
    return str(loc[1]) if len(loc) >= 2 else _dotted(loc)


_KAMPUNG_TEXT = ("name", "rw_dusun_name")
_KEGIATAN_TEXT = ("title",)

FORMATS: dict[ImportModule, ModuleFormat] = {
    ImportModule.KAMPUNG: ModuleFormat(
        model=KampungCreate,
        required=("name", "formed_on"),
        optional=("scope", "rw_dusun_name", "formation_criteria", "lat", "lon"),
        to_payload=lambda cells: _plain(cells, lists=("formation_criteria",), text=_KAMPUNG_TEXT),
        column_of=_dotted,
        text=_KAMPUNG_TEXT,
    ),
    ImportModule.PROFIL: ModuleFormat(
        model=ProfilPayload,
        required=("pokja_exists",),
        optional=(
            "pokja_sk",
            "pokja_members",
            "pokja_trained_members",
            "pokja_trained",
            "funding_sources",
            "poktan",
            "facilities",
            "pkb_pendamping",
            "pengarah",
            "regulations",
            "rkm",
            "data_sources",
            "operational",
        ),
        to_payload=_profil,
        column_of=_profil_column,
    ),
    ImportModule.KEPENDUDUKAN: ModuleFormat(
        model=KependudukanPayload,
        required=("pus", "families", "remaja", "families_with_balita", "families_with_remaja", "families_with_lansia"),
        optional=("population_male", "population_female"),
        to_payload=_kependudukan,
        column_of=_kependudukan_column,
    ),
    ImportModule.KKBPK: ModuleFormat(
        model=KkbpkPayload,
        required=(),
        optional=(*_POKTAN, *_METHODS, *_REASONS),
        to_payload=_kkbpk,
        column_of=_kkbpk_column,
    ),
    ImportModule.KEGIATAN: ModuleFormat(
        model=KegiatanCreate,
        required=("title", "date", "function"),
        optional=("targets", "partners", "inpres_kegiatan"),
        to_payload=lambda cells: _plain(cells, lists=("targets", "partners"), text=_KEGIATAN_TEXT),
        column_of=_dotted,
        text=_KEGIATAN_TEXT,
    ),
}


def payload_model(module: ImportModule) -> type[BaseModel]:
    return FORMATS[module].model


def check_header(module: ImportModule, header: list[str]) -> list[str]:
    """The header's column names, stripped; raises `RowProblem` naming what is missing or unknown."""
    names = [name.strip() for name in header]
    fmt = FORMATS[module]
    if len(names) == 1 and any(sep in names[0] for sep in (";", "\t", "|")):
        raise RowProblem("header", f"the header is one column ({names[0][:80]!r}): columns must be separated by commas")
    missing = [name for name in ("desa_code", *fmt.required) if name not in names]
    unknown = [name for name in names if name not in fmt.columns]
    duplicated = sorted({name for name in names if names.count(name) > 1})
    problems = []
    if missing:
        problems.append(f"missing columns: {', '.join(missing)}")
    if unknown:
        problems.append(f"unknown columns: {', '.join(n[:40] for n in unknown[:10])}")
    if duplicated:
        problems.append(f"repeated columns: {', '.join(duplicated)}")
    if problems:
        raise RowProblem("header", f"{'; '.join(problems)}. The {module} columns are: {', '.join(fmt.columns)}")
    return names
