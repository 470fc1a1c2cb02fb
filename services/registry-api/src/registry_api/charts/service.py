"""Charts of a region's report drawn by pygal, from the same reads as the report API, tagged by the `computed_at` of
every month drawn (`spans.Combined.computed_version`).

A chart is loaded in two steps: its figures (and its tag) first, the drawing only when the caller lacks that tag,
so a cached chart costs the reads and no rendering.
"""

import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import pygal
from pygal.style import Style
from sqlalchemy.ext.asyncio import AsyncSession

from kampungkb_shared.closing import Closing
from registry_api.charts.labels import METHOD_ORDER, TIER_ORDER, Lang, method_label, tier_label, word
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
# In `METHOD_ORDER`: the long-acting methods in blues, violet and green, the others in warm colours.
METHOD_COLOURS = ("#1d4ed8", "#6d28d9", "#0e7490", "#15803d", "#b45309", "#b91c1c", "#be185d")
TREND_COLOURS = (*TIER_COLOURS, "#111827", "#b91c1c")

PANELS: dict[ChartName, int] = {"kkbpk": 2}
"""Charts drawn as panels one above another, each of a `Size`'s height: the kkbpk ratios, then the method mix."""
REDRAWN: dict[ChartName, str] = {"kkbpk": "method-mix"}
"""What a chart's tag adds since its drawing changed for the same figures (the kkbpk's method mix, migration 0038),
so that a copy cached before is drawn again."""

MAX_BARS = 40
"""A kabupaten's children fit; beyond it (a national chart of desa never happens) the rest is cut."""


@dataclass(frozen=True)
class Drawing:
    """A chart's tag, known from its figures, and how to draw it."""

    etag: str
    draw: Callable[[], bytes]


@dataclass(frozen=True)
class Size:
    """How large a chart is drawn and its text, in the SVG's own units (the page scales the SVG to its box)."""

    width: int = 800
    height: int = 420
    title: int = 16
    legend: int = 14
    label: int = 10
    x_label_rotation: int = 30
    truncate_label: int = 24
    legend_columns: int | None = None
    truncate_legend: int | None = None
    """pygal's: None to fit the column, -1 never."""
    short_values: bool = False
    """Values and axis labels with two decimals at most (a right axis of 0 to 100 % divided in fifteenths shows
    `6.67`, not `6.666666667`)."""
    max_scale: int = 16
    """pygal's: the most ticks on an axis."""

    def height_of(self, chart: ChartName) -> int:
        """How tall a chart is drawn: `height` for each of its panels (`PANELS`)."""
        return self.height * PANELS.get(chart, 1)


API_SIZE = Size()
"""The public API's charts: pygal's own font sizes on 800 x 420."""
PAGE_SIZES: dict[str, Size] = {
    "wide": Size(
        width=640,
        height=480,
        title=18,
        legend=15,
        label=14,
        legend_columns=2,
        truncate_legend=-1,
        short_values=True,
        max_scale=8,
    ),
    "narrow": Size(
        width=360,
        height=600,
        title=16,
        legend=14,
        label=14,
        x_label_rotation=45,
        truncate_label=20,
        legend_columns=1,
        truncate_legend=-1,
        short_values=True,
        max_scale=8,
    ),
}
"""The dashboard's charts: text of 14 units or more, so that it stays 12 px or more where the page shows it (`wide` in
a box 580 px wide or more, `narrow` on a phone, in 326 px at 360 px wide, its legend one whole label a line)."""
PageSize = Literal["wide", "narrow"]


@dataclass(frozen=True)
class Series:
    name: str
    values: list[float | int | None]
    secondary: bool = False


@dataclass(frozen=True)
class Figures:
    """What a chart draws: a label per bar group or point, a series per colour; the page shows them as a table."""

    title: str
    labels: list[str]
    series: list[Series]


def _style(colours: tuple[str, ...], size: Size) -> Style:
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
        title_font_size=size.title,
        legend_font_size=size.legend,
        label_font_size=size.label,
        major_label_font_size=size.label,
    )


def _short(value: float | int) -> str:
    """A value with two decimals at most, none when whole."""
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return str(value)


