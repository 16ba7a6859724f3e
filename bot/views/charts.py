"""Charts of the reports: a report's dict in, a `Chart` out, drawn as SVG (for pages) or PNG (for
Slack); no I/O, no database.

A `Chart` carries the numbers it draws, so a page prints them as a table beside the picture
(`Chart.table()`): a chart is never the only way to read a figure.

Drawing uses matplotlib's object-oriented API, a `Figure` on an explicit Agg or SVG canvas and
never pyplot, so no backend is chosen (MPLBACKEND plays no part) and no display is needed. Even
so matplotlib is not thread-safe: rcParams, read while drawing, are process-wide, and so is the
font cache text is measured with. One lock serialises drawing (a chart takes 0.1 to 0.2 s).

The SVG goes inline into pages served with `style-src 'self'`, which blocks `<style>` elements
and `style` attributes alike. So text stays `<text>` (`svg.fonttype: none`), every style becomes
a presentation attribute, and the prolog, DOCTYPE, metadata and default `<style>` are dropped.
Ids are prefixed per chart, as several charts share a page, and hashed with a fixed salt, so the
same chart gives the same bytes.

matplotlib is imported when a chart is first drawn, not with this module: its import takes a
while and builds a font cache, which only a process that draws should pay for.
"""

from __future__ import annotations

import functools
import io
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from xml.etree import ElementTree

from bot.postmortem.report import MEASURES, SEVERITIES

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.typing import RcKeyType

WEEK_AXIS = "Week (from Monday, UTC)"
TOP_SERVICES = 7  # more services than this are summed as one, or the legend outgrows the chart
SIZE = (8.0, 4.5)  # inches
PNG_DPI = 150
_RC: dict[RcKeyType, Any] = {
    "svg.fonttype": "none",
    "svg.hashsalt": "warroom-charts",
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],  # shipped with matplotlib: measured the same everywhere
    "axes.spines.top": False,
    "axes.spines.right": False,
}
_DRAWING = threading.Lock()
_SVG, _XLINK = "http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"
_DROPPED = frozenset(f"{{{_SVG}}}{tag}" for tag in ("style", "script", "metadata"))
_FONT_PARTS = {"italic": "font-style", "oblique": "font-style", "small-caps": "font-variant"}  # else a weight

Value = float | None
Kind = Literal["stacked", "lines"]


@dataclass(frozen=True)
class Series:
    """One named row of values, one per category (counts stay whole numbers; None: nothing to
    show there, as a week without a median)."""

    name: str
    values: tuple[Value, ...]


@dataclass(frozen=True)
class Chart:
    """What to draw: stacked bars or lines over categories (weeks), with its labels."""

    title: str
    x_label: str
    y_label: str
    categories: tuple[str, ...]
    series: tuple[Series, ...]
    kind: Kind = "lines"
    y_max: float | None = None  # 100 for a share in %; None: as high as the values go

    def table(self) -> tuple[list[str], list[list[str | Value]]]:
        """The numbers drawn: headers (the x label, then each series) and a row per category."""
        headers = [self.x_label, *(s.name for s in self.series)]
        rows: list[list[str | Value]] = [
            [category, *(s.values[i] for s in self.series)] for i, category in enumerate(self.categories)
        ]
        return headers, rows


def incident_charts(report: dict[str, Any]) -> list[Chart]:
    """From the incidents report: incidents per severity per week, then each response time's
    median and p90 per week, in minutes."""
    return [incidents_by_severity(report), *response_times(report)]


def incidents_by_severity(report: dict[str, Any]) -> Chart:
    """Incidents declared each week, stacked by the worst severity each reached."""
    weeks = report["weeks"]
    series = [Series(label, tuple(w["by_severity"][label] for w in weeks)) for label in SEVERITIES]
    return _weekly("Incidents per week by worst severity", "Incidents", weeks, series, "stacked")


def response_times(report: dict[str, Any]) -> list[Chart]:
    """Time to acknowledge, mitigate and resolve: median and p90 per week, in minutes, on one
    chart (a p90 is drawn dashed in its median's colour)."""
    weeks = report["weeks"]
    series = [
        Series(f"{key.upper()} {stat}", tuple(_minutes(w[key][stat]) for w in weeks))
        for key, _ in MEASURES
        for stat in ("median", "p90")
    ]
    return [_weekly("Time to acknowledge, mitigate and resolve per week", "Minutes", weeks, series)]


