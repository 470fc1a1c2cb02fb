"""The yearly shortlist against a plain-Python ranking of the same rows, and its CSV and XLSX."""

import csv
import datetime as dt
import io
import random
from typing import Any

import asyncpg
import httpx
import pytest
from openpyxl import load_workbook

from kampungkb_local.demo import demo_regions
from report_worker.aggregates import rebuild_period
from report_worker.quality import QualityRules
from tests.report_worker import oracle
from tests.report_worker.data import (
    PERIODS,
    RULESETS,
    WIB,
    Dataset,
    insert_kampung,
    insert_regions,
    upsert_classification,
    upsert_submission,
)

YEAR = 2025
PRIMARY = RULESETS[0]
PARTNERS = ["DINKES", "DINSOS", "DISDIK", "KEMENAG", "PKK", "PUSKESMAS"]


async def enrich(pg: asyncpg.Connection, dataset: Dataset) -> None:
    """Indices in the stored results, kegiatan with partners around the year, flags, some of them checked."""
    rng = random.Random(7)
    for row in await pg.fetch("SELECT kampung_id, period, ruleset FROM classification ORDER BY 1, 2, 3"):
        indices = [round(rng.uniform(1, 4), 2) if rng.random() < 0.9 else None for _ in range(3)]
        await pg.execute(
            "UPDATE classification SET indices = $4::text::numeric[]"
            " WHERE kampung_id = $1 AND period = $2 AND ruleset = $3",
            row["kampung_id"],
            row["period"],
            row["ruleset"],
            "{" + ",".join("NULL" if i is None else str(i) for i in indices) + "}",
        )
    for kampung_id in dataset.kampung_ids:
        for _ in range(rng.randint(0, 4)):
            day = dt.date(2024, 11, 1) + dt.timedelta(days=rng.randint(0, 500))
            await pg.execute(
                "INSERT INTO kegiatan (kampung_id, title, date, function, partners)"
                " VALUES ($1, 'x', $2, 'REPRODUKSI', $3)",
                kampung_id,
                day,
                rng.sample(PARTNERS, rng.randint(0, 3)),
            )
    for period in PERIODS:
        await rebuild_period(pg, period=period, rulesets=RULESETS, quality=QualityRules(min_history=2))
    await pg.execute("UPDATE quality_flag SET status = 'checked' WHERE id % 3 = 0")


def months_on_time(rows: oracle.Rows, kampung_id: int, first: dt.date, as_of: dt.date) -> int:
    """Months of the range whose earliest first revision, of any module, came before the oracle's deadline."""
    earliest: dict[dt.date, dt.datetime] = {}
    for s in rows.submissions:
        if s["kampung_id"] == kampung_id and first <= s["period"] <= as_of:
            earliest[s["period"]] = min(s["first_at"], earliest.get(s["period"], s["first_at"]))
    return sum(at < oracle.deadline(period) for period, at in earliest.items())


async def expected(pg: asyncpg.Connection, code: str, as_of: dt.date) -> list[dict[str, Any]]:
    rows = await oracle.read_rows(pg)
    results = {
        (r["kampung_id"], r["period"]): {
            "indices": {
                group: None if index is None else float(index)
                for group, index in zip(("input", "proses", "output"), r["indices"], strict=True)
            }
        }
        for r in await pg.fetch("SELECT kampung_id, period, indices FROM classification WHERE ruleset = $1", PRIMARY)
    }
    flags = await pg.fetch("SELECT kampung_id, period, status FROM quality_flag")
    kegiatan = await pg.fetch("SELECT kampung_id, date, partners FROM kegiatan")
    first, last = dt.date(YEAR, 1, 1), dt.date(YEAR, 12, 31)
    out = []
    for k in rows.kampung:
        if not (k["active"] and k["formed_on"] <= last and oracle.in_region(k["desa_code"], code)):
            continue
        mine = [
            c
            for c in rows.classifications
            if c["kampung_id"] == k["id"] and c["ruleset"] == PRIMARY and c["period"] <= as_of
        ]
        newest = max(mine, key=lambda c: c["period"]) if mine else None
        indices = results[(k["id"], newest["period"])]["indices"] if newest else {}
        partners: dict[str, int] = {}
        for g in kegiatan:
            if g["kampung_id"] == k["id"] and first <= g["date"] <= last:
                for p in g["partners"]:
                    partners[p] = partners.get(p, 0) + 1
        out.append(
            {
                "kampung_id": k["id"],
                "tier": newest["tier"] if newest else "belum_terklasifikasi",
                "index_sum": round(sum(indices.get(g) or 0 for g in ("input", "proses", "output")), 2),
                "months_reported": len(
                    {
                        s["period"]
                        for s in rows.submissions
                        if s["kampung_id"] == k["id"] and first <= s["period"] <= as_of
                    }
                ),
                "months_on_time": months_on_time(rows, k["id"], first, as_of),
                "open_flags": len(
                    [
                        f
                        for f in flags
                        if f["kampung_id"] == k["id"] and f["status"] == "open" and first <= f["period"] <= as_of
                    ]
                ),
                "activities": len([g for g in kegiatan if g["kampung_id"] == k["id"] and first <= g["date"] <= last]),
                "activities_by_partner": dict(sorted(partners.items())),
            }
        )
    out.sort(
        key=lambda r: (
            -oracle.RANK[r["tier"]],
            -r["index_sum"],
            -r["months_reported"],
            -r["months_on_time"],
            r["open_flags"],
            r["kampung_id"],
        )
    )
    return out


