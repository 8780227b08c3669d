"""The query page's chart view in a real browser (Debian's Chromium through Playwright, see
conftest.py): Chart.js, served by this server, draws bars for an answer with a label column and
a number column, and a timeline of counts per year for a year column. What is drawn is compared
with what /sparql answers (``live_server.select``), never with numbers typed in here. Screenshots
at 1400×900 and 390×844 go to tests/artifacts/screenshots/."""
from __future__ import annotations

from collections import Counter
from urllib.parse import urlencode

import pytest
import requests

pytestmark = pytest.mark.slow

BASE = "https://w3id.org/tdkg/"
ACTIVE = ".tabPanel.active .yasr"
SIZES = ((1400, 900), (390, 844))

CHART = """() => {
    const canvas = document.querySelector('.tabPanel.active .yasr canvas');
    const chart = canvas && Chart.getChart(canvas);
    if (!chart) return null;
    const meta = chart.getDatasetMeta(0);
    const index = chart.options.indexAxis === 'y' ? chart.scales.y : chart.scales.x;
    return { type: chart.config.type, indexAxis: chart.options.indexAxis || 'x',
             labels: chart.data.labels, values: chart.data.datasets[0].data,
             drawn: meta.data.filter(b => Number.isFinite(b.x) && Number.isFinite(b.y)).length,
             ticks: index.ticks.map(t => t.label), min: index.min, max: index.max,
             box: canvas.getBoundingClientRect().toJSON(),
             first: meta.data.length ? { x: meta.data[0].x, y: meta.data[0].y } : null };
}"""


def example(live_server, name: str) -> dict:
    listed = requests.get(live_server.url + "/queries.json", timeout=30).json()["examples"]
    return next(ex for ex in listed if ex["name"] == name)


def english_labels(live_server, iris) -> dict[str, str]:
    values = " ".join(f"<{iri}>" for iri in set(iris))
    rows = live_server.select(f"""SELECT ?s ?label WHERE {{ VALUES ?s {{ {values} }}
        ?s rdfs:label ?label FILTER (lang(?label) = "en") }}""")
    return {r["s"]: r["label"] for r in rows}


def open_page(page, live_server, width: int = 1400, height: int = 900) -> None:
    page.set_viewport_size({"width": width, "height": height})
    page.goto(live_server.url + "/")
    page.wait_for_selector("html[data-query-ready=true]")


def run(page) -> int:
    """Run the active tab's query; wait until its answer is drawn (in whichever view)."""
    before = int(page.locator("#query-status").get_attribute("data-run"))
    page.locator(".tabPanel.active .yasqe_queryButton").click()
    page.wait_for_function(
        """before => { const s = document.querySelector('#query-status');
                       return Number(s.dataset.run) > before && s.dataset.state === 'done'; }""",
        arg=before)
    return int(page.locator("#query-status").get_attribute("data-rows"))


def chart(page) -> dict:
    page.wait_for_function(CHART)
    return page.evaluate(CHART)


def test_bar_chart_draws_one_labelled_bar_per_row(live_server, page, offsite_requests,
                                                  screenshot):
    ex = example(live_server, "states-in-the-most-facts")
    rows = live_server.select(ex["query"])
    assert 1 < len(rows) <= 100
    names = english_labels(live_server, [r["state"] for r in rows])

    open_page(page, live_server)
    page.select_option("#examples", ex["name"])
    assert run(page) == len(rows)
    # the example opens on its chart; the chart button is there and selected
    button = page.locator(f"{ACTIVE} .select_chart")
    assert button.is_visible() and "selected" in button.get_attribute("class")
    drawn = chart(page)
    assert drawn["type"] == "bar" and drawn["indexAxis"] == "y"
    assert drawn["drawn"] == len(drawn["values"]) == len(rows)
    assert drawn["values"] == [int(r["facts"]) for r in rows]
    # labels, not IRIs: each bar carries its state's English label, and so does the axis
    assert drawn["labels"] == [names[r["state"]] for r in rows]
    assert not [label for label in drawn["ticks"] if "://" in label or "tdi:" in label]
    assert len(drawn["ticks"]) == len(rows)
    note = page.locator(f"{ACTIVE} .chart-note").inner_text()
    assert f"{len(rows)} bars" in note
    screenshot("bars-1400x900")

    # a bar opens its state's page
    page.locator(f"{ACTIVE} canvas").scroll_into_view_if_needed()
    drawn = chart(page)
    first = drawn["first"]
    with page.expect_navigation():
        page.mouse.click(drawn["box"]["x"] + first["x"] - 3, drawn["box"]["y"] + first["y"])
    assert page.url == f"{live_server.url}/page/{rows[0]['state'][len(BASE):]}"
    page.go_back()
    page.wait_for_selector("html[data-query-ready=true]")

    # on a phone: the same bars, labels shortened only where they must be
    open_page(page, live_server, *SIZES[1])
    page.select_option("#examples", ex["name"])
    assert run(page) == len(rows)
    narrow = chart(page)
    assert narrow["labels"] == drawn["labels"] and narrow["drawn"] == len(rows)
    for tick, label in zip(narrow["ticks"], narrow["labels"]):
        assert tick == label or (tick.endswith("…") and label.startswith(tick[:-1]))
    screenshot("bars-390x844")

    # the table is one click away and holds the same numbers
    page.locator(f"{ACTIVE} .select_table").click()
    page.wait_for_selector(f"{ACTIVE} table.dataTable tbody tr")
    shown = page.locator(f"{ACTIVE} table.dataTable tbody tr").evaluate_all(
        "rows => rows.map(r => r.querySelectorAll('td')[2].innerText.trim())")
    assert shown == [r["facts"] for r in rows]
    assert offsite_requests == []


