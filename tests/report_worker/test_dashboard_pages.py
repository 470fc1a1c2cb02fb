"""The officer's page, server-side: the API's figures and data-quality flags, scope, sessions and their cookie, its
policy and its absence from the OpenAPI document. The browser drives it in `tests/dashboard`."""

import datetime as dt
import hashlib
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry_api.auth.service import Role
from registry_api.charts.labels import tier_label
from registry_api.dashboard.router import COOKIE
from registry_api.settings import Settings
from report_worker.aggregates import rebuild_period
from tests.factories import auth, kependudukan_payload, kkbpk_payload, make_key, profil_payload
from tests.registry_api.conftest import app_client, registry_settings
from tests.report_worker import oracle
from tests.report_worker.data import PERIODS, RULESETS, Dataset
from tests.report_worker.test_quality_api import PERIOD as FLAGGED_PERIOD
from tests.report_worker.test_quality_api import flagged

MONTH = PERIODS[-1].strftime("%Y-%m")


@pytest.fixture
def settings(database_url: str, redis_url: str, classifier_url: str) -> Settings:
    """Pointed at the real classifier: a page's next-tier actions are the classifications' explanations, derived by
    it again."""
    return registry_settings(database_url, redis_url, classifier_url)


async def explained_as(
    pg: asyncpg.Connection, classifier_url: str, *, kampung_id: int, ruleset: str, period: str
) -> dict[str, Any]:
    """The Kampung KB's classifications given a real snapshot (a complete month short of the top tier) and the rule
    set's content under the hash the generated rows name; returns the classifier's own `next_tier` for it."""
    snapshot = {"profil": profil_payload(), "kependudukan": kependudukan_payload(), "kkbpk": kkbpk_payload()}
    async with httpx.AsyncClient(base_url=classifier_url) as http:
        content = (await http.get(f"/v1/rulesets/{ruleset}")).json()
        direct = await http.post("/v1/classify", json={"ruleset": ruleset, "period": period, "snapshot": snapshot})
    await pg.execute(
        "INSERT INTO ruleset_content (hash, name, content) VALUES ('r', $1, $2::jsonb)",
        ruleset,
        json.dumps({**content, "hash": "r"}),
    )
    await pg.execute(
        "INSERT INTO classification_snapshot (hash, snapshot) VALUES ('real', $1::jsonb)", json.dumps(snapshot)
    )
    await pg.execute("UPDATE classification SET snapshot_hash = 'real' WHERE kampung_id = $1", kampung_id)
    next_tier = direct.json()["next_tier"]
    assert next_tier and next_tier["actions"]
    return next_tier


@pytest.fixture
async def computed(pg: asyncpg.Connection, dataset: Dataset) -> oracle.Rows:
    for period in PERIODS:
        await rebuild_period(pg, period=period, rulesets=RULESETS)
    return await oracle.read_rows(pg)


def figure(html: str, name: str) -> str:
    found = re.search(rf'<dd data-figure="{name}">([^<]*)</dd>', html)
    assert found, name
    return found.group(1)


async def test_nation_page_shows_the_api_figures_of_the_newest_period(
    client: httpx.AsyncClient, computed: oracle.Rows
) -> None:
    page = await client.get("/dashboard/")
    assert page.status_code == 200, page.text
    report = (await client.get(f"/v1/reports/00?period={MONTH}")).json()
    assert f'<option value="{MONTH}" selected>' in page.text  # the newest computed month by default
    assert figure(page.text, "kampung_total") == str(report["kampung_total"])
    assert figure(page.text, "mandiri_plus_pct") == f"{report['mandiri_plus_pct']:.2f}"
    assert '<html lang="id">' in page.text and "Angka utama" in page.text
    for child in report["children"]:
        assert f'href="/dashboard/{child["code"]}?period={MONTH}' in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "default-src 'none'" in policy
    assert page.headers["cache-control"] == "private, no-store"
    assert page.headers["referrer-policy"] == "same-origin", "under no-referrer its forms' POSTs name no origin"
    english = await client.get(f"/dashboard/?period={MONTH}&lang=en")
    assert '<html lang="en">' in english.text and "Headline figures" in english.text
    document = (await client.get("/openapi.json")).json()
    assert not [path for path in document["paths"] if path.startswith("/dashboard")]
    css = await client.get("/dashboard/static/dashboard.css")
    assert css.status_code == 200 and "text/css" in css.headers["content-type"]


