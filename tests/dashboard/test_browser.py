"""The officer's page in a real Chromium against a real registry process: drill down from the nation to a desa,
switch period and language, download, sign in; the figures and data-quality flags on the page are the API's."""

import csv
import io
from pathlib import Path

import httpx
from playwright.async_api import Browser, Page

from tests.dashboard.conftest import Site, needs_chromium
from tests.report_worker.data import PERIODS

pytestmark = needs_chromium

MONTH, EARLIER = PERIODS[-1].strftime("%Y-%m"), PERIODS[-2].strftime("%Y-%m")


async def figure(page: Page, name: str) -> str:
    return (await page.locator(f'dd[data-figure="{name}"]').inner_text()).strip()


def pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


async def api_report(site: Site, code: str, period: str) -> dict[str, object]:
    async with httpx.AsyncClient(base_url=site.url) as http:
        response = await http.get(f"/v1/reports/{code}", params={"period": period})
        assert response.status_code == 200, response.text
        report: dict[str, object] = response.json()
        return report


async def charts_drawn(page: Page) -> list[int]:
    """The natural width of each chart image: 0 when the browser could not load or decode it."""
    widths: list[int] = await page.eval_on_selector_all(".charts img", "imgs => imgs.map(i => i.naturalWidth)")
    return widths


async def quality_section_is_the_apis(page: Page, site: Site, code: str) -> None:
    """The section's counts are the report's `quality`; its rows (for the signed-in key) the API's open flags."""
    section = page.locator("#h-quality")
    await section.scroll_into_view_if_needed()
    assert await section.is_visible()
    quality = (await api_report(site, code, MONTH))["quality"]
    assert isinstance(quality, dict)
    shown = page.locator("#quality dd")
    counts = {await dd.get_attribute("data-quality"): int(await dd.inner_text()) for dd in await shown.all()}
    assert counts == {"open": quality["open"], "checked": quality["checked"], **quality["open_by_kind"]}
    async with httpx.AsyncClient(base_url=site.url) as http:
        listed = (
            await http.get(
                f"/v1/quality/{code}", params={"period": MONTH, "status": "open"}, headers={"X-API-Key": site.key}
            )
        ).json()
    rows = [int(row) for row in await page.locator("#flags tbody tr").evaluate_all("rs => rs.map(r => r.dataset.flag)")]
    assert rows == [item["id"] for item in listed["items"]][:50]
    assert await page.locator("#no-flags").is_visible() == (not rows)


async def test_drill_down_from_the_nation_to_a_desa(site: Site, browser: Browser, tmp_path: Path) -> None:
    context = await browser.new_context(accept_downloads=True, locale="id-ID")
    page = await context.new_page()
    blocked: list[str] = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)

    await page.goto(f"{site.url}/dashboard/")
    nation = await api_report(site, "00", MONTH)
    assert await page.locator("#period").input_value() == MONTH, "the newest computed month by default"
    assert await figure(page, "kampung_total") == str(nation["kampung_total"])
    assert await figure(page, "mandiri_plus_pct") == pct(nation["mandiri_plus_pct"])  # type: ignore[arg-type]
    await page.wait_for_load_state("networkidle")
    await page.locator(".charts img").last.scroll_into_view_if_needed()
    await page.wait_for_function("[...document.querySelectorAll('.charts img')].every(i => i.complete)")
    assert all(width > 0 for width in await charts_drawn(page)), "every chart loads under the page's policy"

    for code in ("97", "97.01", "97.01.01"):  # provinsi, kabupaten, kecamatan
        await page.locator(f'tr[data-code="{code}"] a').click()
        await page.wait_for_url(f"**/dashboard/{code}?*")
        report = await api_report(site, code, MONTH)
        assert (await page.locator("#region-name").inner_text()) == report["name"]
        assert await figure(page, "kampung_total") == str(report["kampung_total"])

    kecamatan = await api_report(site, "97.01.01", MONTH)
    desa = kecamatan["children"]
    assert isinstance(desa, list)
    assert await page.locator("#desa tbody tr").count() == len(desa)
    for child in desa:
        if child["tier"]:
            badge = page.locator(f'tr[data-code="{child["code"]}"] .badge')
            assert await badge.get_attribute("data-tier") == child["tier"]

    await page.select_option("#period", EARLIER)
    await page.get_by_role("button", name="Tampilkan").click()  # the pickers submit with their button only
    await page.wait_for_url(f"**period={EARLIER}*")
    earlier = await api_report(site, "97.01.01", EARLIER)
    assert await figure(page, "kampung_total") == str(earlier["kampung_total"])

    await page.locator("#lang-switch").click()
    await page.wait_for_url("**lang=en*")
    assert await page.locator("html").get_attribute("lang") == "en"
    assert await page.locator("#h-headline").inner_text() != "" and "Headline figures" in await page.content()
    assert "period=" + EARLIER in page.url, "the switch keeps the period"

    async with page.expect_download() as download_info:
        await page.locator("#export-csv").click()
    download = await download_info.value
    saved = tmp_path / download.suggested_filename
    await download.save_as(saved)
    rows = list(csv.reader(io.StringIO(saved.read_text(encoding="utf-8-sig"))))
    codes = {row[0] for row in rows}
    assert {child["code"] for child in earlier["children"]} <= codes  # type: ignore[union-attr]
    assert not blocked, blocked
    await context.close()