def picked(item: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "kampung_id",
        "tier",
        "index_sum",
        "months_reported",
        "months_on_time",
        "open_flags",
        "activities",
        "activities_by_partner",
    )
    return {key: item[key] for key in keys}


@pytest.mark.parametrize("code", ["00", "97", "98.71", "97.01.02"])
async def test_ranking_matches_a_plain_ranking(
    client: httpx.AsyncClient, pg: asyncpg.Connection, dataset: Dataset, code: str
) -> None:
    await enrich(pg, dataset)
    want = await expected(pg, code, dt.date(YEAR, 12, 1))
    response = await client.get(f"/v1/reports/{code}/ranking", params={"year": YEAR, "limit": 1000})
    assert response.status_code == 200, response.text
    ranking = response.json()
    assert ranking["year"] == YEAR and ranking["ruleset"] == PRIMARY and ranking["as_of"] == "2025-12"
    assert "tier" in ranking["rule"] and "months of 2025 reported" in ranking["rule"]
    assert (
        "months reported on time" in ranking["rule"] and "day 10 of the next month in Asia/Jakarta" in ranking["rule"]
    )
    assert ranking["total"] == len(want) >= 3
    assert [picked(i) for i in ranking["items"]] == want
    assert [i["rank"] for i in ranking["items"]] == list(range(1, len(want) + 1))
    if code == "00":  # the data cover what the ranking orders by
        assert len({i["tier"] for i in ranking["items"]}) == 5 and any(
            i["activities_by_partner"] for i in ranking["items"]
        )
        assert any(i["open_flags"] for i in ranking["items"]) and any(
            i["indices"]["proses"] is None for i in ranking["items"]
        )
        assert any(0 < i["months_on_time"] < i["months_reported"] for i in ranking["items"])
    top = await client.get(f"/v1/reports/{code}/ranking", params={"year": YEAR, "limit": 3})
    assert [i["kampung_id"] for i in top.json()["items"]] == [w["kampung_id"] for w in want[:3]]
    assert top.json()["total"] == len(want)


async def test_percontohan_and_exports(client: httpx.AsyncClient, pg: asyncpg.Connection, dataset: Dataset) -> None:
    await enrich(pg, dataset)
    want = await expected(pg, "97", dt.date(YEAR, 12, 1))
    await pg.execute("UPDATE kampung SET percontohan_kecamatan = true WHERE id = $1", want[0]["kampung_id"])
    ranking = (await client.get("/v1/reports/97/ranking", params={"year": YEAR, "limit": 5})).json()
    assert ranking["items"][0]["percontohan"] == ["kecamatan"]
    exported = await client.get("/v1/reports/97/ranking", params={"year": YEAR, "limit": 5, "format": "csv"})
    assert exported.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert [int(r["kampung_id"]) for r in table] == [i["kampung_id"] for i in ranking["items"]]
    assert table[0]["percontohan"] == "kecamatan" and table[0]["rank"] == "1"
    assert [int(r["months_on_time"]) for r in table] == [i["months_on_time"] for i in ranking["items"]]
    assert table[0]["activities_by_partner"] == ";".join(
        f"{p}:{n}" for p, n in ranking["items"][0]["activities_by_partner"].items()
    )
    xlsx = await client.get("/v1/reports/97/ranking", params={"year": YEAR, "limit": 5, "format": "xlsx"})
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None
    values = list(sheet.values)
    assert "ranked by" in str(values[0][0]) and values[1][0] == "rank"
    on_time = values[1].index("months_on_time")
    assert [row[on_time] for row in values[2:]] == [i["months_on_time"] for i in ranking["items"]]
    assert [row[1] for row in values[2:]] == [i["kampung_id"] for i in ranking["items"]]


