"""The registry's report, trend, export and target endpoints over aggregates the worker wrote."""

import csv
import io
from typing import Any

import asyncpg
import httpx
import pytest
from openpyxl import load_workbook
from sqlalchemy.ext.asyncio import AsyncSession

from kampungkb_shared.closing import Closing
from registry_api.auth.service import Role
from registry_api.db import session_fetch
from registry_api.reports import service
from report_worker.aggregates import rebuild_period
from tests.factories import auth, make_key
from tests.report_worker import oracle
from tests.report_worker.data import PERIODS, RULESETS, Dataset

PERIOD = PERIODS[2]
MONTH = PERIOD.strftime("%Y-%m")


def timeliness_of(f: dict[str, Any], base: int) -> dict[str, Any]:
    """On time, late and missing per module, with rates over `base` (counted Kampung KB, or KB-months)."""
    out = {}
    for module in oracle.TIMELY:
        on_time, late = f[f"{module}_on_time"], f[f"{module}_late"]
        missing = base - on_time - late
        out[module] = {
            "on_time": on_time,
            "late": late,
            "missing": missing,
            "on_time_pct": oracle.pct(on_time, base),
            "late_pct": oracle.pct(late, base),
            "missing_pct": oracle.pct(missing, base),
        }
    return out


def headline_of(f: dict[str, Any]) -> dict[str, Any]:
    """The headline figures the way a reader would compute them from the oracle's counts."""
    classified = f["kampung_total"] - f["tier_belum_terklasifikasi"]
    return {
        "desa_total": f["desa_total"],
        "kampung_total": f["kampung_total"],
        "coverage_pct": oracle.pct(f["kampung_total"], f["desa_total"]),
        "tiers": {tier: f[f"tier_{tier}"] for tier in oracle.TIERS},
        "mandiri_plus_pct": oracle.pct(f["tier_mandiri"] + f["tier_berkelanjutan"], classified),
        "reported": f["reported"],
        "reporting_rate_pct": oracle.pct(f["reported"], f["kampung_total"]),
        "pus": f["pus"],
        "cpr_pct": oracle.pct(f["kb_users"], f["kkbpk_pus"]),
        "mkjp_pct": oracle.pct(f["mkjp_users"], f["kb_users"]),
        "unmet_need_pct": oracle.pct(f["unmet_need"], f["kkbpk_pus"]),
        "method_mix_pct": {code: oracle.pct(f[code.lower()], f["kb_users"]) for code in oracle.METHODS},
        "timeliness": timeliness_of(f, f["kampung_total"]),
    }


def picked(document: dict[str, Any], like: dict[str, Any]) -> dict[str, Any]:
    return {key: document[key] for key in like}


@pytest.fixture
async def computed(pg: asyncpg.Connection, dataset: Dataset) -> oracle.Rows:
    for period in PERIODS:
        await rebuild_period(pg, period=period, rulesets=RULESETS)
    return await oracle.read_rows(pg)


@pytest.mark.parametrize("ruleset", RULESETS)
async def test_report_holds_every_figure(client: httpx.AsyncClient, computed: oracle.Rows, ruleset: str) -> None:
    response = await client.get(f"/v1/reports/97.01?period={MONTH}&ruleset={ruleset}")
    assert response.status_code == 200, response.text
    report = response.json()
    f = oracle.figures_of(computed, "97.01", PERIOD, ruleset)
    assert report["code"] == "97.01" and report["level"] == "kabupaten" and report["name"] == "KABUPATEN DEMO 01"
    assert report["period"] == MONTH and report["ruleset"] == ruleset and report["computed_at"]
    want = headline_of(f)
    assert picked(report, want) == want
    for name in ("desa", "kelurahan", "kampung_desa", "kampung_kelurahan", "kecamatan_total", "kecamatan_with_kampung"):
        assert report[name] == f[name], name
    assert report["classified"] == f["kampung_total"] - f["tier_belum_terklasifikasi"]
    change = report["tier_change"]
    assert change["previous_period"] == PERIODS[1].strftime("%Y-%m")
    assert change["previous"] == {tier: f[f"prev_{tier}"] for tier in oracle.TIERS}
    assert change["delta"] == {tier: f[f"tier_{tier}"] - f[f"prev_{tier}"] for tier in oracle.TIERS}
    assert (change["promoted"], change["demoted"]) == (f["promoted"], f["demoted"])
    before = headline_of(oracle.figures_of(computed, "97.01", PERIODS[1], ruleset))
    assert report["previous"]["period"] == PERIODS[1].strftime("%Y-%m") and picked(report["previous"], before) == before
    kkbpk = report["kkbpk"]
    for name in ("pus", "kependudukan_kampung", "kkbpk_kampung", "kkbpk_pus", "kb_users", "mkjp_users", "unmet_need"):
        assert kkbpk[name] == f[name], name
    assert kkbpk["kb_users_by_method"] == {code: f[code.lower()] for code in oracle.METHODS}
    assert (kkbpk["cpr_pct"], kkbpk["mkjp_pct"], kkbpk["unmet_need_pct"]) == (
        want["cpr_pct"],
        want["mkjp_pct"],
        want["unmet_need_pct"],
    )
    ownership = report["ownership"]
    assert ownership["profil_kampung"] == f["profil_kampung"]
    for name in (
        "pokja",
        "sk_pokja",
        "pokja_trained",
        "rumah_dataku",
        "sekretariat",
        "pkb_pendamping",
        "regulation",
        "rkm",
    ):
        assert ownership[name] == {"count": f[f"own_{name}"], "pct": oracle.pct(f[f"own_{name}"], f["kampung_total"])}
    percontohan = [
        k for k in oracle.counted(computed, PERIOD) if k["kabupaten_code"] == "97.01" and k["percontohan_kabupaten"]
    ]
    assert [p["id"] for p in report["percontohan"]] == [k["id"] for k in percontohan]
    assert report["targets"] is None
    children = report["children"]
    assert [c["code"] for c in children] == ["97.01.01", "97.01.02", "97.01.03"]
    for child in children:
        want = headline_of(oracle.figures_of(computed, child["code"], PERIOD, ruleset))
        assert child["level"] == "kecamatan" and picked(child, want) == want