async def test_sign_in_shows_the_list_to_chase_and_fits_a_phone(site: Site, browser: Browser) -> None:
    context = await browser.new_context(viewport={"width": 375, "height": 800}, is_mobile=True)
    page = await context.new_page()
    await page.goto(f"{site.url}/dashboard/97.01?period={MONTH}")
    assert await page.locator("#chase").count() == 0
    await page.get_by_role("link", name="Masuk").click()
    await page.fill("#key", site.key)
    await page.get_by_role("button", name="Masuk").click()
    await page.wait_for_url("**/dashboard/97.01*")
    assert await page.locator("#chase tbody tr").count() > 0
    async with httpx.AsyncClient(base_url=site.url) as http:
        chase = (
            await http.get("/v1/reports/97.01/reporting", params={"period": MONTH}, headers={"X-API-Key": site.key})
        ).json()
    first = (await page.locator("#chase tbody tr th").first.inner_text()).strip()
    assert first == chase["items"][0]["kampung_name"]
    await quality_section_is_the_apis(page, site, "97.01")
    cookies = await context.cookies()
    session = next(c for c in cookies if c["name"] == "kkb_dashboard")
    assert session["httpOnly"] and session["sameSite"] == "Strict" and session["path"] == "/dashboard"
    assert site.key.split("_", 2)[2] not in session["value"], "the cookie holds a session's token, not the key"
    assert await page.evaluate("document.cookie") == "", "no script reads the cookie"
    assert await chase_shown(browser, site, session["value"]), "a copy of the cookie works while the session lives"
    overflow = await page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, "the page fits a phone's width (wide tables scroll inside their box)"
    await page.get_by_role("button", name="Keluar").click()
    await page.wait_for_url("**/dashboard/?*")
    assert not [c for c in await context.cookies() if c["name"] == "kkb_dashboard"]
    assert not await chase_shown(browser, site, session["value"]), "signing out ended the session on the server"
    await context.close()


async def chase_shown(browser: Browser, site: Site, cookie: str) -> bool:
    """Whether another browser holding `cookie` is shown the list to chase (a signed-in page), or asked to sign in."""
    context = await browser.new_context()
    await context.add_cookies(
        [{"name": "kkb_dashboard", "value": cookie, "domain": "127.0.0.1", "path": "/dashboard", "httpOnly": True}]
    )
    page = await context.new_page()
    await page.goto(f"{site.url}/dashboard/97.01?period={MONTH}")
    shown = await page.locator("#chase").count() > 0
    assert shown != await page.locator("#key").is_visible()
    await context.close()
    return shown