async def test_kecamatan_desa_list_and_the_list_to_chase_need_a_key_in_scope(
    client: httpx.AsyncClient,
    computed: oracle.Rows,
    session: AsyncSession,
    pg: asyncpg.Connection,
    classifier_url: str,
) -> None:
    code = "97.01.01"
    report = (await client.get(f"/v1/reports/{code}?period={MONTH}")).json()
    public = await client.get(f"/dashboard/{code}?period={MONTH}")
    assert public.status_code == 200, public.text
    for desa in report["children"]:
        assert f'data-code="{desa["code"]}"' in public.text
        if desa["tier"]:
            assert f'data-tier="{desa["tier"]}"' in public.text
    assert 'id="chase"' not in public.text, "the list to chase names Kampung KB: only for a key in scope"
    outside = await make_key(session, Role.KABUPATEN, "98.01")
    login = await client.post("/dashboard/login", data={"key": outside, "next": f"/dashboard/{code}"})
    assert login.status_code == 303 and login.headers["location"] == f"/dashboard/{code}"
    cookie = login.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/dashboard" in cookie
    assert 'id="chase"' not in (await client.get(f"/dashboard/{code}?period={MONTH}")).text
    classified = next(d for d in report["children"] if d["tier"])
    next_tier = await explained_as(
        pg, classifier_url, kampung_id=classified["kampung_id"], ruleset=RULESETS[0], period=MONTH
    )
    action = next_tier["actions"][0]
    assert action["action"] not in (await client.get(f"/dashboard/{code}?period={MONTH}")).text
    inside = await make_key(session, Role.KABUPATEN, "97.01")
    await client.post("/dashboard/login", data={"key": inside, "next": f"/dashboard/{code}"})
    signed_in = await client.get(f"/dashboard/{code}?period={MONTH}")
    assert 'id="chase"' in signed_in.text and "kabupaten 97.01" in signed_in.text
    chase = (await client.get(f"/v1/reports/{code}/reporting?period={MONTH}", headers={"X-API-Key": inside})).json()
    for row in chase["items"][:5]:
        assert row["kampung_name"] in signed_in.text
    assert action["action"] in signed_in.text  # its next-tier actions, as the classifier explains them
    assert tier_label(next_tier["tier"], "id") in signed_in.text
    english = (await client.get(f"/dashboard/{code}?period={MONTH}&lang=en")).text
    assert action["action_en"] in english and action["action"] not in english


async def test_bad_key_page_and_period_are_answered_not_crashed(
    client: httpx.AsyncClient, computed: oracle.Rows
) -> None:
    failed = await client.post("/dashboard/login", data={"key": "kkb_nope_nope", "next": "https://evil.example/"})
    assert failed.status_code == 401 and 'role="alert"' in failed.text
    assert 'value="/dashboard/"' in failed.text, "a sign-in never sends the browser to another site"
    # A form of another site signs nobody in or out (a browser names the page's origin on a POST).
    for path in ("/dashboard/login", "/dashboard/logout"):
        elsewhere = await client.post(path, data={"key": "kkb_nope_nope"}, headers={"Origin": "https://evil.example"})
        assert elsewhere.status_code == 403 and "set-cookie" not in elsewhere.headers, path
    cross_site = await client.post("/dashboard/logout", headers={"Sec-Fetch-Site": "cross-site", "Origin": "null"})
    assert cross_site.status_code == 403
    here = await client.post("/dashboard/logout", headers={"Origin": str(client.base_url).rstrip("/")})
    assert here.status_code == 303
    # A browser's own form under `Referrer-Policy: no-referrer`: `Origin: null`, and `Sec-Fetch-Site` says where from.
    browser = await client.post("/dashboard/logout", headers={"Sec-Fetch-Site": "same-origin", "Origin": "null"})
    assert browser.status_code == 303
    assert (await client.get("/dashboard/97.01?period=2025-13")).status_code == 422
    assert (await client.get("/dashboard/12.34")).status_code == 404
    uncomputed = await client.get("/dashboard/97?period=2019-01")
    assert uncomputed.status_code == 404 and 'id="not-computed"' in uncomputed.text


async def test_without_public_reads_the_page_asks_for_a_key(
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    computed: oracle.Rows,
    session: AsyncSession,
) -> None:
    closed = settings.model_copy(update={"public_reads": False})
    async with app_client(closed, session_factory) as (_, http):
        page = await http.get(f"/dashboard/97?period={MONTH}")
        assert page.status_code == 401 and 'name="key"' in page.text
        assert (await http.get(f"/dashboard/97/charts/tiers.svg?period={MONTH}")).status_code == 401
        viewer = await make_key(session, Role.VIEWER, "00")
        await http.post("/dashboard/login", data={"key": viewer})
        assert (await http.get(f"/dashboard/97?period={MONTH}")).status_code == 200
        chart = await http.get(f"/dashboard/97/charts/tiers.svg?period={MONTH}")
        assert chart.status_code == 200 and chart.headers["content-type"] == "image/svg+xml"
        export = await http.get(f"/dashboard/97/export.csv?period={MONTH}")
        assert export.status_code == 200 and export.text.count("\n") > 1