def _chart(
    kind: type[pygal.graph.graph.Graph],
    figures: Figures,
    *,
    colours: tuple[str, ...],
    size: Size,
    **options: object,
) -> pygal.graph.graph.Graph:
    if size.legend_columns is not None:
        options["legend_at_bottom_columns"] = size.legend_columns
    if size.truncate_legend is not None:
        options["truncate_legend"] = size.truncate_legend
    if size.short_values:
        options["value_formatter"] = _short
    if size.max_scale != API_SIZE.max_scale:
        options["max_scale"] = size.max_scale
    chart = kind(
        title=figures.title,
        style=_style(colours, size),
        js=[],
        width=size.width,
        height=size.height,
        legend_at_bottom=True,
        x_label_rotation=size.x_label_rotation,
        truncate_label=size.truncate_label,
        no_data_text=None,
        print_values=False,
        **options,
    )
    chart.x_labels = figures.labels
    for series in figures.series:
        if series.secondary:
            chart.add(series.name, series.values, secondary=True)
        else:
            chart.add(series.name, series.values)
    return chart


def _draw(
    kind: type[pygal.graph.graph.Graph],
    figures: Figures,
    *,
    colours: tuple[str, ...],
    size: Size,
    **options: object,
) -> bytes:
    rendered: bytes = _chart(kind, figures, colours=colours, size=size, **options).render(is_unicode=False)
    return rendered


def _one_above_another(panels: Sequence[pygal.graph.graph.Graph], size: Size) -> bytes:
    """pygal's charts as one SVG, each its own nested `<svg>` (its styles scoped to its id) below the one before:
    pygal draws no chart of two kinds of bars."""
    outer = ET.Element(
        "svg", {"xmlns": "http://www.w3.org/2000/svg", "viewBox": f"0 0 {size.width} {size.height * len(panels)}"}
    )
    for n, panel in enumerate(panels):
        tree = panel.render_tree()
        tree.attrib.update(x="0", y=str(n * size.height), width=str(size.width), height=str(size.height))
        outer.append(tree)
    drawn: bytes = ET.tostring(outer, encoding="utf-8", xml_declaration=True)
    return drawn


def _rows(report: Report) -> list[Headline]:
    """The region first, then its child regions (a kecamatan's desa carry no headline figures)."""
    children = [child for child in report.children if isinstance(child, Headline)]
    return [report, *children[: MAX_BARS - 1]]


def tiers_figures(report: Report, lang: Lang) -> Figures:
    """The Kampung KB per tier: the region, then each child (a kecamatan: its desa as a whole)."""
    rows = _rows(report)
    return Figures(
        f"{word('tiers_title', lang)}: {report.name}",
        [row.name for row in rows],
        [Series(tier_label(tier, lang), [getattr(row.tiers, tier.value) for row in rows]) for tier in TIER_ORDER],
    )


def reporting_figures(report: Report, module: Module, lang: Lang) -> Figures:
    """On time, late and missing of one module, for the region and each child."""
    rows = _rows(report)
    return Figures(
        f"{word('reporting_title', lang)} ({word(module, lang)}): {report.name}",
        [row.name for row in rows],
        [
            Series(word(status, lang), [getattr(getattr(row.timeliness, module), status) for row in rows])
            for status in ("on_time", "late", "missing")
        ],
    )


def _kkbpk_panels(report: Report, lang: Lang) -> tuple[Figures, Figures]:
    """CPR, MKJP share and unmet need; and the method mix (each method's share of the KB users): in percent, for the
    region and each child."""
    rows = _rows(report)
    labels = [row.name for row in rows]
    ratios = Figures(
        f"{word('kkbpk_title', lang)}: {report.name}",
        labels,
        [
            Series(word(key, lang), [getattr(row, field) for row in rows])
            for key, field in (("cpr", "cpr_pct"), ("mkjp", "mkjp_pct"), ("unmet_need", "unmet_need_pct"))
        ],
    )
    mix = Figures(
        f"{word('method_mix_title', lang)}: {report.name}",
        labels,
        [
            Series(f"{method_label(method, lang)} (%)", [row.method_mix_pct[method] for row in rows])
            for method in METHOD_ORDER
        ],
    )
    return ratios, mix


def kkbpk_figures(report: Report, lang: Lang) -> Figures:
    """Both panels' figures in one table: CPR, MKJP share and unmet need, then each method's share of the users."""
    ratios, mix = _kkbpk_panels(report, lang)
    return Figures(ratios.title, ratios.labels, [*ratios.series, *mix.series])


