"""The page as an officer reads it, in a real Chromium against a real registry: it opens on the month being reported,
offers every recent computed period whatever the one shown, and the pickers wait for their button; the reporting
chart shows the monthly report unless another module is picked; the charts' text is legible where the page shows them
and a kecamatan's desa read as cards on a phone; each chart's figures are a table beside it; errors are pages; a
sign-in keeps the period and language; times are the programme's."""

import datetime as dt
from zoneinfo import ZoneInfo

import httpx
from playwright.async_api import Browser, Page

from kampungkb_shared.periods import add_months
from tests.dashboard.conftest import TIME_ZONE, Site, needs_chromium, this_month
from tests.dashboard.test_browser import api_report
from tests.report_worker.data import PERIODS
from tests.report_worker.test_charts import MIX_ORDER

pytestmark = needs_chromium

MONTH, EARLIER = PERIODS[-1].strftime("%Y-%m"), PERIODS[-2].strftime("%Y-%m")
LEGIBLE_PX = 12
"""The smallest text a chart may show, in CSS pixels where the page shows it."""
SMALLEST_TEXT = """() => Math.min(...[...document.querySelectorAll('text')]
    .filter(t => t.textContent.trim() && t.getBBox().width > 0)
    .map(t => {
        const m = t.getScreenCTM();
        return parseFloat(getComputedStyle(t).fontSize) * Math.hypot(m.a, m.b);
    }))"""
"""In an SVG opened alone: its smallest text on the screen (font size times the SVG's scale, a slanted label's too)."""


async def options(page: Page) -> list[str]:
    values: list[str] = await page.locator("#period option").evaluate_all("os => os.map(o => o.value)")
    return values


async def chart_text_px(browser: Browser, page: Page) -> dict[str, float]:
    """Each chart the page shows (the SVG its `<picture>` picked), opened alone in a window as wide as the page shows
    it: its smallest text in CSS pixels."""
    await page.locator(".charts img").last.scroll_into_view_if_needed()
    await page.wait_for_function("() => [...document.querySelectorAll('.charts img')].every(i => i.complete)")
    shown = await page.locator(".charts img").evaluate_all("is => is.map(i => [i.currentSrc, i.clientWidth])")
    smallest = {}
    for source, width in shown:
        window = await browser.new_context(viewport={"width": width, "height": 4000})
        alone = await window.new_page()
        await alone.goto(source)
        smallest[source] = await alone.evaluate(SMALLEST_TEXT)
        await window.close()
    return smallest


async def chart_svg(page: Page, chart: str) -> str:
    """The SVG the page shows for `chart` (its images load lazily: scrolled to first)."""
    image = page.locator(f"#chart-{chart} img")
    await image.scroll_into_view_if_needed()
    await image.evaluate("i => i.complete && i.currentSrc || new Promise(r => i.addEventListener('load', r))")
    response = await page.request.get(await image.evaluate("i => i.currentSrc"))
    assert response.status == 200
    return await response.text()


def shown(value: float | int | None) -> str:
    """A figure as the chart's table shows it."""
    return "–" if value is None else f"{value:.2f}" if isinstance(value, float) else str(value)


async def figures_table(page: Page, chart: str) -> list[list[str]]:
    """The rows of the chart's table of figures, opened as a reader opens it."""
    await page.locator(f"#chart-{chart} summary").click()
    table = page.locator(f'table[data-chart="{chart}"]')
    assert await table.is_visible()
    rows: list[list[str]] = await table.locator("tbody tr").evaluate_all(
        "rs => rs.map(r => [...r.children].map(c => c.textContent.trim()))"
    )
    return rows