async def test_nation_and_provinsi_children(client: httpx.AsyncClient, computed: oracle.Rows) -> None:
    nation = (await client.get(f"/v1/reports/00?period={MONTH}")).json()
    assert nation["level"] == "nasional" and nation["name"] == "INDONESIA" and nation["ruleset"] == RULESETS[0]
    assert [c["code"] for c in nation["children"]] == ["96", "97", "98"]
    empty = nation["children"][0]
    assert empty["kampung_total"] == 0 and empty["desa_total"] > 0 and empty["coverage_pct"] == 0.0
    assert empty["mandiri_plus_pct"] is None and empty["reporting_rate_pct"] is None and empty["cpr_pct"] is None
    provinsi = (await client.get(f"/v1/reports/98?period={MONTH}")).json()
    assert [c["code"] for c in provinsi["children"]] == ["98.01", "98.71"]
    assert [c["level"] for c in provinsi["children"]] == ["kabupaten", "kabupaten"]


async def test_a_report_answers_304_to_its_tag(client: httpx.AsyncClient, computed: oracle.Rows) -> None:
    """What a dashboard or a phone reads again most: the tag of its figures, the same while they are."""
    url = f"/v1/reports/98?period={MONTH}"
    first = await client.get(url)
    tag = first.headers["etag"]
    again = await client.get(url, headers={"If-None-Match": tag})
    assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", tag)
    other = await client.get(f"{url}&ruleset={RULESETS[1]}", headers={"If-None-Match": tag})
    assert other.status_code == 200 and other.headers["etag"] != tag


async def test_kecamatan_children_are_its_desa_with_their_tier(
    client: httpx.AsyncClient, computed: oracle.Rows
) -> None:
    report = (await client.get(f"/v1/reports/97.01.01?period={MONTH}&ruleset={RULESETS[1]}")).json()
    desas = sorted(w["code"] for w in computed.wilayah if w["parent_code"] == "97.01.01")
    assert [c["code"] for c in report["children"]] == desas
    by_desa = {k["desa_code"]: k for k in oracle.counted(computed, PERIOD)}
    for child in report["children"]:
        kampung = by_desa.get(child["code"])
        assert child["level"] == "desa" and child["kind"] == "desa"
        assert child["kampung_id"] == (kampung["id"] if kampung else None)
        assert child["tier"] == (oracle.tier_as_of(computed, kampung["id"], RULESETS[1], PERIOD) if kampung else None)
        reported = kampung is not None and any(
            s["kampung_id"] == kampung["id"] and s["period"] == PERIOD for s in computed.submissions
        )
        assert child["reported"] is reported
    assert sum(c["kampung_id"] is not None for c in report["children"]) == report["kampung_total"]


async def test_unknown_uncomputed_and_invalid(client: httpx.AsyncClient, computed: oracle.Rows) -> None:
    missing = await client.get("/v1/reports/97.01?period=2024-01")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["type"] == "/problems/report-not-computed"
    assert (await client.get("/v1/reports/97.01")).status_code == 404  # the current month: not computed here
    unknown = await client.get(f"/v1/reports/55.01?period={MONTH}")
    assert unknown.status_code == 404 and unknown.json()["type"] == "/problems/not-found"
    assert (await client.get(f"/v1/reports/97.01.01.2001?period={MONTH}")).status_code == 404
    assert (await client.get("/v1/reports/97.01?period=2025-13")).status_code == 422
    bad = await client.get(f"/v1/reports/97.01?period={MONTH}&ruleset=nope")
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == ["query", "ruleset"]


