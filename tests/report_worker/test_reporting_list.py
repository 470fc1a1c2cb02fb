"""The list to chase (`/v1/reports/{code}/reporting`) against the oracle's reading of the raw rows."""

import csv
import datetime as dt
import io
import random
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook
from sqlalchemy.ext.asyncio import AsyncSession

from registry_api.auth.service import Role
from tests.factories import auth, load_demo_regions, make_kampung, make_key
from tests.report_worker import oracle
from tests.report_worker.data import MODULES, WIB, Dataset, upsert_submission
from tests.report_worker.test_spans import SPANS

RANK = {"missing": 0, "late": 1, "on_time": 2}


@pytest.fixture(autouse=True)
async def officer(client: httpx.AsyncClient, session: AsyncSession) -> None:
    """Who wrote what, per Kampung KB, needs a key: every call here is a national viewer's."""
    client.headers.update(auth(await make_key(session, Role.VIEWER, "00")))


async def every_page(client: httpx.AsyncClient, url: str, limit: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        response = await client.get(url + f"&limit={limit}" + (f"&cursor={cursor}" if cursor else ""))
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= limit
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


def expected_rows(rows: oracle.Rows, region: str, months: list[dt.date]) -> list[dict[str, Any]]:
    out = []
    for k in oracle.counted(rows, months[-1]):
        if not oracle.in_region(k["desa_code"], region):
            continue
        modules = {}
        for module in oracle.TIMELY:
            statuses = [
                oracle.timeliness(rows, k["id"], module, m) for m in months if k["formed_on"] <= oracle.month_end(m)
            ]
            counts = {name: statuses.count(name) for name in RANK}
            worst = min(counts, key=lambda name: RANK[name] if counts[name] else 9)
            modules[module] = {"status": worst, **counts}
        mine = [s for s in rows.submissions if s["kampung_id"] == k["id"]]
        last = max(mine, key=lambda s: (s["submitted_at"], s["id"]), default=None)
        profil = oracle.in_force(rows, k["id"], "profil", months[-1])
        out.append(
            {
                "kampung_id": k["id"],
                "desa_code": k["desa_code"],
                "status": min((m["status"] for m in modules.values()), key=RANK.__getitem__),
                **modules,
                "last_submission": None
                if last is None
                else {
                    "at": last["submitted_at"],
                    "by": last["submitted_by"],
                    "module": last["module"],
                    "period": last["period"].strftime("%Y-%m"),
                },
                "pkb_pendamping": None if profil is None else profil["pkb_pendamping"],
                "pkb_contact": None,
            }
        )
    return sorted(out, key=lambda r: (RANK[r["status"]], r["desa_code"]))


def comparable(item: dict[str, Any]) -> dict[str, Any]:
    out = {key: item[key] for key in ("kampung_id", "desa_code", "status", *oracle.TIMELY, "pkb_pendamping")}
    last = item["last_submission"]
    out["last_submission"] = last and last | {"at": dt.datetime.fromisoformat(last["at"])}
    out["pkb_contact"] = item["pkb_contact"]
    return out


async def test_month_list_is_every_counted_kampung_missing_first(
    client: httpx.AsyncClient, dataset: Dataset, pg: Any
) -> None:
    month = dt.date(2025, 3, 1)
    # two Kampung KB that send every module: one all by the deadline, one with kkbpk a microsecond after it
    ids = await pg.fetch(
        """SELECT k.id FROM kampung k WHERE k.kabupaten_code = '97.01' AND k.active AND k.formed_on < '2025-01-01'
              AND NOT EXISTS (SELECT FROM submission s WHERE s.kampung_id = k.id AND s.period = $1)
            ORDER BY k.id LIMIT 2""",
        month,
    )
    assert len(ids) == 2
    last_moment = dt.datetime(2025, 4, 10, 23, 59, 59, 999_999, tzinfo=WIB)
    for n, record in enumerate(ids):
        for hours, module in enumerate(oracle.TIMELY):
            late = n == 1 and module == "kkbpk"
            at = last_moment + dt.timedelta(microseconds=1) if late else last_moment - dt.timedelta(hours=9 - hours)
            await upsert_submission(
                pg, record["id"], module, month, MODULES[module](random.Random(n)), at=at, by=f"kader {n}"
            )
    rows = await oracle.read_rows(pg)
    items = await every_page(client, "/v1/reports/97/reporting?period=2025-03", limit=7)
    want = expected_rows(rows, "97", [month])
    assert [comparable(i) for i in items] == want
    assert {r["status"] for r in want} == set(RANK), "the data hold every status"
    assert any(r["last_submission"] and r["last_submission"]["by"] == "fixer" for r in want)
    # the two sides of the deadline's last microsecond are listed as on time and late
    by_id = {i["kampung_id"]: i for i in items}
    edges = {
        s["first_at"] - oracle.deadline(s["period"]): by_id[s["kampung_id"]][s["module"]]["status"]
        for s in rows.submissions
        if s["period"] == month
        and s["kampung_id"] in by_id
        and abs(s["first_at"] - oracle.deadline(s["period"])) <= dt.timedelta(microseconds=1)
    }
    assert edges == {dt.timedelta(microseconds=-1): "on_time", dt.timedelta(0): "late"}


async def test_quarter_list_counts_months(client: httpx.AsyncClient, dataset: Dataset, pg: Any) -> None:
    rows = await oracle.read_rows(pg)
    page = (await client.get("/v1/reports/98.71/reporting?period=2025-Q2&limit=1000")).json()
    assert page["months"] == ["2025-04", "2025-05", "2025-06"] and page["period"] == "2025-Q2"
    assert (page["deadline_day"], page["time_zone"]) == (10, "Asia/Jakarta")
    want = expected_rows(rows, "98.71", SPANS["2025-Q2"])
    assert [comparable(i) for i in page["items"]] == want
    assert any(sum(r["kkbpk"][s] > 0 for s in RANK) > 1 for r in want), "some months differ within a row"


async def test_csv_streams_and_xlsx_holds_the_whole_list(client: httpx.AsyncClient, dataset: Dataset) -> None:
    items = (await client.get("/v1/reports/98/reporting?period=2025-02&limit=1000")).json()["items"]
    response = await client.get("/v1/reports/98/reporting?period=2025-02&format=csv")
    assert response.status_code == 200 and response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="kampungkb-reporting-98-2025-02.csv"'
    table = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [int(r["kampung_id"]) for r in table] == [i["kampung_id"] for i in items]
    for row, item in zip(table, items, strict=True):
        assert row["status"] == item["status"] and row["kkbpk"] == item["kkbpk"]["status"]
        assert row["last_submitted_by"] == ((item["last_submission"] or {}).get("by") or "")
        assert row["pkb_contact"] == ""
    response = await client.get("/v1/reports/98/reporting?period=2025-02&format=xlsx")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).worksheets[0]
    values = list(sheet.iter_rows(values_only=True))
    assert list(values[0]) == list(table[0])
    assert [r[0] for r in values[1:]] == [i["kampung_id"] for i in items]


