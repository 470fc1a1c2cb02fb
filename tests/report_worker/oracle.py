"""The aggregates computed the plain way: loops over every row, one region at a time. The tests' reference."""

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import asyncpg

METHODS = ["KB_IUD", "KB_MOW", "KB_MOP", "KB_KONDOM", "KB_IMPLAN", "KB_SUNTIK", "KB_PIL"]
MKJP = {"KB_IUD", "KB_MOW", "KB_MOP", "KB_IMPLAN"}
UNMET = {"IAT", "TIAL"}
RANK = {"belum_terklasifikasi": 0, "dasar": 1, "berkembang": 2, "mandiri": 3, "berkelanjutan": 4}
TIERS = ["dasar", "berkembang", "mandiri", "berkelanjutan", "belum_terklasifikasi"]
TIMELY = ["profil", "kependudukan", "kkbpk"]
WIB = dt.timezone(dt.timedelta(hours=7))


@dataclass
class Rows:
    wilayah: list[asyncpg.Record]
    kampung: list[asyncpg.Record]
    submissions: list[dict[str, Any]]
    classifications: list[asyncpg.Record]


async def read_rows(connection: asyncpg.Connection) -> Rows:
    submissions = [
        {
            "id": r["id"],
            "kampung_id": r["kampung_id"],
            "module": r["module"],
            "period": r["period"],
            "payload": json.loads(r["payload"]),
            "first_at": r["first_at"] or r["submitted_at"],
            "submitted_at": r["submitted_at"],
            "submitted_by": r["submitted_by"],
        }
        for r in await connection.fetch(
            """SELECT s.id, s.kampung_id, s.module, s.period, s.payload::text, s.submitted_at, s.submitted_by,
                      (SELECT v.submitted_at FROM submission_revision v WHERE v.submission_id = s.id
                        AND v.revision = (SELECT min(w.revision) FROM submission_revision w
                                           WHERE w.submission_id = s.id)) AS first_at
                 FROM submission s"""
        )
    ]
    return Rows(
        wilayah=await connection.fetch("SELECT * FROM wilayah"),
        kampung=await connection.fetch("SELECT * FROM kampung"),
        submissions=submissions,
        classifications=await connection.fetch("SELECT kampung_id, period, ruleset, tier FROM classification"),
    )