async def test_trend_lists_each_computed_period(client: httpx.AsyncClient, computed: oracle.Rows) -> None:
    first, last = PERIODS[0].strftime("%Y-%m"), PERIODS[-1].strftime("%Y-%m")
    response = await client.get(f"/v1/reports/98/trend?from=2024-11&to={last}&ruleset={RULESETS[1]}")
    assert response.status_code == 200, response.text
    trend = response.json()
    assert [p["period"] for p in trend["points"]] == [p.strftime("%Y-%m") for p in PERIODS]
    assert trend["points"][0]["period"] == first
    for point, period in zip(trend["points"], PERIODS, strict=True):
        want = headline_of(oracle.figures_of(computed, "98", period, RULESETS[1]))
        assert picked(point, want) == want
    assert (await client.get(f"/v1/reports/98/trend?from={last}&to={first}")).status_code == 422
    assert (await client.get("/v1/reports/98/trend?from=2010-01&to=2025-01")).status_code == 422


async def test_export_csv_and_xlsx(client: httpx.AsyncClient, computed: oracle.Rows) -> None:
    report = (await client.get(f"/v1/reports/98?period={MONTH}")).json()
    response = await client.get(f"/v1/reports/98/export?period={MONTH}&format=csv")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].startswith('attachment; filename="kampungkb-report-98-')
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [r["code"] for r in rows] == [c["code"] for c in report["children"]]
    for row, child in zip(rows, report["children"], strict=True):
        assert int(row["kampung_total"]) == child["kampung_total"]
        assert int(row["mandiri"]) == child["tiers"]["mandiri"]
        assert (float(row["cpr_pct"]) if row["cpr_pct"] else None) == child["cpr_pct"]
        on_time = child["timeliness"]["kkbpk"]["on_time_pct"]
        assert (float(row["kkbpk_on_time_pct"]) if row["kkbpk_on_time_pct"] else None) == on_time

    response = await client.get(f"/v1/reports/98/export?period={MONTH}&format=xlsx")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert response.headers["content-disposition"].endswith('.xlsx"')
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert sheet is not None
    values = list(sheet.iter_rows(values_only=True))
    header, body = values[1], values[2:]
    assert [r[0] for r in body] == [c["code"] for c in report["children"]]
    by_name = [dict(zip(header, r, strict=True)) for r in body]
    assert [r["reporting_rate_pct"] for r in by_name] == [c["reporting_rate_pct"] for c in report["children"]]

    desa = await client.get(f"/v1/reports/98.01.01/export?period={MONTH}&format=csv")
    desa_rows = list(csv.DictReader(io.StringIO(desa.content.decode("utf-8-sig"))))
    assert list(desa_rows[0]) == ["code", "name", "kind", "kampung_id", "kampung_name", "tier", "reported"]
    assert len(desa_rows) == 5
    assert (await client.get(f"/v1/reports/98/export?period={MONTH}&format=pdf")).status_code == 422


async def test_targets_need_a_scoped_writer_and_show_in_the_report(
    client: httpx.AsyncClient, session: AsyncSession, computed: oracle.Rows
) -> None:
    body = {"formation_pct": 75, "mandiri_plus_pct": 60.5}
    assert (await client.put("/v1/targets/97.01/2025", json=body)).status_code == 401
    viewer = await make_key(session, Role.VIEWER, "97")
    assert (await client.put("/v1/targets/97.01/2025", json=body, headers=auth(viewer))).status_code == 403
    operator = await make_key(session, Role.OPERATOR, "97.01.01.2001")
    assert (await client.put("/v1/targets/97.01/2025", json=body, headers=auth(operator))).status_code == 403
    other = await make_key(session, Role.KABUPATEN, "98.01")
    refused = await client.put("/v1/targets/97.01/2025", json=body, headers=auth(other))
    assert refused.status_code == 403 and refused.headers["content-type"] == "application/problem+json"
    provinsi = await make_key(session, Role.PROVINSI, "97")
    assert (await client.put("/v1/targets/00/2025", json=body, headers=auth(provinsi))).status_code == 403
    for bad in ({"formation_pct": 101}, {"mandiri_plus_pct": -1}, {"formation_pct": "lots"}):
        response = await client.put("/v1/targets/97.01/2025", json=bad, headers=auth(provinsi))
        assert response.status_code == 422, bad
        assert response.json()["errors"][0]["loc"][:2] == ["body", next(iter(bad))]
    assert (await client.put("/v1/targets/97.99/2025", json=body, headers=auth(provinsi))).status_code == 404

    kabupaten = await make_key(session, Role.KABUPATEN, "97.01")
    saved = await client.put("/v1/targets/97.01/2025", json=body, headers=auth(kabupaten))
    assert saved.status_code == 200, saved.text
    assert saved.json() | {"updated_at": None} == {
        "code": "97.01",
        "year": 2025,
        "formation_pct": 75.0,
        "mandiri_plus_pct": 60.5,
        "mandiri_plus_increase_pts": None,
        "updated_at": None,
    }
    again = await client.put("/v1/targets/97.01/2025", json={"formation_pct": 80}, headers=auth(kabupaten))
    assert again.json()["formation_pct"] == 80.0 and again.json()["mandiri_plus_pct"] is None
    assert (await client.get("/v1/targets/97.01/2025")).json()["formation_pct"] == 80.0
    assert (await client.get("/v1/targets/97.01/2024")).status_code == 404

    report = (await client.get(f"/v1/reports/97.01?period={MONTH}")).json()
    assert report["targets"]["formation_pct"] == 80.0
    assert report["targets"]["formation_actual_pct"] == report["coverage_pct"]
    assert report["targets"]["mandiri_plus_actual_pct"] == report["mandiri_plus_pct"]
    other_year = (await client.get("/v1/reports/97.01?period=2025-01")).json()
    assert other_year["targets"]["year"] == 2025


