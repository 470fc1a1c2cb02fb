"""Charts of a region's report drawn by pygal, from the same reads as the report API, tagged by `computed_at`.

A chart is loaded in two steps: its figures (and its tag) first, the drawing only when the caller lacks that tag,
so a cached chart costs the reads and no rendering.
"""

import datetime as dt
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import pygal
from pygal.style import Style
from sqlalchemy.ext.asyncio import AsyncSession

from kampungkb_shared.closing import Closing
from registry_api.charts.labels import TIER_ORDER, Lang, tier_label, word
from registry_api.etags import content_etag
from registry_api.reports import service as reports
from registry_api.reports import targets as target_rules
from registry_api.reports.schemas import Headline, Report, Trend
from registry_api.reports.spans import parse_span, trend_start

# pygal appends a legacy import hook for its map plugins (unused here) that makes every later import warn on 3.11.
sys.meta_path[:] = [finder for finder in sys.meta_path if not isinstance(finder, pygal.PluginImportFixer)]

ChartName = Literal["tiers", "trend", "reporting", "kkbpk"]
Module = Literal["profil", "kependudukan", "kkbpk"]
SVG_TYPE = "image/svg+xml"
SVG_POLICY = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'"
"""A chart's own styles are inline in the SVG; it runs no script (pygal's tooltip script is left out)."""

# Colours on white at WCAG AA contrast for graphics (3:1 or more), the tiers from low to high, then unclassified.
TIER_COLOURS = ("#b45309", "#1d4ed8", "#15803d", "#6d28d9", "#6b7280")
TIMELINESS_COLOURS = ("#15803d", "#b45309", "#b91c1c")
KKBPK_COLOURS = ("#1d4ed8", "#6d28d9", "#b91c1c")
TREND_COLOURS = (*TIER_COLOURS, "#111827", "#b91c1c")

MAX_BARS = 40
"""A kabupaten's children fit; beyond it (a national chart of desa never happens) the rest is cut."""


@dataclass(frozen=True)
class Drawing:
    """A chart's tag, known from its figures, and how to draw it."""

    etag: str
    draw: Callable[[], bytes]


def _style(colours: tuple[str, ...]) -> Style:
    return Style(
        background="#ffffff",
        plot_background="#ffffff",
        foreground="#111827",
        foreground_strong="#111827",
        foreground_subtle="#4b5563",
        colors=colours,
        font_family="system-ui, sans-serif",
        opacity="1",  # pygal's default translucent fill would lower the colours' contrast
        opacity_hover=".85",
    )


def _chart(
    kind: type[pygal.graph.graph.Graph], *, title: str, colours: tuple[str, ...], **options: object
) -> pygal.Graph:
    return kind(
        title=title,
        style=_style(colours),
        js=[],
        width=800,
        height=420,
        legend_at_bottom=True,
        x_label_rotation=30,
        truncate_label=24,
        no_data_text=None,
        print_values=False,
        **options,
    )


def _rows(report: Report) -> list[Headline]:
    """The region first, then its child regions (a kecamatan's desa carry no headline figures)."""
    children = [child for child in report.children if isinstance(child, Headline)]
    return [report, *children[: MAX_BARS - 1]]


def _render(chart: pygal.Graph) -> bytes:
    rendered: bytes = chart.render(is_unicode=False)
    return rendered


def draw_tiers(report: Report, lang: Lang) -> bytes:
    """Stacked bars of the Kampung KB per tier: the region, then each child (a kecamatan: its desa as a whole)."""
    chart = _chart(pygal.StackedBar, title=f"{word('tiers_title', lang)}: {report.name}", colours=TIER_COLOURS)
    rows = _rows(report)
    chart.x_labels = [row.name for row in rows]
    for tier in TIER_ORDER:
        chart.add(tier_label(tier, lang), [getattr(row.tiers, tier.value) for row in rows])
    return _render(chart)


def draw_reporting(report: Report, module: Module, lang: Lang) -> bytes:
    """Stacked bars of on time, late and missing of one module, for the region and each child."""
    title = f"{word('reporting_title', lang)} ({word(module, lang)}): {report.name}"
    chart = _chart(pygal.StackedBar, title=title, colours=TIMELINESS_COLOURS)
    rows = _rows(report)
    chart.x_labels = [row.name for row in rows]
    for status in ("on_time", "late", "missing"):
        chart.add(word(status, lang), [getattr(getattr(row.timeliness, module), status) for row in rows])
    return _render(chart)


def draw_kkbpk(report: Report, lang: Lang) -> bytes:
    """Grouped bars of CPR, MKJP share and unmet need, in percent, for the region and each child."""
    chart = _chart(
        pygal.Bar, title=f"{word('kkbpk_title', lang)}: {report.name}", colours=KKBPK_COLOURS, range=(0, 100)
    )
    rows = _rows(report)
    chart.x_labels = [row.name for row in rows]
    for key, field in (("cpr", "cpr_pct"), ("mkjp", "mkjp_pct"), ("unmet_need", "unmet_need_pct")):
        chart.add(word(key, lang), [getattr(row, field) for row in rows])
    return _render(chart)


def draw_trend(trend: Trend, target: float | None, lang: Lang) -> bytes:
    """Lines of each tier's count per period, with the mandiri-or-better share and its target on the right axis."""
    chart = _chart(
        pygal.Line,
        title=f"{word('trend_title', lang)}: {trend.name}",
        colours=TREND_COLOURS,
        secondary_range=(0, 100),
    )
    chart.x_labels = [point.period for point in trend.points]
    for tier in TIER_ORDER:
        chart.add(tier_label(tier, lang), [getattr(point.tiers, tier.value) for point in trend.points])
    chart.add(word("mandiri_plus", lang), [point.mandiri_plus_pct for point in trend.points], secondary=True)
    if target is not None and trend.points:
        chart.add(word("target", lang), [target] * len(trend.points), secondary=True)
    return _render(chart)


def _tag(*parts: object) -> str:
    return content_etag("|".join(str(part) for part in parts).encode())


async def load(
    session: AsyncSession,
    *,
    chart: ChartName,
    code: str,
    period: str,
    ruleset: str,
    rulesets: list[str],
    closing: Closing,
    lang: Lang,
    module: Module = "profil",
) -> Drawing:
    """The chart's figures through the report service; 404 `report-not-computed` as the report answers."""
    if chart == "trend":
        trend = await reports.get_trend(
            session, code=code, from_period=trend_start(period), to_period=period, ruleset=ruleset, rulesets=rulesets
        )
        applied = await target_rules.applied_targets(session, code=code, year=parse_span(period).last.year)
        goal = applied.get("mandiri_plus_pct")
        target = None if goal is None else goal.value
        newest = max((point.computed_at for point in trend.points), default=dt.datetime.min)
        tag = _tag(chart, code, period, ruleset, lang, newest.isoformat(), len(trend.points), target)
        return Drawing(tag, lambda: draw_trend(trend, target, lang))
    report = await reports.get_report(
        session, code=code, period=period, ruleset=ruleset, rulesets=rulesets, closing=closing
    )
    tag = _tag(chart, code, period, ruleset, lang, module, report.computed_at.isoformat())
    if chart == "tiers":
        return Drawing(tag, lambda: draw_tiers(report, lang))
    if chart == "reporting":
        return Drawing(tag, lambda: draw_reporting(report, module, lang))
    return Drawing(tag, lambda: draw_kkbpk(report, lang))