def month_end(period: dt.date) -> dt.date:
    following = dt.date(period.year + period.month // 12, period.month % 12 + 1, 1)
    return following - dt.timedelta(days=1)


def previous(period: dt.date) -> dt.date:
    return (period - dt.timedelta(days=1)).replace(day=1)


def deadline(period: dt.date, day: int = 10) -> dt.datetime:
    """The first late instant: midnight WIB (UTC+7, no daylight saving) after `day` of the following month."""
    following = dt.date(period.year + period.month // 12, period.month % 12 + 1, day)
    return dt.datetime(following.year, following.month, following.day, tzinfo=WIB) + dt.timedelta(days=1)


def timeliness(rows: Rows, kampung_id: int, module: str, period: dt.date, day: int = 10) -> str:
    for s in rows.submissions:
        if s["kampung_id"] == kampung_id and s["module"] == module and s["period"] == period:
            return "on_time" if s["first_at"] < deadline(period, day) else "late"
    return "missing"


def in_region(desa_code: str, region: str) -> bool:
    return region == "00" or desa_code.startswith(region + ".")


def in_force(rows: Rows, kampung_id: int, module: str, period: dt.date) -> dict[str, Any] | None:
    best = None
    for s in rows.submissions:
        mine = s["kampung_id"] == kampung_id and s["module"] == module and s["period"] <= period
        if mine and (best is None or s["period"] > best["period"]):
            best = s
    return None if best is None else best["payload"]


def tier_as_of(rows: Rows, kampung_id: int, ruleset: str, period: dt.date) -> str:
    best = None
    for c in rows.classifications:
        mine = c["kampung_id"] == kampung_id and c["ruleset"] == ruleset and c["period"] <= period
        if mine and (best is None or c["period"] > best["period"]):
            best = c
    return "belum_terklasifikasi" if best is None else best["tier"]


def counted(rows: Rows, period: dt.date) -> list[asyncpg.Record]:
    """Kampung KB in the figures of a period: active, and formed by the end of the period."""
    return [k for k in rows.kampung if k["active"] and k["formed_on"] <= month_end(period)]


def method_columns() -> list[str]:
    """Each method's users, as the aggregates name them."""
    return [code.lower() for code in METHODS]


def figures_of(rows: Rows, region: str, period: dt.date, ruleset: str) -> dict[str, int]:
    f: dict[str, int] = {}
    desas = [w for w in rows.wilayah if w["level"] == "desa" and in_region(w["code"], region)]
    f["desa_total"] = len(desas)
    f["desa"] = len([w for w in desas if w["kind"] == "desa"])
    f["kelurahan"] = len([w for w in desas if w["kind"] == "kelurahan"])
    f["kecamatan_total"] = len({w["code"][:8] for w in desas})
    kind_of = {w["code"]: w["kind"] for w in desas}
    kampungs = [k for k in counted(rows, period) if in_region(k["desa_code"], region)]
    f["kampung_total"] = len(kampungs)
    f["kampung_desa"] = len([k for k in kampungs if kind_of[k["desa_code"]] == "desa"])
    f["kampung_kelurahan"] = len([k for k in kampungs if kind_of[k["desa_code"]] == "kelurahan"])
    f["kecamatan_with_kampung"] = len({k["kecamatan_code"] for k in kampungs})
    for tier in TIERS:
        f[f"tier_{tier}"] = 0
        f[f"prev_{tier}"] = 0
    f["promoted"] = f["demoted"] = 0
    prev_end = month_end(previous(period))
    for k in kampungs:
        tier = tier_as_of(rows, k["id"], ruleset, period)
        f[f"tier_{tier}"] += 1
        if k["formed_on"] <= prev_end:
            before = tier_as_of(rows, k["id"], ruleset, previous(period))
            f[f"prev_{before}"] += 1
            if RANK[before] > 0 and RANK[tier] > RANK[before]:
                f["promoted"] += 1
            if RANK[tier] > 0 and RANK[tier] < RANK[before]:
                f["demoted"] += 1
    f["reported"] = 0
    for k in kampungs:
        if any(s["kampung_id"] == k["id"] and s["period"] == period for s in rows.submissions):
            f["reported"] += 1
    f["percontohan"] = len(
        [k for k in kampungs if k["percontohan_kecamatan"] or k["percontohan_kabupaten"] or k["percontohan_provinsi"]]
    )
    names = ["pokja", "sk_pokja", "pokja_trained", "rumah_dataku", "sekretariat", "pkb_pendamping", "regulation", "rkm"]
    f["profil_kampung"] = 0
    for name in names:
        f[f"own_{name}"] = 0
    for k in kampungs:
        p = in_force(rows, k["id"], "profil", period)
        if p is None:
            continue
        f["profil_kampung"] += 1
        pokja = p["pokja"]
        f["own_pokja"] += pokja["exists"]
        f["own_sk_pokja"] += pokja["exists"] and pokja["sk"]
        f["own_pokja_trained"] += pokja["exists"] and pokja["trained"]
        f["own_rumah_dataku"] += "RUMAH_DATAKU" in p["facilities"]
        f["own_sekretariat"] += "SEKRETARIAT" in p["facilities"]
        f["own_pkb_pendamping"] += p["pkb_pendamping"]
        f["own_regulation"] += len(p["regulations"]) > 0
        f["own_rkm"] += p["rkm"]
    f["kependudukan_kampung"] = f["pus"] = 0
    for k in kampungs:
        p = in_force(rows, k["id"], "kependudukan", period)
        if p is not None:
            f["kependudukan_kampung"] += 1
            f["pus"] += p["pus"]
    for name in ("kkbpk_kampung", "kkbpk_pus", "kb_users", "mkjp_users", "unmet_need", *method_columns()):
        f[name] = 0
    for k in kampungs:
        p = in_force(rows, k["id"], "kkbpk", period)
        if p is None:
            continue
        users = sum(p["kb_users"].values())
        f["kkbpk_kampung"] += 1
        f["kb_users"] += users
        f["kkbpk_pus"] += users + sum(p["non_users"].values())
        f["mkjp_users"] += sum(n for code, n in p["kb_users"].items() if code in MKJP)
        f["unmet_need"] += sum(n for code, n in p["non_users"].items() if code in UNMET)
        for code in METHODS:
            f[code.lower()] += p["kb_users"].get(code, 0)
    for module in TIMELY:
        statuses = [timeliness(rows, k["id"], module, period) for k in kampungs]
        f[f"{module}_on_time"] = statuses.count("on_time")
        f[f"{module}_late"] = statuses.count("late")
    return {name: int(value) for name, value in f.items()}


def regions(rows: Rows) -> dict[str, tuple[str, str | None]]:
    """Every region with a desa below it: code -> (level, parent code)."""
    out: dict[str, tuple[str, str | None]] = {"00": ("nasional", None)}
    for w in rows.wilayah:
        if w["level"] == "desa":
            code = w["code"]
            out[code[:2]] = ("provinsi", "00")
            out[code[:5]] = ("kabupaten", code[:2])
            out[code[:8]] = ("kecamatan", code[:5])
    return out


def expected(rows: Rows, periods: list[dt.date], rulesets: list[str]) -> dict[tuple[dt.date, str, str], dict[str, Any]]:
    out = {}
    for period in periods:
        for ruleset in rulesets:
            for code, (level, parent) in regions(rows).items():
                out[(period, ruleset, code)] = {
                    "level": level,
                    "parent_code": parent,
                    **figures_of(rows, code, period, ruleset),
                }
    return out


def pct(numerator: int, denominator: int) -> float | None:
    return None if denominator == 0 else round(100 * numerator / denominator, 2)


FLOWS = [
    "reported",
    "kkbpk_kampung",
    "kkbpk_pus",
    "kb_users",
    "mkjp_users",
    *method_columns(),
    "unmet_need",
    "promoted",
    "demoted",
    *[f"{module}_{status}" for module in TIMELY for status in ("on_time", "late")],
]


def span_figures(rows: Rows, region: str, months: list[dt.date], ruleset: str) -> dict[str, int]:
    """A quarter or year from raw rows: what the region is as of the last month, what happened summed over the
    months, the tiers before it as of the month before the first, and the Kampung KB-months counted."""
    monthly = [figures_of(rows, region, month, ruleset) for month in months]
    out = dict(monthly[-1])
    for name in FLOWS:
        out[name] = sum(f[name] for f in monthly)
    out["kampung_months"] = sum(f["kampung_total"] for f in monthly)
    before = previous(months[0])
    counted_before = {k["id"] for k in counted(rows, before) if in_region(k["desa_code"], region)}
    for tier in TIERS:
        out[f"prev_{tier}"] = sum(1 for k in counted_before if tier_as_of(rows, k, ruleset, before) == tier)
    return out