async def test_a_late_month_ranks_below_one_on_time(client: httpx.AsyncClient, pg: asyncpg.Connection) -> None:
    """Two Kampung KB alike in tier, indices, months reported, flags and kegiatan: the one whose March came a
    microsecond after the deadline ranks below the one whose March came at its last microsecond (and was corrected
    later), although its id is the lower."""
    await insert_regions(pg, demo_regions(provinsi="95"))
    late = await insert_kampung(pg, "95.01.01.2001", formed_on=dt.date(2020, 1, 1))
    prompt = await insert_kampung(pg, "95.71.01.1001", formed_on=dt.date(2020, 1, 1))
    march, april = dt.date(YEAR, 3, 1), dt.date(YEAR, 4, 1)
    last_moment = dt.datetime(YEAR, 4, 10, 23, 59, 59, 999_999, tzinfo=WIB)
    people = {"pus": 40, "families": 50, "remaja": 5}
    for kampung_id in (late, prompt):
        await upsert_classification(pg, kampung_id, april, PRIMARY, "mandiri")
        await pg.execute(
            "UPDATE classification SET indices = '{2.5,2.0,1.5}' WHERE kampung_id = $1 AND ruleset = $2",
            kampung_id,
            PRIMARY,
        )
        await upsert_submission(pg, kampung_id, "kependudukan", april, people, at=dt.datetime(YEAR, 5, 2, tzinfo=WIB))
    await upsert_submission(pg, late, "kependudukan", march, people, at=last_moment + dt.timedelta(microseconds=1))
    await upsert_submission(pg, prompt, "kependudukan", march, people, at=last_moment)
    await upsert_submission(pg, prompt, "kependudukan", march, people, at=dt.datetime(YEAR, 4, 20, tzinfo=WIB))
    await upsert_submission(
        pg, prompt, "kkbpk", march, {"kb_users": {}, "non_users": {}}, at=dt.datetime(YEAR, 6, 1, tzinfo=WIB)
    )

    ranking = (await client.get("/v1/reports/95/ranking", params={"year": YEAR})).json()
    got = [(i["kampung_id"], i["months_reported"], i["months_on_time"], i["index_sum"]) for i in ranking["items"]]
    assert got == [(prompt, 2, 2, 6.0), (late, 2, 1, 6.0)]
    assert {i["tier"] for i in ranking["items"]} == {"mandiri"} and {i["open_flags"] for i in ranking["items"]} == {0}
    rows = await oracle.read_rows(pg)
    first = dt.date(YEAR, 1, 1)
    assert [i["months_on_time"] for i in ranking["items"]] == [
        months_on_time(rows, kampung_id, first, dt.date(YEAR, 12, 1)) for kampung_id in (prompt, late)
    ]


async def test_bad_input(client: httpx.AsyncClient, pg: asyncpg.Connection, dataset: Dataset) -> None:
    future = await client.get("/v1/reports/97/ranking", params={"year": dt.date.today().year + 1})
    assert future.status_code == 422 and future.json()["errors"][0]["loc"][-1] == "year"
    assert (await client.get("/v1/reports/97/ranking", params={"limit": 0})).status_code == 422
    assert (await client.get("/v1/reports/97/ranking", params={"format": "pdf"})).status_code == 422
    assert (await client.get("/v1/reports/94/ranking", params={"year": YEAR})).status_code == 404
    empty = (await client.get("/v1/reports/96/ranking", params={"year": YEAR})).json()
    assert (empty["total"], empty["items"]) == (0, [])
