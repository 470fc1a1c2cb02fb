"""The report charts: the numbers drawn are the report's, in the language asked for, cached by the figures' tag."""

import datetime as dt
import xml.etree.ElementTree as ET

import asyncpg
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from registry_api.auth.service import Role
from registry_api.reports import service as reports
from report_worker.aggregates import rebuild_period
from tests.factories import auth, make_key
from tests.report_worker import oracle
from tests.report_worker.data import PERIODS, RULESETS, Dataset

MONTH = PERIODS[-1].strftime("%Y-%m")
MIX_ORDER = [m for m in oracle.METHODS if m in oracle.MKJP] + [m for m in oracle.METHODS if m not in oracle.MKJP]
"""The methods as the kkbpk chart stacks them: the long-acting ones at the bottom."""
SVG = "{http://www.w3.org/2000/svg}"


def series_values(svg: bytes) -> list[list[str]]:
    """Each series' drawn values (pygal's `desc.value` of every bar or dot), in the order the series were added."""
    root = ET.fromstring(svg)
    out = []
    for group in root.iter(f"{SVG}g"):
        classes = group.get("class", "").split()
        values = [d.text or "" for d in group.iter(f"{SVG}desc") if d.get("class") == "value"]
        if "series" in classes and values:  # pygal repeats each series' group, empty, in its text overlay
            out.append(values)
    return out