async def test_the_page_opens_on_the_month_being_reported_and_offers_newer_periods_after_an_older_one(
    site_now: Site, browser: Browser
) -> None:
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(f"{site_now.url}/dashboard/")
    reporting, current = add_months(this_month(), -1).strftime("%Y-%m"), this_month().strftime("%Y-%m")
    assert await page.locator("#period").input_value() == reporting, "not the month still running"
    assert reporting in await page.locator("#h-headline").inner_text()
    offered = await options(page)
    assert {current, reporting, MONTH, EARLIER, "2025-Q2", "2025-Q1"} <= set(offered)
    never_computed = add_months(PERIODS[0], -1).strftime("%Y-%m")
    assert never_computed not in offered and "2025" not in offered, "only periods whose figures are computed"

    # A keyboard user moves through the periods: the page stays, and so does the focus (WCAG 3.2.2).
    await page.evaluate("window.stayed = true")
    await page.focus("#period")
    await page.keyboard.press("ArrowDown")
    await page.wait_for_timeout(500)
    assert await page.locator("#period").input_value() != reporting, "the key moved the choice"
    assert await page.evaluate("window.stayed === true"), "a change alone does not load another page"
    assert await page.evaluate("document.activeElement.id") == "period"

    await page.select_option("#period", EARLIER)
    await page.get_by_role("button", name="Tampilkan").click()
    await page.wait_for_url(f"**period={EARLIER}*")
    assert await page.locator("#period").input_value() == EARLIER
    assert {current, reporting, MONTH} <= set(await options(page)), "newer periods stay within reach"
    await context.close()


async def test_the_reporting_chart_shows_the_monthly_report_and_each_chart_its_figures(
    site: Site, browser: Browser
) -> None:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    await page.goto(f"{site.url}/dashboard/97?period={MONTH}&lang=en")
    report = await api_report(site, "97", MONTH)
    rows = [report, *report["children"]]  # type: ignore[list-item]

    reporting = page.locator("#chart-reporting img")
    assert "module=kkbpk" in (await reporting.get_attribute("src") or "")
    assert "(KKBPK)" in await chart_svg(page, "reporting"), "the monthly report, not the profile carried over"
    assert "(KKBPK)" in await page.locator("#chart-reporting figcaption").inner_text()
    statuses = ("on_time", "late", "missing")
    want = [[row["name"], *(str(row["timeliness"]["kkbpk"][s]) for s in statuses)] for row in rows]
    assert await figures_table(page, "reporting") == want

    tiers = ("dasar", "berkembang", "mandiri", "berkelanjutan", "belum_terklasifikasi")
    want = [[row["name"], *(str(row["tiers"][tier]) for tier in tiers)] for row in rows]
    assert await figures_table(page, "tiers") == want
    fields = ("cpr_pct", "mkjp_pct", "unmet_need_pct")
    want = [
        [row["name"], *(shown(row[field]) for field in fields), *(shown(row["method_mix_pct"][m]) for m in MIX_ORDER)]
        for row in rows
    ]
    assert await figures_table(page, "kkbpk") == want
    headers = await page.locator('table[data-chart="kkbpk"] thead th').all_inner_texts()
    assert headers[-len(MIX_ORDER) :] == [
        "IUD (%)",
        "Female sterilisation (MOW) (%)",
        "Male sterilisation (MOP) (%)",
        "Implant (%)",
        "Condom (%)",
        "Injectable (%)",
        "Pill (%)",
    ]
    async with httpx.AsyncClient(base_url=site.url) as http:
        trend = (await http.get("/v1/reports/97/trend", params={"to": MONTH})).json()
    drawn = await figures_table(page, "trend")
    assert [row[:6] for row in drawn] == [
        [point["period"], *(str(point["tiers"][tier]) for tier in tiers)] for point in trend["points"]
    ]
    assert [row[6] for row in drawn] == [shown(point["mandiri_plus_pct"]) for point in trend["points"]]
    for chart in ("tiers", "trend", "reporting", "kkbpk"):
        alt = await page.locator(f"#chart-{chart} img").get_attribute("alt") or ""
        assert "table below" in alt, "the text alternative leads to the figures"

    for source, px in (await chart_text_px(browser, page)).items():
        assert "size=wide" in source and px >= LEGIBLE_PX, (source, px)

    await page.locator("#chart-reporting").get_by_role("link", name="population").click()
    await page.wait_for_url("**module=kependudukan*")
    assert f"period={MONTH}" in page.url and "lang=en" in page.url, "the module link keeps the period and language"
    assert await page.locator('#chart-reporting a[aria-current="true"]').inner_text() == "population"
    want = [[row["name"], *(str(row["timeliness"]["kependudukan"][s]) for s in statuses)] for row in rows]
    assert await figures_table(page, "reporting") == want
    assert "(population)" in await chart_svg(page, "reporting")
    await page.select_option("#period", EARLIER)
    await page.get_by_role("button", name="Show").click()
    await page.wait_for_url(f"**period={EARLIER}*")
    assert "module=kependudukan" in page.url, "the pickers keep the module"
    await context.close()