def flag_ids(html: str) -> list[int]:
    return [int(found) for found in re.findall(r'<tr data-flag="(\d+)">', html)]


async def test_quality_section_counts_and_lists_the_open_flags_as_the_api(
    client: httpx.AsyncClient, session: AsyncSession, pg: asyncpg.Connection
) -> None:
    ids = await flagged(pg)
    month = FLAGGED_PERIOD.strftime("%Y-%m")
    public = await client.get(f"/dashboard/95?period={month}")
    assert public.status_code == 200, public.text
    quality = (await client.get(f"/v1/reports/95?period={month}")).json()["quality"]
    assert quality["open"] == 3
    assert quality_figure(public.text, "open") == quality["open"]
    assert quality_figure(public.text, "checked") == quality["checked"] == 0
    for kind, count in quality["open_by_kind"].items():
        assert quality_figure(public.text, kind) == count
    assert "Lonjakan PUS/penduduk" in public.text
    assert flag_ids(public.text) == [], "flags name Kampung KB: listed only for a key in scope"

    admin = await make_key(session)
    await client.post("/dashboard/login", data={"key": admin})
    listed = (
        await client.get("/v1/quality/95", params={"period": month, "status": "open"}, headers=auth(admin))
    ).json()
    signed_in = await client.get(f"/dashboard/95?period={month}&lang=en")
    assert flag_ids(signed_in.text) == [item["id"] for item in listed["items"]] and len(listed["items"]) == 3
    assert "Jump in PUS or population" in signed_in.text and "CPR of 100 %" in signed_in.text
    checked = listed["items"][0]
    answer = await client.put(f"/v1/quality/flags/{checked['id']}/check", json={"note": "x"}, headers=auth(admin))
    assert answer.status_code == 200, answer.text
    after = (await client.get(f"/dashboard/95?period={month}")).text
    assert checked["id"] not in flag_ids(after) and len(flag_ids(after)) == 2
    assert quality_figure(after, "open") == 2 and quality_figure(after, "checked") == 1

    kabupaten = await make_key(session, Role.KABUPATEN, "95.01")
    await client.post("/dashboard/login", data={"key": kabupaten})
    mine = (
        await client.get("/v1/quality/95.01", params={"period": month, "status": "open"}, headers=auth(kabupaten))
    ).json()
    kabupaten_page = (await client.get(f"/dashboard/95.01?period={month}")).text
    assert flag_ids(kabupaten_page) == [item["id"] for item in mine["items"]]
    assert {item["kampung_id"] for item in mine["items"]} <= {ids["kab"]}
    assert flag_ids((await client.get(f"/dashboard/95?period={month}")).text) == [], "95 is beyond its scope"


def quality_figure(html: str, name: str) -> int:
    found = re.search(rf'<dd data-quality="{name}">(\d+)</dd>', html)
    assert found, name
    return int(found.group(1))


@pytest.fixture
async def closed(
    settings: Settings, session_factory: async_sessionmaker[AsyncSession]
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The app without public reads, and a browser of it: a page answers 200 to a session only."""
    async with app_client(settings.model_copy(update={"public_reads": False}), session_factory) as pair:
        yield pair


async def sign_in(http: httpx.AsyncClient, key: str) -> str:
    """Sign `http` in with `key`; the value of its session cookie."""
    login = await http.post("/dashboard/login", data={"key": key, "next": "/dashboard/97.01"})
    assert login.status_code == 303, login.text
    return http.cookies[COOKIE]


async def page_with(app: FastAPI, cookie: str, path: str = f"/dashboard/97.01?period={MONTH}") -> httpx.Response:
    """The page as another browser holding a copy of the cookie sees it."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://registry.test", cookies={COOKIE: cookie}
    ) as http:
        return await http.get(path)


def asks_to_sign_in(page: httpx.Response) -> bool:
    """The sign-in form in place of the page, the cookie it came with dropped."""
    dropped = f'{COOKIE}=""' in page.headers.get("set-cookie", "") and "Max-Age=0" in page.headers["set-cookie"]
    return page.status_code == 401 and 'name="key"' in page.text and dropped


