"""The reports' charts: built from the report dicts, drawn as SVG fit to inline under a strict
Content-Security-Policy (no style, no script, text as text) and as PNG, each with its numbers as
a table."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from xml.etree import ElementTree

import matplotlib
import pytest

from bot.views import charts
from bot.views.charts import Chart, Series

NS = "{http://www.w3.org/2000/svg}"
PNG = b"\x89PNG\r\n\x1a\n"
WEEKS = ("2026-11-09", "2026-11-16", "2026-11-23")


def spread(median: float | None, p90: float | None, n: int) -> dict:
    return {"median": median, "p90": p90, "n": n}


def severities(sev1: int, sev2: int, sev3: int, sev4: int) -> dict:
    return {"SEV1": sev1, "SEV2": sev2, "SEV3": sev3, "SEV4": sev4}


def runs(total: int, succeeded: int, failed: int, automatic: int, rate: float | None) -> dict:
    return {
        "total": total,
        "succeeded": succeeded,
        "failed": failed,
        "automatic": automatic,
        "manual": total - automatic,
        "dry_run": 0,
        "success_rate": rate,
    }


INCIDENTS = {
    "weeks": [
        {
            "week": WEEKS[0],
            "incidents": 3,
            "by_severity": severities(1, 2, 0, 0),
            "mtta": spread(60, 300, 3),
            "mttm": spread(600, 900, 2),
            "mttr": spread(1800, 7200, 3),
        },
        {
            "week": WEEKS[1],
            "incidents": 0,
            "by_severity": severities(0, 0, 0, 0),
            **{key: spread(None, None, 0) for key in ("mtta", "mttm", "mttr")},
        },
        {
            "week": WEEKS[2],
            "incidents": 1,
            "by_severity": severities(0, 0, 0, 1),
            "mtta": spread(0, 0, 1),
            "mttm": spread(None, None, 0),
            "mttr": spread(90, 90, 1),
        },
    ],
    "remediation": {
        "weeks": [
            {"week": WEEKS[0], **runs(4, 2, 1, 3, 0.6667)},
            {"week": WEEKS[1], **runs(0, 0, 0, 0, None)},
            {"week": WEEKS[2], **runs(1, 1, 0, 0, 1.0)},
        ]
    },
}


def alert_week(week: str, pages: dict[str, int], noise: float | None, night: int) -> dict:
    return {
        "week": week,
        "alerts": len(pages),
        "pages": sum(pages.values()),
        "pages_by_service": pages,
        "noise_share": noise,
        "night_pages": night,
    }


ALERTS = {
    "zone": "Europe/Paris",
    "weeks": [
        alert_week(WEEKS[0], {"Workers": 12, "Checkout API": 5, "": 1}, 0.17, 12),
        alert_week(WEEKS[1], {"Workers": 0, "Checkout API": 0, "": 0}, None, 0),
        alert_week(WEEKS[2], {"Workers": 1, "Checkout API": 3, "": 0}, 0.5, 2),
    ],
}
EVERY_CHART = [
    *charts.incident_charts(INCIDENTS),
    *charts.remediation_charts(INCIDENTS),
    *charts.alert_charts(ALERTS),
]


def parsed(chart: Chart) -> ElementTree.Element:
    return ElementTree.fromstring(charts.svg(chart))


def texts(root: ElementTree.Element) -> list[str]:
    return ["".join(t.itertext()) for t in root.iter(f"{NS}text")]


def test_incident_charts_stack_severities_and_give_response_times_in_minutes():
    by_severity, times = charts.incident_charts(INCIDENTS)
    assert (by_severity.kind, by_severity.title) == ("stacked", "Incidents per week by worst severity")
    assert by_severity.table() == (
        ["Week (from Monday, UTC)", "SEV1", "SEV2", "SEV3", "SEV4"],
        [[WEEKS[0], 1, 2, 0, 0], [WEEKS[1], 0, 0, 0, 0], [WEEKS[2], 0, 0, 0, 1]],
    )
    assert (times.title, times.y_label, times.kind) == (
        "Time to acknowledge, mitigate and resolve per week",
        "Minutes",
        "lines",
    )
    assert times.table() == (
        [
            "Week (from Monday, UTC)",
            "MTTA median",
            "MTTA p90",
            "MTTM median",
            "MTTM p90",
            "MTTR median",
            "MTTR p90",
        ],
        [
            [WEEKS[0], 1.0, 5.0, 10.0, 15.0, 30.0, 120.0],
            [WEEKS[1], None, None, None, None, None, None],
            [WEEKS[2], 0.0, 0.0, None, None, 1.5, 1.5],
        ],
    )


def test_remediation_charts_split_automatic_from_manual_and_give_the_rate_in_percent():
    by_whom, rate = charts.remediation_charts(INCIDENTS)
    assert by_whom.table() == (
        ["Week (from Monday, UTC)", "automatic", "asked for by a person"],
        [[WEEKS[0], 3, 1], [WEEKS[1], 0, 0], [WEEKS[2], 0, 1]],
    )
    assert (rate.y_max, rate.table()[1]) == (100, [[WEEKS[0], 66.7], [WEEKS[1], None], [WEEKS[2], 100.0]])


def test_alert_charts_give_pages_per_service_noise_in_percent_and_night_pages():
    pages, noise, night = charts.alert_charts(ALERTS)
    assert pages.table() == (
        ["Week (from Monday, UTC)", "Workers", "Checkout API", "no service"],
        [[WEEKS[0], 12, 5, 1], [WEEKS[1], 0, 0, 0], [WEEKS[2], 1, 3, 0]],
    )
    assert noise.table()[1] == [[WEEKS[0], 17.0], [WEEKS[1], None], [WEEKS[2], 50.0]]
    assert night.title == "Night pages per week (22:00–07:00 Europe/Paris)"
    assert night.table()[1] == [[WEEKS[0], 12], [WEEKS[1], 0], [WEEKS[2], 2]]


def test_past_a_few_services_the_rest_are_summed_as_one_series():
    many = {f"service {n}": n for n in range(9, 0, -1)}  # already most pages first, as the report has it
    chart = charts.pages_per_service({"weeks": [alert_week(WEEKS[0], many, 0.0, 0)]})
    headers, [row] = chart.table()
    assert headers[1:] == [*(f"service {n}" for n in range(9, 2, -1)), "2 other services"]
    assert row[1:] == [9, 8, 7, 6, 5, 4, 3, 2 + 1]


@pytest.mark.parametrize("chart", EVERY_CHART, ids=lambda chart: chart.title)
def test_the_svg_parses_and_carries_its_title_and_axis_labels_as_text(chart):
    root = parsed(chart)
    assert root.tag == f"{NS}svg"
    assert (root.get("role"), root.get("aria-label")) == ("img", chart.title)
    shown = texts(root)
    assert {chart.title, chart.x_label, chart.y_label} <= set(shown)
    assert set(chart.categories) <= set(shown)
    legend = [e for e in root.iter() if (e.get("id") or "").endswith("legend_1")]
    if len(chart.series) > 1:
        assert legend and {s.name for s in chart.series} <= set(shown)
    else:
        assert not legend


@pytest.mark.parametrize("chart", EVERY_CHART, ids=lambda chart: chart.title)
def test_the_svg_has_no_style_no_script_and_no_prolog(chart):
    text = charts.svg(chart)
    assert text.startswith("<svg ") and "<?xml" not in text and "DOCTYPE" not in text
    root = ElementTree.fromstring(text)
    tags = {element.tag.removeprefix(NS) for element in root.iter()}
    assert not tags & {"style", "script", "metadata", "foreignObject"}
    attributes = {name for element in root.iter() for name in element.attrib}
    assert "style" not in attributes and not any(name.startswith("on") for name in attributes)
    assert not any(name.startswith("{") for name in attributes)  # no xlink: plain href
    assert "javascript:" not in text


def test_the_svg_styles_became_presentation_attributes():
    root = parsed(charts.pages_per_service(ALERTS))
    title = next(t for t in root.iter(f"{NS}text") if t.text == "Pages per service per week")
    assert title.get("font-size", "").endswith("px") and "DejaVu Sans" in title.get("font-family", "")
    assert any(e.get("fill") == "#1f77b4" for e in root.iter(f"{NS}path"))  # the first service's bars
    assert root.get("stroke-linejoin") == "round"  # what the dropped default <style> said


def test_the_font_shorthand_is_split_into_its_parts():
    assert list(charts._attributes("font: italic bold 12px 'DejaVu Sans'; text-anchor: middle")) == [
        ("font-style", "italic"),
        ("font-weight", "bold"),
        ("font-size", "12px"),
        ("font-family", "'DejaVu Sans'"),
        ("text-anchor", "middle"),
    ]


def test_every_reference_in_the_svg_names_an_id_of_this_chart():
    root = parsed(charts.alert_charts(ALERTS)[0])
    ids = [e.get("id") for e in root.iter() if e.get("id")]
    assert len(ids) == len(set(ids)) and all(i.startswith("pages-per-service-per-week-") for i in ids)
    refs = [m for e in root.iter() for v in e.attrib.values() for m in re.findall(r"url\(#([^)]+)\)", v)]
    refs += [e.get("href", "")[1:] for e in root.iter() if e.get("href", "").startswith("#")]
    assert refs and set(refs) <= set(ids)


def test_the_svg_is_the_same_every_time_and_from_every_thread():
    chart = charts.incident_charts(INCIDENTS)[0]
    once = charts.svg(chart)
    assert "Date" not in once and "Matplotlib v" not in once
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert set(pool.map(lambda _: charts.svg(chart), range(8))) == {once}


def test_drawing_leaves_the_process_wide_settings_as_they_were():
    before = (matplotlib.rcParams["svg.fonttype"], matplotlib.rcParams["svg.hashsalt"])
    charts.svg(charts.alert_charts(ALERTS)[1])
    charts.png(charts.alert_charts(ALERTS)[1])
    assert (matplotlib.rcParams["svg.fonttype"], matplotlib.rcParams["svg.hashsalt"]) == before


@pytest.mark.parametrize("chart", EVERY_CHART[:1] + EVERY_CHART[-3:], ids=lambda chart: chart.title)
def test_the_png_is_a_png(chart):
    image = charts.png(chart)
    assert image.startswith(PNG) and len(image) > 1000


def test_a_chart_with_nothing_to_show_still_draws_its_labels():
    empty = Chart("Pages per service per week", "Week", "Pages", (WEEKS[0],), (), "stacked")
    assert empty.table() == (["Week"], [[WEEKS[0]]])
    shown = texts(parsed(empty))
    assert {"Pages per service per week", "Week", "Pages", "Nothing in this window"} <= set(shown)
    assert charts.png(empty).startswith(PNG)
    nothing = Chart("No weeks", "Week", "Pages", (), (Series("pages", ()),))
    assert "No weeks" in texts(parsed(nothing)) and nothing.table() == (["Week", "pages"], [])
