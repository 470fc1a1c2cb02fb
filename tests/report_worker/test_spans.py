"""Quarter and year reports, read from the monthly aggregates, against the oracle's plain recomputation."""

import datetime as dt
import re
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from kampungkb_shared.periods import add_months
from report_worker.aggregates import rebuild_period
from tests.factories import auth, make_key
from tests.openapi_contract import operations
from tests.report_worker import oracle
from tests.report_worker.data import RULESETS, Dataset
from tests.report_worker.test_reports_api import headline_of, picked, timeliness_of

YEAR = [dt.date(2025, month, 1) for month in range(1, 13)]
SPANS = {
    "2025-Q1": YEAR[0:3],
    "2025-Q2": YEAR[3:6],
    "2025-Q3": YEAR[6:9],
    "2025": YEAR,
}


@pytest.fixture
async def computed(pg: asyncpg.Connection, dataset: Dataset) -> oracle.Rows:
    for period in [add_months(YEAR[0], -1), *YEAR]:
        await rebuild_period(pg, period=period, rulesets=RULESETS)
    return await oracle.read_rows(pg)


def span_headline(f: dict[str, Any]) -> dict[str, Any]:
    return headline_of(f) | {
        "reporting_rate_pct": oracle.pct(f["reported"], f["kampung_months"]),
        "timeliness": timeliness_of(f, f["kampung_months"]),
    }


async def test_span_reports_equal_the_oracle(client: httpx.AsyncClient, computed: oracle.Rows) -> None:
    for span in SPANS:
        for code in ("00", "98", "97.01"):
            await check_span(client, computed, span, code)


async def check_span(client: httpx.AsyncClient, computed: oracle.Rows, span: str, code: str) -> None:
    ruleset = RULESETS[1]
    response = await client.get(f"/v1/reports/{code}?period={span}&ruleset={ruleset}")
    assert response.status_code == 200, response.text
    report = response.json()
    months = SPANS[span]
    f = oracle.span_figures(computed, code, months, ruleset)
    assert report["period"] == span
    assert report["months"] == [m.strftime("%Y-%m") for m in months]
    assert report["kampung_months"] == f["kampung_months"]
    want = span_headline(f)
    assert picked(report, want) == want
    kkbpk = report["kkbpk"]
    for name in ("pus", "kependudukan_kampung", "kkbpk_kampung", "kkbpk_pus", "kb_users", "mkjp_users", "unmet_need"):
        assert kkbpk[name] == f[name], name
    assert kkbpk["kb_users_by_method"] == {code: f[code.lower()] for code in oracle.METHODS}
    change = report["tier_change"]
    assert change["previous_period"] == {"2025-Q1": "2024-Q4", "2025-Q2": "2025-Q1", "2025-Q3": "2025-Q2"}.get(
        span, "2024"
    )
    assert change["previous"] == {tier: f[f"prev_{tier}"] for tier in oracle.TIERS}
    assert change["delta"] == {tier: f[f"tier_{tier}"] - f[f"prev_{tier}"] for tier in oracle.TIERS}
    assert (change["promoted"], change["demoted"]) == (f["promoted"], f["demoted"])
    previous = {"2025-Q2": "2025-Q1", "2025-Q3": "2025-Q2"}.get(span)  # 2024-Q4 and 2024 are not all computed
    if previous is None:
        assert report["previous"] is None
    else:
        before = span_headline(oracle.span_figures(computed, code, SPANS[previous], ruleset))
        assert report["previous"]["period"] == previous and picked(report["previous"], before) == before
    for child in report["children"]:
        child_want = span_headline(oracle.span_figures(computed, child["code"], months, ruleset))
        assert picked(child, child_want) == child_want, child["code"]
    # a span is not the last month alone: the sums over the months differ from it
    last = oracle.figures_of(computed, code, months[-1], ruleset)
    assert f["kampung_months"] > last["kampung_total"] and f["kb_users"] > last["kb_users"]
    assert all(f[method] > last[method] for method in oracle.method_columns())
    if span != "2025-Q3":  # the data end in June
        assert f["reported"] > last["reported"] and f["kkbpk_late"] > last["kkbpk_late"]


async def test_kecamatan_quarter_counts_months_reported(client: httpx.AsyncClient, computed: oracle.Rows) -> None:
    months = SPANS["2025-Q2"]
    report = (await client.get("/v1/reports/97.01.01?period=2025-Q2")).json()
    by_desa = {k["desa_code"]: k for k in oracle.counted(computed, months[-1])}
    assert any(c["months_reported"] > 1 for c in report["children"])
    for child in report["children"]:
        kampung = by_desa.get(child["code"])
        reported = (
            len(
                {
                    s["period"]
                    for s in computed.submissions
                    if s["kampung_id"] == kampung["id"] and s["period"] in months
                }
            )
            if kampung
            else 0
        )
        assert child["months_reported"] == reported and child["reported"] is (reported > 0)