async def test_the_cookie_holds_a_session_token_the_api_does_not_take(
    closed: tuple[FastAPI, httpx.AsyncClient], computed: oracle.Rows, session: AsyncSession, pg: asyncpg.Connection
) -> None:
    app, http = closed
    key = await make_key(session, Role.KABUPATEN, "97.01")
    _, prefix, secret = key.split("_", 2)
    token = await sign_in(http, key)
    assert prefix not in token and secret not in token and len(token) >= 43
    stored = await pg.fetch(
        """SELECT s.token_hash, k.prefix, s.expires_at - s.created_at AS lifetime
             FROM dashboard_session s JOIN api_key k ON k.id = s.key_id"""
    )
    assert [tuple(row) for row in stored] == [
        (hashlib.sha256(token.encode()).hexdigest(), prefix, dt.timedelta(hours=12))
    ], "only the token's hash is stored, with the key and the session's end"
    page = await page_with(app, token)
    assert page.status_code == 200 and 'id="chase"' in page.text and "kabupaten 97.01" in page.text
    assert (await page_with(app, token, f"/dashboard/97/export.csv?period={MONTH}")).status_code == 200
    assert (await http.get("/v1/me", headers=auth(key))).status_code == 200
    for presented in ({"Cookie": f"{COOKIE}={token}"}, auth(token), {"X-API-Key": token}):
        assert (await http.get("/v1/me", headers=presented)).status_code == 401, presented


async def test_sign_out_ends_the_session_for_every_copy_of_its_cookie(
    closed: tuple[FastAPI, httpx.AsyncClient], computed: oracle.Rows, session: AsyncSession, pg: asyncpg.Connection
) -> None:
    app, http = closed
    key = await make_key(session, Role.VIEWER, "00")
    first = await sign_in(http, key)
    assert (await page_with(app, first)).status_code == 200
    second = await sign_in(http, key)
    assert second != first, "signing in again opens a new session"
    assert asks_to_sign_in(await page_with(app, first)), "and ends the one the browser held"
    assert (await page_with(app, second)).status_code == 200
    out = await http.post("/dashboard/logout")
    assert out.status_code == 303 and COOKIE not in http.cookies
    assert asks_to_sign_in(await page_with(app, second))
    assert (await page_with(app, second, f"/dashboard/97/charts/tiers.svg?period={MONTH}")).status_code == 401
    assert await pg.fetchval("SELECT count(*) FROM dashboard_session") == 0
    assert (await http.get("/v1/me", headers=auth(key))).status_code == 200, "the key itself lives on"


@pytest.mark.parametrize("ended", ["revoked", "expired"])
async def test_a_key_revoked_or_expired_ends_its_sessions(
    closed: tuple[FastAPI, httpx.AsyncClient],
    computed: oracle.Rows,
    session: AsyncSession,
    pg: asyncpg.Connection,
    ended: str,
) -> None:
    app, http = closed
    key = await make_key(session, Role.VIEWER, "00")
    token = await sign_in(http, key)
    assert (await page_with(app, token)).status_code == 200
    prefix = key.split("_")[1]
    if ended == "revoked":
        revoked = await http.delete(f"/v1/keys/{prefix}", headers=auth(await make_key(session)))
        assert revoked.status_code == 204
    else:
        await pg.execute("UPDATE api_key SET expires_at = now() - interval '1 second' WHERE prefix = $1", prefix)
    assert asks_to_sign_in(await page_with(app, token))


async def test_a_session_past_its_end_asks_to_sign_in_and_the_next_sign_in_deletes_it(
    closed: tuple[FastAPI, httpx.AsyncClient], computed: oracle.Rows, session: AsyncSession, pg: asyncpg.Connection
) -> None:
    app, http = closed
    key = await make_key(session, Role.VIEWER, "00")
    token = await sign_in(http, key)
    await pg.execute("UPDATE dashboard_session SET expires_at = now() - interval '1 second'")
    assert asks_to_sign_in(await page_with(app, token))
    assert (await page_with(app, token, f"/dashboard/97/export.csv?period={MONTH}")).status_code == 401
    other = await make_key(session, Role.VIEWER, "00")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://registry.test") as browser:
        fresh = await sign_in(browser, other)
    hashes = [row["token_hash"] for row in await pg.fetch("SELECT token_hash FROM dashboard_session")]
    assert hashes == [hashlib.sha256(fresh.encode()).hexdigest()], "a sign-in deletes the sessions that have ended"


async def test_a_cookie_of_before_sessions_holding_a_key_is_no_session(
    client: httpx.AsyncClient,
    closed: tuple[FastAPI, httpx.AsyncClient],
    computed: oracle.Rows,
    session: AsyncSession,
) -> None:
    """A cookie set before sessions held the key itself: it signs nobody in, the officer signs in again."""
    app, _ = closed
    key = await make_key(session)
    assert asks_to_sign_in(await page_with(app, key))
    client.cookies.set(COOKIE, key)
    assert asks_to_sign_in(await client.get(f"/dashboard/97.01?period={MONTH}")), "even where reads are public"