def remediation_charts(report: dict[str, Any]) -> list[Chart]:
    """From the incidents report: runs per week (automatic or asked for), how the finished ones
    ended, and the success rate per week in %."""
    weeks = report["remediation"]["weeks"]

    def counts(*names: tuple[str, str]) -> list[Series]:
        return [Series(label, tuple(w[key] for w in weeks)) for key, label in names]

    by_whom = counts(("automatic", "automatic"), ("manual", "asked for by a person"))
    rate = [Series("success rate", tuple(_percent(w["success_rate"]) for w in weeks))]
    return [
        _weekly("Remediation runs per week", "Runs", weeks, by_whom, "stacked"),
        _weekly(
            "Remediation success rate per week", "Succeeded of finished runs (%)", weeks, rate, y_max=100
        ),
    ]


def alert_charts(report: dict[str, Any]) -> list[Chart]:
    """From the alert report: pages per service per week, noise share per week in %, night pages."""
    return [pages_per_service(report), noise_share(report), night_pages(report)]


def pages_per_service(report: dict[str, Any]) -> Chart:
    """Pages each week, stacked by service (the most paging first; past a few, the rest summed)."""
    weeks = report["weeks"]
    services = list(weeks[0]["pages_by_service"]) if weeks else []
    top, rest = services[:TOP_SERVICES], services[TOP_SERVICES:]
    series = [Series(name or "no service", tuple(w["pages_by_service"][name] for w in weeks)) for name in top]
    if rest:
        summed = tuple(sum(w["pages_by_service"][name] for name in rest) for w in weeks)
        series.append(Series(f"{len(rest)} other services", summed))
    return _weekly("Pages per service per week", "Pages", weeks, series, "stacked")


def noise_share(report: dict[str, Any]) -> Chart:
    """The share of each week's alerts that nobody acknowledged and that opened no incident, in %."""
    weeks = report["weeks"]
    series = [Series("noise", tuple(_percent(w["noise_share"]) for w in weeks))]
    return _weekly("Alert noise per week", "Alerts not acted on (%)", weeks, series, y_max=100)


def night_pages(report: dict[str, Any]) -> Chart:
    """Pages at night in the on-call's zone, per week."""
    weeks, zone = report["weeks"], report.get("zone", "UTC")
    series = [Series("night pages", tuple(w["night_pages"] for w in weeks))]
    title = f"Night pages per week (22:00–07:00 {zone})"  # bot/alerts/report.py's NIGHT_HOURS
    return _weekly(title, "Pages", weeks, series, "stacked")


def _weekly(
    title: str,
    y_label: str,
    weeks: list[dict[str, Any]],
    series: list[Series],
    kind: Kind = "lines",
    *,
    y_max: float | None = None,
) -> Chart:
    categories = tuple(str(w["week"]) for w in weeks)
    return Chart(title, WEEK_AXIS, y_label, categories, tuple(series), kind, y_max)


def _minutes(seconds: float | None) -> Value:
    return None if seconds is None else round(seconds / 60, 1)


def _percent(share: float | None) -> Value:
    return None if share is None else round(share * 100, 1)


@functools.lru_cache(maxsize=256)  # a chart is its numbers: the same numbers draw the same picture
def svg(chart: Chart) -> str:
    """The chart as an `<svg>` element to inline in a page: no styles, no script, text as text."""
    from matplotlib.backends.backend_svg import FigureCanvasSVG

    out = io.StringIO()
    with _drawn(chart) as figure:
        FigureCanvasSVG(figure).print_figure(out, format="svg", metadata={"Date": None})
    return _inline(out.getvalue(), chart.title)


