"""Targets in reports: which applies (the region's, one above it, or the Instruction's), actual, gap, on track."""

import datetime as dt
from typing import Any

import asyncpg
import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from kampungkb_shared.inpres import INPRES_YEAR
from registry_api.auth.service import Role
from registry_api.reports import targets
from report_worker.aggregates import rebuild_period
from tests.factories import auth, make_key
from tests.report_worker import oracle
from tests.report_worker.data import PERIODS, RULESETS, Dataset

DECEMBER = dt.date(2024, 12, 1)


def coverage(f: dict[str, int]) -> float | None:
    return oracle.pct(f["kampung_total"], f["desa_total"])


def mandiri_plus(f: dict[str, int]) -> float | None:
    return oracle.pct(f["tier_mandiri"] + f["tier_berkelanjutan"], f["kampung_total"] - f["tier_belum_terklasifikasi"])


def straight_line(
    target: str, value: float, source: str, now: dict[str, int], december: dict[str, int] | None, month: int
) -> dict[str, Any]:
    """The expectation written out: from December's figure to the target by the end of the year."""
    measure = coverage if target == "formation_pct" else mandiri_plus
    current, base = measure(now), None if december is None else measure(december)
    assert current is not None
    if target == "mandiri_plus_increase_pts":
        actual = None if base is None else round(current - base, 2)
        expected: float | None = round(value * month / 12, 2)
    else:
        actual = current
        expected = None if base is None else round(base + (value - base) * month / 12, 2)
    return {
        "target": target,
        "value": value,
        "source": source,
        "baseline": base,
        "actual": actual,
        "gap": None if actual is None else round(value - actual, 2),
        "expected_now": expected,
        "on_track": None if actual is None or expected is None else actual >= expected,
    }


async def test_targets_apply_from_the_nearest_region_or_the_instruction(
    client: httpx.AsyncClient, session: AsyncSession, pg: asyncpg.Connection, dataset: Dataset
) -> None:
    for period in PERIODS:
        await rebuild_period(pg, period=period, rulesets=RULESETS)
    june = PERIODS[5]
    report = (await client.get("/v1/reports/97.01?period=2025-06")).json()
    rows = await oracle.read_rows(pg)
    now = oracle.figures_of(rows, "97.01", june, RULESETS[0])
    # nothing set anywhere, December not computed: the Instruction's formation target, on track unknown
    assert report["target_progress"] == [straight_line("formation_pct", 100.0, "inpres-3-2022", now, None, 6)]
    assert report["targets"] is None

    await rebuild_period(pg, period=DECEMBER, rulesets=RULESETS)
    admin = await make_key(session, Role.ADMIN, "00")
    nation = {"mandiri_plus_pct": 60, "mandiri_plus_increase_pts": 5}
    assert (await client.put("/v1/targets/00/2025", json=nation, headers=auth(admin))).status_code == 200
    provinsi = await make_key(session, Role.PROVINSI, "97")
    saved = await client.put("/v1/targets/97/2025", json={"formation_pct": 80}, headers=auth(provinsi))
    assert saved.status_code == 200 and saved.json()["mandiri_plus_increase_pts"] is None
    kabupaten = await make_key(session, Role.KABUPATEN, "97.01")
    own = {"mandiri_plus_increase_pts": 2.5}
    assert (await client.put("/v1/targets/97.01/2025", json=own, headers=auth(kabupaten))).status_code == 200
    refused = await client.put("/v1/targets/97.01/2025", json={"mandiri_plus_increase_pts": 101}, headers=auth(admin))
    assert refused.status_code == 422 and refused.json()["errors"][0]["loc"] == ["body", "mandiri_plus_increase_pts"]

    december = oracle.figures_of(rows, "97.01", DECEMBER, RULESETS[0])
    seen = set()
    for period, month, last in (("2025-06", 6, june), ("2025-Q1", 3, PERIODS[2]), ("2025-02", 2, PERIODS[1])):
        report = (await client.get(f"/v1/reports/97.01?period={period}")).json()
        now = oracle.figures_of(rows, "97.01", last, RULESETS[0])
        assert report["target_progress"] == [
            straight_line("formation_pct", 80.0, "97", now, december, month),
            straight_line("mandiri_plus_pct", 60.0, "00", now, december, month),
            straight_line("mandiri_plus_increase_pts", 2.5, "97.01", now, december, month),
        ], period
        seen |= {t["on_track"] for t in report["target_progress"]}
        assert report["targets"]["mandiri_plus_increase_pts"] == 2.5
    # the kecamatan below inherits the kabupaten's increase; another provinsi takes the nation's and the Instruction's
    kecamatan = (await client.get("/v1/reports/97.01.02?period=2025-06")).json()["target_progress"]
    assert [(t["target"], t["source"]) for t in kecamatan] == [
        ("formation_pct", "97"),
        ("mandiri_plus_pct", "00"),
        ("mandiri_plus_increase_pts", "97.01"),
    ]
    other = (await client.get("/v1/reports/98?period=2025-06")).json()["target_progress"]
    assert [(t["target"], t["source"], t["value"]) for t in other] == [
        ("formation_pct", "inpres-3-2022", 100.0),
        ("mandiri_plus_pct", "00", 60.0),
        ("mandiri_plus_increase_pts", "00", 5.0),
    ]
    assert {t["on_track"] for t in other} <= {True, False}
    assert seen == {True, False}, "the data hold targets on and off track"


def test_the_instruction_sets_no_target_for_the_years_before_it() -> None:
    assert targets.applied({}, code="97.01", year=INPRES_YEAR - 1) == {}
    assert targets.applied({}, code="97.01", year=INPRES_YEAR) == {
        "formation_pct": targets.Applied(100.0, "inpres-3-2022")
    }