async def test_at_a_phone_s_width_charts_are_legible_and_a_desa_s_next_steps_get_the_width(
    site_now: Site, browser: Browser
) -> None:
    context = await browser.new_context(viewport={"width": 360, "height": 800}, is_mobile=True)
    page = await context.new_page()
    await page.goto(f"{site_now.url}/dashboard/97.01.01?period={MONTH}")
    await page.get_by_role("link", name="Masuk").click()
    await page.fill("#key", site_now.key)
    await page.get_by_role("button", name="Masuk").click()
    await page.wait_for_url("**/dashboard/97.01.01*")

    for source, px in (await chart_text_px(browser, page)).items():
        assert "size=narrow" in source and px >= LEGIBLE_PX, (source, px)

    steps = page.locator("#desa td.next-tier:has(li)")
    assert await steps.count() > 0, "the classifier explained a Kampung KB: its next steps are listed"
    box = await page.locator("#desa").evaluate("t => t.parentElement.clientWidth")
    for cell in await steps.all():
        width = await cell.evaluate("c => c.getBoundingClientRect().width")
        assert width >= 0.9 * box, f"next steps squeezed into {width} of {box} px"
    heights = await page.locator("#desa tbody tr").evaluate_all("rs => rs.map(r => r.getBoundingClientRect().height)")
    assert max(heights) < 700, heights
    overflow = await page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, "the page fits the phone's width"
    await context.close()


async def test_an_unknown_region_or_a_bad_period_is_a_page(site: Site, browser: Browser) -> None:
    context = await browser.new_context()
    page = await context.new_page()
    unknown = await page.goto(f"{site.url}/dashboard/99.99")
    assert unknown is not None and unknown.status == 404
    assert unknown.headers["content-type"].startswith("text/html")
    assert await page.locator("html").get_attribute("lang") == "id"
    assert "tidak ada" in await page.locator("#error-message").inner_text()

    bad = await page.goto(f"{site.url}/dashboard/97?period=2025-13&lang=en")
    assert bad is not None and bad.status == 422 and bad.headers["content-type"].startswith("text/html")
    assert await page.locator("html").get_attribute("lang") == "en"
    assert "not valid" in await page.locator("#error-message").inner_text()
    assert "period" in await page.locator("#error-detail").inner_text()
    await page.get_by_role("link", name="Back to the nation's page").click()
    await page.wait_for_url("**/dashboard/?lang=en")
    assert await page.locator("#h-headline").is_visible()

    uncomputed = await page.goto(f"{site.url}/dashboard/97?period=2019-01")
    assert uncomputed is not None and uncomputed.status == 404
    assert await page.locator("#not-computed").is_visible()
    assert MONTH in await options(page), "and the computed periods are offered from there"
    await context.close()


async def test_sign_in_keeps_the_period_and_language_and_times_are_the_programme_s(
    site: Site, browser: Browser
) -> None:
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(f"{site.url}/dashboard/97.01?period={EARLIER}&lang=en")
    computed = dt.datetime.fromisoformat(str((await api_report(site, "97.01", EARLIER))["computed_at"]))
    local = computed.astimezone(ZoneInfo(TIME_ZONE))
    text = await page.locator("#computed-at").inner_text()
    assert text == f"Computed at {local:%Y-%m-%d %H:%M} WIB", text

    await page.get_by_role("link", name="Sign in").click()
    await page.fill("#key", site.key)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url("**/dashboard/97.01?*")
    assert f"period={EARLIER}" in page.url and "lang=en" in page.url
    assert await page.locator("#period").input_value() == EARLIER
    assert await page.locator("html").get_attribute("lang") == "en"
    assert await page.locator("#chase").count() == 1, "signed in"
    await context.close()