async def test_bad_requests(client: httpx.AsyncClient, dataset: Dataset) -> None:
    for nonsense in ("nonsense", "²:97.01.01.2001", "9:97.01.01.2001", "0:"):
        bad = await client.get("/v1/reports/97/reporting", params={"period": "2025-03", "cursor": nonsense})
        assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == ["query", "cursor"], (nonsense, bad.text)
    assert (await client.get("/v1/reports/55/reporting?period=2025-03")).status_code == 404
    assert (await client.get("/v1/reports/97/reporting?period=2025-3")).status_code == 422
    assert (await client.get("/v1/reports/97/reporting?period=2025-03&format=pdf")).status_code == 422
    assert (await client.get("/v1/reports/97/reporting?period=2025-03&limit=0")).status_code == 422
    future = await client.get("/v1/reports/97/reporting?period=2099-Q1")
    assert future.status_code == 404 and future.json()["type"] == "/problems/report-not-computed"


async def test_both_formats_open_safely_in_a_spreadsheet(client: httpx.AsyncClient, session: AsyncSession) -> None:
    # A name is free text a client wrote: a formula start gets a quote, a control character (which XLSX cannot hold)
    # is dropped, as in every export.
    await load_demo_regions(session)
    admin = await make_key(session, Role.ADMIN, "00")
    await make_kampung(client, admin, name='=HYPERLINK("http://evil.example")\x0b')
    safe = '\'=HYPERLINK("http://evil.example")'
    response = await client.get("/v1/reports/99/reporting?format=csv")
    assert response.status_code == 200, response.text
    (row,) = csv.DictReader(io.StringIO(response.content.decode("utf-8-sig")))
    assert row["kampung_name"] == safe
    response = await client.get("/v1/reports/99/reporting?format=xlsx")
    assert response.status_code == 200, response.text
    header, values = load_workbook(io.BytesIO(response.content)).worksheets[0].iter_rows(values_only=True)
    assert dict(zip(header, values, strict=True))["kampung_name"] == safe