def test_timeline_counts_per_year(live_server, page, offsite_requests, screenshot):
    ex = example(live_server, "facts-per-year")
    rows = live_server.select(ex["query"])
    years = [int(r["year"]) for r in rows]
    assert len(rows) > 1 and years == sorted(years)

    for width, height in SIZES:
        open_page(page, live_server, width, height)
        page.select_option("#examples", ex["name"])
        assert run(page) == len(rows)
        drawn = chart(page)
        assert drawn["type"] == "bar" and drawn["indexAxis"] == "x"
        assert drawn["values"] == [{"x": int(r["year"]), "y": int(r["facts"])} for r in rows]
        assert drawn["drawn"] == len(rows)
        # a time axis that opens on the years that hold facts, years written as years
        assert years[0] - 1 <= drawn["min"] <= years[0]
        assert years[-1] <= drawn["max"] <= years[-1] + 1
        assert drawn["ticks"] and not [t for t in drawn["ticks"] if "," in t or "." in t]
        screenshot(f"timeline-{width}x{height}")

    # the other reading of the same answer: rows per year (one each here)
    choice = page.locator(f"{ACTIVE} .chart-choice select")
    choice.select_option(label="rows per year")
    page.wait_for_function(
        "() => Chart.getChart(document.querySelector('.tabPanel.active .yasr canvas'))"
        ".data.datasets[0].data.every(p => p.y === 1)")
    assert [p["x"] for p in chart(page)["values"]] == years
    assert offsite_requests == []


def test_timeline_of_an_answer_with_a_row_per_fact(live_server, page, offsite_requests):
    """queries/timeline.rq lists fact nodes with their year: the chart counts them per year."""
    ex = example(live_server, "timeline")
    rows = live_server.select(ex["query"])
    per_year = Counter(int(r["year"]) for r in rows)
    open_page(page, live_server)
    page.select_option("#examples", ex["name"])
    assert run(page) == len(rows)
    page.locator(f"{ACTIVE} .select_chart").click()
    drawn = chart(page)
    assert drawn["values"] == [{"x": year, "y": n} for year, n in sorted(per_year.items())]
    assert drawn["drawn"] == len(per_year)
    assert sum(p["y"] for p in drawn["values"]) == len(rows)
    assert offsite_requests == []


def test_no_chart_for_an_answer_without_numbers_or_years(live_server, page, offsite_requests):
    """The default query answers with states and names: nothing to chart, no chart button."""
    open_page(page, live_server)
    assert run(page) > 0
    page.wait_for_selector(f"{ACTIVE} table.dataTable tbody tr")
    assert not page.locator(f"{ACTIVE} .select_chart").is_visible()
    assert page.evaluate("() => typeof window.Chart") == "undefined"    # not even loaded
    assert offsite_requests == []


def test_a_share_link_to_a_chart_example_opens_on_its_chart(live_server, page, offsite_requests):
    ex = example(live_server, "facts-per-year")
    rows = live_server.select(ex["query"])
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(live_server.url + "/?" + urlencode({"query": ex["shortQuery"]}))
    page.wait_for_function("() => document.querySelector('#query-status').dataset.state === 'done'"
                           " && Number(document.querySelector('#query-status').dataset.run) > 0")
    assert page.locator("#examples").input_value() == ex["name"]
    assert chart(page)["drawn"] == len(rows)
    assert offsite_requests == []
