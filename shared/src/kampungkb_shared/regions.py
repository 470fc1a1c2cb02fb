"""Kemendagri region codes: `PP`, `PP.KK`, `PP.KK.CC`, `PP.KK.CC.DDDD`, and the nation as `00`."""

import re
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator

NATION_CODE = "00"

_CODE = re.compile(r"^\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?$")


class Level(StrEnum):
    """Administrative level, top to bottom. `nasional` exists only in reports."""

    NASIONAL = "nasional"
    PROVINSI = "provinsi"
    KABUPATEN = "kabupaten"
    KECAMATAN = "kecamatan"
    DESA = "desa"


class Kind(StrEnum):
    """What a kabupaten-level or desa-level region is."""

    KABUPATEN = "kabupaten"
    KOTA = "kota"
    DESA = "desa"
    KELURAHAN = "kelurahan"


_LEVEL_BY_SEGMENTS = {1: Level.PROVINSI, 2: Level.KABUPATEN, 3: Level.KECAMATAN, 4: Level.DESA}


def is_region_code(code: str) -> bool:
    """True for a well-formed dotted code of any level (not the nation)."""
    return bool(_CODE.match(code))


def level_of(code: str) -> Level:
    """The level a code's shape implies; `00` is the nation."""
    if code == NATION_CODE:
        return Level.NASIONAL
    if not is_region_code(code):
        raise ValueError(f"not a Kemendagri region code: {code!r}")
    return _LEVEL_BY_SEGMENTS[code.count(".") + 1]


def parent_of(code: str) -> str | None:
    """The code one level up, `00` above a provinsi, None above the nation."""
    if code == NATION_CODE:
        return None
    level_of(code)
    return code.rsplit(".", 1)[0] if "." in code else NATION_CODE


def ancestors(code: str) -> list[str]:
    """Codes from the provinsi down to the code's parent (the nation excluded)."""
    parts = code.split(".")
    return [".".join(parts[:n]) for n in range(1, len(parts))]


def kind_of(code: str) -> Kind | None:
    """The kind the code's digits imply: kota for 71-99, kelurahan for a village segment starting with 1."""
    level = level_of(code)
    if level is Level.KABUPATEN:
        return Kind.KOTA if int(code[3:5]) >= 71 else Kind.KABUPATEN
    if level is Level.DESA:
        return Kind.KELURAHAN if code[-4] == "1" else Kind.DESA
    return None


def _check_code(code: str) -> str:
    if code != NATION_CODE and not is_region_code(code):
        raise ValueError("must be a dotted Kemendagri code such as 36, 36.71, 36.71.01 or 36.71.01.1001, or 00")
    return code


RegionCode = Annotated[str, AfterValidator(_check_code)]
"""A dotted region code, or `00` for the nation."""