def png(chart: Chart) -> bytes:
    """The chart as a PNG image."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    out = io.BytesIO()
    with _drawn(chart) as figure:
        FigureCanvasAgg(figure).print_figure(out, format="png", dpi=PNG_DPI)
    return out.getvalue()


@contextmanager
def _drawn(chart: Chart) -> Iterator[Figure]:
    """The chart drawn on a new figure, under the drawing lock and the charts' rcParams, which
    stay in force until the figure is printed (the SVG backend reads them then)."""
    import matplotlib
    from matplotlib.figure import Figure

    with _DRAWING, matplotlib.rc_context(_RC):
        figure = Figure(figsize=SIZE)
        # fixed margins: room for rotated week labels and a legend on the right (a constrained
        # layout measures every label first and costs a third of the drawing)
        figure.subplots_adjust(left=0.09, bottom=0.24, top=0.9, right=0.76 if len(chart.series) > 1 else 0.97)
        _draw(figure.add_subplot(), chart)
        yield figure


def _draw(ax: Axes, chart: Chart) -> None:
    from matplotlib.ticker import MaxNLocator

    positions = range(len(chart.categories))
    if chart.kind == "stacked":
        bottom = [0.0] * len(chart.categories)
        for series in chart.series:
            heights = [v or 0.0 for v in series.values]
            ax.bar(positions, heights, bottom=bottom, label=series.name, width=0.7)
            bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    else:
        for series in chart.series:
            values = [float("nan") if v is None else v for v in series.values]
            line = ax.plot(positions, values, marker="o", label=series.name)[0]
            if series.name.endswith(" p90") and len(ax.lines) > 1:  # drawn like the median before it
                line.set(color=ax.lines[-2].get_color(), linestyle="--")
    drawn = [v for s in chart.series for v in s.values if v is not None]
    # an axis of nothing but zeros still counts in whole numbers
    ax.set_ylim(bottom=0, top=chart.y_max or (None if any(drawn) else 1))
    if not drawn or (chart.kind == "stacked" and not any(drawn)):
        ax.text(0.5, 0.5, "Nothing in this window", transform=ax.transAxes, ha="center", va="center")
    ax.set_xticks(list(positions), chart.categories)
    if len(positions) > 6:  # dates side by side would overlap
        ax.tick_params(axis="x", labelrotation=30)
        for label in ax.get_xticklabels():
            label.set(horizontalalignment="right", rotation_mode="anchor")
    ax.set_xlim(-0.5, max(len(positions), 1) - 0.5)  # a slot per week, bars or points in its middle
    ax.set_title(chart.title)
    ax.set_xlabel(chart.x_label)
    ax.set_ylabel(chart.y_label)
    if len(chart.series) > 1:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small", frameon=False)


def _inline(document: str, label: str) -> str:
    """Matplotlib's SVG document as an element fit for a page under a strict CSP."""
    root = ElementTree.fromstring(document)  # the XML prolog and DOCTYPE go with the parsing
    for parent in list(root.iter()):
        for child in [c for c in parent if c.tag in _DROPPED]:
            parent.remove(child)
    prefix = _slug(label)
    for element in root.iter():
        _restyle(element, prefix)
    root.set("xmlns", _SVG)
    # what the dropped default <style> set on every element; inherited from the root, the same
    root.set("stroke-linejoin", "round")
    root.set("stroke-linecap", "butt")
    root.set("role", "img")
    root.set("aria-label", label)
    return ElementTree.tostring(root, encoding="unicode")


def _restyle(element: ElementTree.Element, prefix: str) -> None:
    """Its style as presentation attributes; its id and the ids it refers to under `prefix`."""
    element.tag = element.tag.removeprefix(f"{{{_SVG}}}")  # the root's xmlns says it once
    for name, value in _attributes(element.attrib.pop("style", "")):
        element.set(name, value)
    href = element.attrib.pop(f"{{{_XLINK}}}href", None)
    if href is not None:  # SVG 2's plain href: no xlink namespace to declare
        element.set("href", f"#{prefix}-{href[1:]}" if href.startswith("#") else href)
    if "id" in element.attrib:
        element.set("id", f"{prefix}-{element.get('id')}")
    for name, value in list(element.attrib.items()):  # clip-path, a hatch's fill
        if "url(#" in value:
            element.set(name, value.replace("url(#", f"url(#{prefix}-"))


def _attributes(style: str) -> Iterator[tuple[str, str]]:
    """`a: b; c: d` as presentation attributes; the `font` shorthand as its parts."""
    for declaration in style.split(";"):
        name, _, value = (part.strip() for part in declaration.partition(":"))
        if not name or not value:
            continue
        if name == "font":
            yield from _font(value)
        else:
            yield name, value


def _font(shorthand: str) -> Iterator[tuple[str, str]]:
    """`[style] [variant] [weight] size family`, as matplotlib writes it, in its parts."""
    words = shorthand.split(" ")
    size_at = next((i for i, word in enumerate(words) if re.fullmatch(r"[\d.]+(px|pt)", word)), None)
    if size_at is None:
        yield "font-family", shorthand
        return
    for word in words[:size_at]:
        yield _FONT_PARTS.get(word, "font-weight"), word
    yield "font-size", words[size_at]
    yield "font-family", " ".join(words[size_at + 1 :])


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "chart"