def number(value: float | int | None) -> str:
    """How pygal prints a value."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@pytest.fixture
async def computed(pg: asyncpg.Connection, dataset: Dataset) -> oracle.Rows:
    for period in PERIODS:
        await rebuild_period(pg, period=period, rulesets=RULESETS)
    return await oracle.read_rows(pg)


async def test_tier_chart_draws_the_report_tiers(client: httpx.AsyncClient, computed: oracle.Rows) -> None:
    report = (await client.get(f"/v1/reports/98?period={MONTH}")).json()
    response = await client.get(f"/v1/reports/98/charts/tiers.svg?period={MONTH}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/svg+xml"
    rows = [report, *report["children"]]
    tiers = ("dasar", "berkembang", "mandiri", "berkelanjutan", "belum_terklasifikasi")
    assert series_values(response.content) == [[str(row["tiers"][tier]) for row in rows] for tier in tiers]
    assert sum(int(v) for s in series_values(response.content) for v in s[:1]) == report["kampung_total"]
    assert b"Berkembang" in response.content and b"Developing" not in response.content
    english = await client.get(f"/v1/reports/98/charts/tiers.svg?period={MONTH}&lang=en")
    assert b"Developing" in english.content and english.headers["etag"] != response.headers["etag"]
    scripts = list(ET.fromstring(response.content).iter(f"{SVG}script"))
    assert all(not any("href" in name for name in s.attrib) for s in scripts), "no script loaded from elsewhere"
    assert "script-src" not in response.headers["content-security-policy"]  # pygal's inline config never runs


async def test_reporting_and_kkbpk_charts_draw_the_report_figures(
    client: httpx.AsyncClient, computed: oracle.Rows
) -> None:
    report = (await client.get(f"/v1/reports/97.01?period={MONTH}")).json()
    rows = [report, *report["children"]]
    reporting = await client.get(f"/v1/reports/97.01/charts/reporting.svg?period={MONTH}&module=kkbpk")
    assert reporting.status_code == 200, reporting.text
    want = [[str(row["timeliness"]["kkbpk"][status]) for row in rows] for status in ("on_time", "late", "missing")]
    assert series_values(reporting.content) == want
    kkbpk = await client.get(f"/v1/reports/97.01/charts/kkbpk.svg?period={MONTH}")
    assert kkbpk.status_code == 200, kkbpk.text
    fields = ("cpr_pct", "mkjp_pct", "unmet_need_pct")
    drawn = series_values(kkbpk.content)
    assert drawn[:3] == [[number(r[f]) for r in rows if r[f] is not None] for f in fields]
    # below them the method mix, each method's share of each region's users, the long-acting methods first
    mix = [[number(r["method_mix_pct"][m]) for r in rows if r["method_mix_pct"][m] is not None] for m in MIX_ORDER]
    assert drawn[3:] == mix and len(drawn) == 3 + len(oracle.METHODS)
    shares = [list(r["method_mix_pct"].values()) for r in rows]
    with_users = [share for share in shares if None not in share]
    assert with_users and all(abs(sum(share) - 100) < 0.05 for share in with_users), "a bar is all its region's users"
    assert b"Implan (%)" in kkbpk.content and b"Mix kontrasepsi" in kkbpk.content
    english = await client.get(f"/v1/reports/97.01/charts/kkbpk.svg?period={MONTH}&lang=en")
    assert b"Implant (%)" in english.content and b"Method mix" in english.content


async def test_trend_chart_draws_each_period_and_the_target(
    client: httpx.AsyncClient, computed: oracle.Rows, session: AsyncSession
) -> None:
    trend = (await client.get(f"/v1/reports/97/trend?to={MONTH}")).json()
    url = f"/v1/reports/97/charts/trend.svg?period={MONTH}"
    without = await client.get(url)
    assert len(series_values(without.content)) == 6, "no target in force: no target line"
    admin = await make_key(session, Role.ADMIN, "00")
    put = await client.put("/v1/targets/00/2025", json={"mandiri_plus_pct": 25}, headers=auth(admin))
    assert put.status_code == 200, put.text
    response = await client.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["etag"] != without.headers["etag"]
    drawn = series_values(response.content)
    assert drawn[0] == [str(p["tiers"]["dasar"]) for p in trend["points"]]
    assert drawn[5] == [number(p["mandiri_plus_pct"]) for p in trend["points"] if p["mandiri_plus_pct"] is not None]
    assert len(drawn) == 7 and set(drawn[6]) == {"25"}  # the national target, set for 00
    assert [p["period"] for p in trend["points"]] == [p.strftime("%Y-%m") for p in PERIODS]


async def test_chart_is_cached_by_the_figures_tag(
    client: httpx.AsyncClient, computed: oracle.Rows, pg: asyncpg.Connection
) -> None:
    url = f"/v1/reports/97/charts/tiers.svg?period={MONTH}"
    first = await client.get(url)
    tag = first.headers["etag"]
    again = await client.get(url, headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == tag
    other_period = await client.get(f"/v1/reports/97/charts/tiers.svg?period={PERIODS[-2]:%Y-%m}")
    assert other_period.headers["etag"] != tag
    # computed again (inside the test's one transaction, now() would not move: the time is moved by hand)
    await pg.execute("UPDATE report_aggregate SET computed_at = computed_at + interval '1 minute' WHERE code = '97'")
    after = await client.get(url, headers={"If-None-Match": tag})
    assert after.status_code == 200 and after.headers["etag"] != tag


async def computed_again(pg: asyncpg.Connection, month: dt.date) -> None:
    """A month's aggregates computed again (inside the test's one transaction, now() would not move)."""
    await pg.execute(
        "UPDATE report_aggregate SET computed_at = computed_at + interval '1 minute' WHERE period = $1", month
    )


async def test_a_quarter_or_year_chart_changes_its_tag_when_its_last_month_is_computed_again(
    client: httpx.AsyncClient, computed: oracle.Rows, pg: asyncpg.Connection
) -> None:
    for month in range(7, 13):  # the whole of 2025 (the data end in June)
        await rebuild_period(pg, period=dt.date(2025, month, 1), rulesets=RULESETS)
    for span, last in (("2025-Q2", dt.date(2025, 6, 1)), ("2025", dt.date(2025, 12, 1))):
        for chart in ("tiers", "reporting", "kkbpk", "trend"):
            url = f"/v1/reports/97/charts/{chart}.svg?period={span}"
            first = await client.get(url)
            assert first.status_code == 200, first.text
            await computed_again(pg, last)
            after = await client.get(url, headers={"If-None-Match": first.headers["etag"]})
            assert after.status_code == 200 and after.headers["etag"] != first.headers["etag"], (span, chart)


async def test_a_quarter_in_progress_changes_its_tag_when_its_next_month_is_computed(
    client: httpx.AsyncClient, computed: oracle.Rows, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reports, "current_period", lambda: "2025-05")  # 2025-Q2 so far: April and May
    urls = [f"/v1/reports/97/charts/{chart}.svg?period=2025-Q2" for chart in ("tiers", "trend")]
    urls.append("/v1/reports/97?period=2025-Q2")
    before = {url: (await client.get(url)).headers["etag"] for url in urls}
    assert (await client.get(urls[-1])).json()["months"] == ["2025-04", "2025-05"]
    monkeypatch.setattr(reports, "current_period", lambda: "2025-06")  # June joins it, computed with the others
    for url in urls:
        after = await client.get(url, headers={"If-None-Match": before[url]})
        assert after.status_code == 200 and after.headers["etag"] != before[url], url


async def test_trend_chart_draws_the_target_of_each_points_year(
    client: httpx.AsyncClient, computed: oracle.Rows, session: AsyncSession, pg: asyncpg.Connection
) -> None:
    for month in (11, 12):
        await rebuild_period(pg, period=dt.date(2024, month, 1), rulesets=RULESETS)
    admin = auth(await make_key(session, Role.ADMIN, "00"))
    # 2024: the nation's 50, but the provinsi's own 20 comes first; 2025: the nation's 30
    for code, year, goal in (("00", 2024, 50), ("97", 2024, 20), ("00", 2025, 30)):
        put = await client.put(f"/v1/targets/{code}/{year}", json={"mandiri_plus_pct": goal}, headers=admin)
        assert put.status_code == 200, put.text
    periods = [p["period"] for p in (await client.get(f"/v1/reports/97/trend?to={MONTH}")).json()["points"]]
    assert periods == ["2024-11", "2024-12", *(p.strftime("%Y-%m") for p in PERIODS)]
    url = f"/v1/reports/97/charts/trend.svg?period={MONTH}"
    first = await client.get(url)
    assert first.status_code == 200, first.text
    assert series_values(first.content)[6] == ["20", "20", *["30"] * len(PERIODS)]
    # a target of an earlier year of the trend changes its tag too
    put = await client.put("/v1/targets/97/2024", json={"mandiri_plus_pct": 22}, headers=admin)
    assert put.status_code == 200, put.text
    after = await client.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert after.status_code == 200 and after.headers["etag"] != first.headers["etag"]
    assert series_values(after.content)[6] == ["22", "22", *["30"] * len(PERIODS)]


async def test_unknown_chart_and_uncomputed_report_are_problems(
    client: httpx.AsyncClient, computed: oracle.Rows
) -> None:
    unknown = await client.get(f"/v1/reports/97/charts/pie.svg?period={MONTH}")
    assert unknown.status_code == 422 and unknown.headers["content-type"] == "application/problem+json"
    assert "chart" in unknown.text
    missing = await client.get("/v1/reports/97/charts/tiers.svg?period=2019-01")
    assert missing.status_code == 404 and "report-not-computed" in missing.text
    bad_lang = await client.get(f"/v1/reports/97/charts/tiers.svg?period={MONTH}&lang=fr")
    assert bad_lang.status_code == 422 and "lang" in bad_lang.text