async def test_exports_neutralise_formulas_and_control_characters(
    client: httpx.AsyncClient, pg: asyncpg.Connection, computed: oracle.Rows
) -> None:
    names = {
        "Kampung\x07 Lonceng\x1b": "Kampung Lonceng",
        '=HYPERLINK("http://evil.example","klik")': '\'=HYPERLINK("http://evil.example","klik")',
        "+62 Sukamaju": "'+62 Sukamaju",
        "-1+1": "'-1+1",
        "@SUM(A1:A9)": "'@SUM(A1:A9)",
        "\tTab\x7f": "'\tTab",
        "\rCR\x01": "'\rCR",
    }
    kampung = await pg.fetch(
        """SELECT id, kecamatan_code FROM kampung WHERE active AND provinsi_code = '98' AND formed_on <= $1
            ORDER BY id LIMIT $2""",
        PERIOD,
        len(names),
    )
    assert len(kampung) == len(names)
    for name, record in zip(names, kampung, strict=True):
        await pg.execute("UPDATE kampung SET name = $1 WHERE id = $2", name, record["id"])
    want = {str(record["id"]): safe for safe, record in zip(names.values(), kampung, strict=True)}

    from_xlsx: dict[str, object] = {}
    from_csv: dict[str, str] = {}
    for kecamatan in sorted({record["kecamatan_code"] for record in kampung}):
        response = await client.get(f"/v1/reports/{kecamatan}/export?period={MONTH}&format=xlsx")
        assert response.status_code == 200, response.text
        sheet = load_workbook(io.BytesIO(response.content)).active
        assert sheet is not None
        assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row), "no cell is a formula"
        values = list(sheet.iter_rows(values_only=True))
        for row in values[2:]:
            named = dict(zip(values[1], row, strict=True))
            from_xlsx[str(named["kampung_id"])] = named["kampung_name"]

        response = await client.get(f"/v1/reports/{kecamatan}/export?period={MONTH}&format=csv")
        assert response.status_code == 200
        for line in csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"), newline="")):
            from_csv[line["kampung_id"]] = line["kampung_name"]
    # XML reads a carriage return back as a line feed.
    assert {key: from_xlsx.get(key) for key in want} == {key: safe.replace("\r", "\n") for key, safe in want.items()}
    assert {key: from_csv.get(key) for key in want} == want


async def test_reports_and_trends_are_planned_for_their_region(session: AsyncSession, computed: oracle.Rows) -> None:
    """A report's and a trend's statements are planned for the region asked for (`db.plan_each`): their parameters
    decide the plan (the nation, a kabupaten, a kecamatan), and after a few reports of one region on a connection
    PostgreSQL would otherwise keep a generic plan for every region."""
    mode = "SELECT current_setting('plan_cache_mode') AS mode"
    closing = Closing(after_days=0, time_zone="Asia/Jakarta")
    await service.get_report(session, code="98", period=MONTH, ruleset=RULESETS[0], rulesets=RULESETS, closing=closing)
    assert (await session_fetch(session, mode))[0]["mode"] == "force_custom_plan"
    await session_fetch(session, "SET LOCAL plan_cache_mode = auto")
    first, last = PERIODS[0].strftime("%Y-%m"), PERIODS[-1].strftime("%Y-%m")
    await service.get_trend(
        session, code="98", from_period=first, to_period=last, ruleset=RULESETS[0], rulesets=RULESETS
    )
    assert (await session_fetch(session, mode))[0]["mode"] == "force_custom_plan"