async def test_trend_by_quarter_and_by_year(client: httpx.AsyncClient, computed: oracle.Rows) -> None:
    response = await client.get("/v1/reports/97/trend?from=2024-Q4&to=2025-Q4&ruleset=kkb-2025")
    assert response.status_code == 200, response.text
    points = response.json()["points"]
    # 2024-Q4 has only its December computed: no point
    assert [p["period"] for p in points] == ["2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4"]
    for point in points[:3]:
        want = span_headline(oracle.span_figures(computed, "97", SPANS[point["period"]], "kkb-2025"))
        assert picked(point, want) == want
    years = (await client.get("/v1/reports/97/trend?from=2024&to=2025")).json()["points"]
    assert [p["period"] for p in years] == ["2025"]
    last_years = await client.get("/v1/reports/97/trend?from=2990&to=2999")
    assert last_years.status_code == 200 and last_years.json()["points"] == []
    mixed = await client.get("/v1/reports/97/trend?from=2025-01&to=2025-Q4")
    assert mixed.status_code == 422 and mixed.json()["errors"][0]["loc"] == ["query", "to"]


async def test_bad_and_uncomputed_spans(client: httpx.AsyncClient, computed: oracle.Rows) -> None:
    for bad in ("2025-Q5", "2025-Q0", "25", "2025-1", "0000", "0000-Q1", "3000-01"):
        response = await client.get(f"/v1/reports/97?period={bad}")
        assert response.status_code == 422, bad
        assert response.json()["errors"][0]["loc"] == ["query", "period"]
    uncomputed = await client.get("/v1/reports/97?period=2024-Q4")
    assert uncomputed.status_code == 404 and uncomputed.json()["type"] == "/problems/report-not-computed"
    assert "2024-10, 2024-11" in uncomputed.json()["detail"]
    future = await client.get("/v1/reports/97?period=2099")
    assert future.status_code == 404 and future.json()["type"] == "/problems/report-not-computed"
    export = await client.get("/v1/reports/98/export?period=2025-Q1&format=csv")
    assert export.status_code == 200 and "-2025-Q1-" in export.headers["content-disposition"]


SPAN_READS = {
    ("getReport", "period"): "/v1/reports/97?period={0}",
    ("getTrend", "from"): "/v1/reports/97/trend?from={0}&to={0}",
    ("getTrend", "to"): "/v1/reports/97/trend?from={0}&to={0}",
    ("exportReport", "period"): "/v1/reports/97/export?period={0}",
    ("getChart", "period"): "/v1/reports/97/charts/tiers.svg?period={0}",
    ("getReporting", "period"): "/v1/reports/97/reporting?period={0}",
}
"""The parameters that take a month, a quarter or a year, with a read that names one."""


def _pattern(parameter: dict[str, Any]) -> str | None:
    """The pattern of a parameter's string (a date has none)."""
    schema = parameter["schema"]
    [text] = [branch for branch in schema.get("anyOf", [schema]) if branch.get("type") == "string"]
    return text.get("pattern")


async def test_the_document_gives_each_period_the_spans_its_operation_takes(
    client: httpx.AsyncClient, session: AsyncSession, computed: oracle.Rows
) -> None:
    schema = (await client.get("/openapi.json")).json()
    patterns = {
        (op["operationId"], parameter["name"]): pattern
        for _, _, op in operations(schema)
        for parameter in op.get("parameters", [])
        if parameter["name"] in {"period", "from", "to"} and (pattern := _pattern(parameter))
    }
    assert SPAN_READS.keys() <= patterns.keys()
    key = auth(await make_key(session))
    for name, pattern in patterns.items():
        spans = name in SPAN_READS
        assert re.search(pattern, "2025-06"), name
        assert bool(re.search(pattern, "2025-Q2")) is spans and bool(re.search(pattern, "2025")) is spans, name
        assert not re.search(pattern, "2025-13") and not re.search(pattern, "2025-Q5"), name
    for url in SPAN_READS.values():
        for period in ("2025-06", "2025-Q2", "2025"):
            response = await client.get(url.format(period), headers=key)
            assert response.status_code == 200, (url.format(period), response.text)
    flags = await client.get("/v1/quality/97?period=2025-Q2", headers=key)  # flags are a month's: as its pattern says
    assert flags.status_code == 422 and flags.json()["errors"][0]["loc"] == ["query", "period"]
