"""Months of national history for `bench_history.py`, generated with a fixed seed: the files an integration posts.

Month 1 registers a Kampung KB in a share (`scale`) of the desa of the region list and gives each its three modules,
as `bench_import.py` generates them. Every later month the integration posts the three module files again for every
Kampung KB: most rows as the month before, a share changed (`CHANGE`: the kkbpk of a third, drifting by up to a
tenth between methods and between reasons; the kependudukan of one in twenty, with a new kkbpk that adds up to it;
the profil of one in fifty, keeping its poktan), plus kegiatan of some Kampung KB dated in the month, and
corrections of the kkbpk of a few Kampung KB one to three months back (drifted the same way).

Months depend on the ones before, so `months()` replays the state from month 1; only the months asked for are
written out as files (a month's state costs a fraction of a second, its files a few seconds).
"""

import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from bench_import import (
    COLUMNS,
    METHODS,
    REASONS,
    _csv,
    _some,
    kampung_row,
    kependudukan_row,
    kkbpk_row,
    profil_row,
)

from kampungkb_shared.periods import add_months, format_period

SEED = 20231201
START = dt.date(2023, 12, 1)
CHANGE = {"kkbpk": 0.30, "kependudukan": 0.05, "profil": 0.02}
"""The share of Kampung KB whose module changes from one month to the next."""
CORRECTED = 0.005
"""The share of Kampung KB whose kkbpk of one to three months back is corrected in a month."""
ACTIVE = 0.3
"""The share of Kampung KB that record kegiatan in a month (one to three each)."""
MODULES = ("profil", "kependudukan", "kkbpk")
FUNCTIONS = ["KEAGAMAAN", "PENDIDIKAN", "REPRODUKSI", "EKONOMI", "PERLINDUNGAN", "KASIH_SAYANG", "SOSIAL_BUDAYA"]
TARGETS = ["SELURUH_PENDUDUK", "PUS", "REMAJA", "LANSIA", "BALITA", "KELUARGA_DENGAN_BALITA"]
PARTNERS = [
    "DINAS_KESEHATAN",
    "DINAS_SOSIAL",
    "DINAS_PPPA",
    "DINAS_PENDIDIKAN",
    "DINAS_PMD",
    "PEMERINTAH_DESA_KELURAHAN",
]
KEGIATAN_COLUMNS = ["desa_code", "title", "date", "function", "targets", "partners"]


def period_of(month: int) -> str:
    """`YYYY-MM` of month 1, 2, ..."""
    return format_period(add_months(START, month - 1))


@dataclass
class Month:
    number: int
    period: str
    kampung: bytes
    """Every Kampung KB (month 1 posts it; an empty database given this month alone needs it too)."""
    files: dict[str, bytes]
    """The three module files and `kegiatan`."""
    corrections: dict[str, bytes] = field(default_factory=dict)
    """kkbpk files of earlier periods, by period."""


def _state_rows(rng: random.Random, desa: list[tuple[str, str]]) -> dict[str, list[dict[str, Any]]]:
    rows: dict[str, list[dict[str, Any]]] = {module: [] for module in ("kampung", *MODULES)}
    for code, name in desa:
        rows["kampung"].append(kampung_row(rng, code, name, formed_by=START - dt.timedelta(days=1)))
        rows["profil"].append(profil := profil_row(rng, code))
        rows["kependudukan"].append(population := kependudukan_row(rng, code))
        rows["kkbpk"].append(kkbpk_row(rng, population, profil["poktan"]))
    return rows


def _drift(rng: random.Random, kkbpk: dict[str, Any]) -> dict[str, Any]:
    """The kkbpk a month later: up to a tenth of one method's users moved to another, and of one reason's non-users
    to another (the totals, which must add up to the PUS, stay), as monthly figures move."""
    row = dict(kkbpk)
    for codes in (METHODS, REASONS):
        present = [code for code in codes if code in row]
        if len(present) > 1:
            source, target = rng.sample(present, 2)
            moved = rng.randint(0, row[source] // 10)
            row[source] -= moved
            row[target] += moved
    return row


def _change(rng: random.Random, rows: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """The next month: new lists, the changed rows replaced (rows are never changed in place, so that the months
    before keep theirs)."""
    new = {module: list(rows[module]) for module in MODULES}
    count = len(new["kkbpk"])
    for i in rng.sample(range(count), round(count * CHANGE["profil"])):
        new["profil"][i] = profil_row(rng, new["profil"][i]["desa_code"], poktan=new["profil"][i]["poktan"])
    for i in rng.sample(range(count), round(count * CHANGE["kependudukan"])):
        new["kependudukan"][i] = kependudukan_row(rng, new["kependudukan"][i]["desa_code"])
        new["kkbpk"][i] = kkbpk_row(rng, new["kependudukan"][i], new["profil"][i]["poktan"])
    for i in rng.sample(range(count), round(count * CHANGE["kkbpk"])):
        new["kkbpk"][i] = _drift(rng, new["kkbpk"][i])
    return new


def _kegiatan(rng: random.Random, month: dt.date, codes: list[str]) -> list[dict[str, Any]]:
    days = (add_months(month, 1) - month).days
    rows = []
    for code in rng.sample(codes, round(len(codes) * ACTIVE)):
        for n in range(rng.randint(1, 3)):
            rows.append(
                {
                    "desa_code": code,
                    "title": f"Kegiatan {n + 1} {code}",
                    "date": (month + dt.timedelta(days=rng.randrange(days))).isoformat(),
                    "function": rng.choice(FUNCTIONS),
                    "targets": ";".join(_some(rng, TARGETS, low=1)),
                    "partners": ";".join(_some(rng, PARTNERS)),
                }
            )
    return rows


def months(desa: list[tuple[str, str]], *, scale: float, count: int, first: int = 1) -> Iterator[Month]:
    """Months `first` to `count` (from 1), with their files; the months before `first` are replayed, not written."""
    rng = random.Random(SEED)
    chosen = [d for d in desa if rng.random() < scale]
    rows = _state_rows(rng, chosen)
    kampung = rows.pop("kampung")
    codes = [row["desa_code"] for row in kampung]
    before: list[dict[str, list[dict[str, Any]]]] = []
    for number in range(1, count + 1):
        if number > 1:
            before = [rows, *before[:2]]
            rows = _change(rng, rows)
        month = add_months(START, number - 1)
        kegiatan = _kegiatan(rng, month, codes)
        corrections: dict[int, list[dict[str, Any]]] = {}
        for i in rng.sample(range(len(codes)), round(len(codes) * CORRECTED)) if before else []:
            back = rng.randint(1, len(before))
            state = before[back - 1]
            corrections.setdefault(back, []).append(_drift(rng, state["kkbpk"][i]))
        if number < first:
            continue
        files = {module: _csv(COLUMNS[module], rows[module]) for module in MODULES}
        files["kegiatan"] = _csv(KEGIATAN_COLUMNS, kegiatan)
        yield Month(
            number,
            period_of(number),
            _csv(COLUMNS["kampung"], kampung),
            files,
            {period_of(number - back): _csv(COLUMNS["kkbpk"], fixed) for back, fixed in sorted(corrections.items())},
        )