def trend_figures(trend: Trend, targets: Sequence[float | None], lang: Lang) -> Figures:
    """Each tier's count per period, with the mandiri-or-better share and, at each period, the target in force in its
    year (`load_trend`) on the right axis."""
    series = [
        Series(tier_label(tier, lang), [getattr(p.tiers, tier.value) for p in trend.points]) for tier in TIER_ORDER
    ]
    series.append(Series(word("mandiri_plus", lang), [p.mandiri_plus_pct for p in trend.points], secondary=True))
    if any(target is not None for target in targets):
        series.append(Series(word("target", lang), list(targets), secondary=True))
    return Figures(f"{word('trend_title', lang)}: {trend.name}", [p.period for p in trend.points], series)


def draw_tiers(report: Report, lang: Lang, size: Size = API_SIZE) -> bytes:
    """Stacked bars of `tiers_figures`."""
    return _draw(pygal.StackedBar, tiers_figures(report, lang), colours=TIER_COLOURS, size=size)


def draw_reporting(report: Report, module: Module, lang: Lang, size: Size = API_SIZE) -> bytes:
    """Stacked bars of `reporting_figures`."""
    return _draw(pygal.StackedBar, reporting_figures(report, module, lang), colours=TIMELINESS_COLOURS, size=size)


def draw_kkbpk(report: Report, lang: Lang, size: Size = API_SIZE) -> bytes:
    """Grouped bars of CPR, MKJP share and unmet need, above stacked bars of the method mix (each bar 100 % of its
    region's users, the long-acting methods at the bottom): `kkbpk_figures`, 0 to 100 %."""
    ratios, mix = _kkbpk_panels(report, lang)
    return _one_above_another(
        [
            _chart(pygal.Bar, ratios, colours=KKBPK_COLOURS, size=size, range=(0, 100)),
            _chart(pygal.StackedBar, mix, colours=METHOD_COLOURS, size=size, range=(0, 100)),
        ],
        size,
    )


def draw_trend(trend: Trend, targets: Sequence[float | None], lang: Lang, size: Size = API_SIZE) -> bytes:
    """Lines of `trend_figures`, the shares on a right axis of 0 to 100 %."""
    return _draw(
        pygal.Line, trend_figures(trend, targets, lang), colours=TREND_COLOURS, size=size, secondary_range=(0, 100)
    )


def _tag(*parts: object) -> str:
    return content_etag("|".join(str(part) for part in parts).encode())


async def load_trend(
    session: AsyncSession, *, code: str, period: str, ruleset: str, rulesets: list[str]
) -> tuple[Trend, list[float | None]]:
    """The trend up to `period` (`trend_start`: the 12 months, 4 quarters or 5 years up to it), and for each of its
    points the mandiri-or-better target in force in that point's year (a trend of months spans two years)."""
    trend = await reports.get_trend(
        session, code=code, from_period=trend_start(period), to_period=period, ruleset=ruleset, rulesets=rulesets
    )
    years = [parse_span(point.period).last.year for point in trend.points]
    goals: dict[int, float | None] = {}
    for year in sorted(set(years)):
        goal = (await target_rules.applied_targets(session, code=code, year=year)).get("mandiri_plus_pct")
        goals[year] = None if goal is None else goal.value
    return trend, [goals[year] for year in years]


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
    size: Size = API_SIZE,
) -> Drawing:
    """The chart's figures through the report service; 404 `report-not-computed` as the report answers."""
    if chart == "trend":
        trend, targets = await load_trend(session, code=code, period=period, ruleset=ruleset, rulesets=rulesets)
        drawn = (f"{p.period}@{p.computed_version}:{t}" for p, t in zip(trend.points, targets, strict=True))
        tag = _tag(chart, code, period, ruleset, lang, *drawn, *_sized(size))
        return Drawing(tag, lambda: draw_trend(trend, targets, lang, size))
    report = await reports.get_report(
        session, code=code, period=period, ruleset=ruleset, rulesets=rulesets, closing=closing
    )
    tag = _tag(chart, code, period, ruleset, lang, module, report.computed_version, *_sized(size), *_redrawn(chart))
    if chart == "tiers":
        return Drawing(tag, lambda: draw_tiers(report, lang, size))
    if chart == "reporting":
        return Drawing(tag, lambda: draw_reporting(report, module, lang, size))
    return Drawing(tag, lambda: draw_kkbpk(report, lang, size))


def _redrawn(chart: ChartName) -> tuple[object, ...]:
    """What a chart's tag adds since its drawing changed (`REDRAWN`): nothing for the others (their tags stay)."""
    return (REDRAWN[chart],) if chart in REDRAWN else ()


def _sized(size: Size) -> tuple[object, ...]:
    """What a size adds to a chart's tag: nothing for the API's (its tags stay as they were)."""
    return () if size == API_SIZE else (size,)
