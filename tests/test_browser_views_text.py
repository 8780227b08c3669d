"""The smaller findings of the visual views, in a real headless Chromium (issue 16, item 4):
/timeline opens on the years that hold facts, the network's two legends share no colour, and
/network offers its drawing as a text list (for screen readers and for copying) that follows
the filters."""
from __future__ import annotations

import datetime as dt
import itertools

import pytest
from test_browser_views import (
    TDKG,
    open_network,
    open_timeline,
    visible_edges,
    visible_nodes,
)

pytestmark = pytest.mark.slow

YEARS = """
PREFIX tdkg: <https://w3id.org/tdkg/ontology#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT (MIN(?y) AS ?first) (MAX(?y) AS ?last) WHERE {
  ?fact a/rdfs:subClassOf* tdkg:Fact ; rdfs:label ?label ; tdkg:status ?status ; tdkg:statedIn ?doc .
  { ?fact tdkg:year ?y }
  UNION { ?fact tdkg:startYear ?y FILTER NOT EXISTS { ?fact tdkg:year ?any } }
  UNION { ?fact tdkg:endYear ?y }
}"""


def window(page) -> tuple[dt.datetime, dt.datetime]:
    ms = page.evaluate("(() => { const w = tdkgTimeline.timeline.getWindow();"
                       " return [w.start.getTime(), w.end.getTime()]; })()")
    # the page's Date objects are in the browser's time zone; compare in UTC with a day's slack
    return tuple(dt.datetime.fromtimestamp(t / 1000, dt.UTC) for t in ms)


def test_the_timeline_opens_on_the_years_that_hold_facts(live_server, page, offsite_requests,
                                                        screenshot):
    row, = live_server.select(YEARS)
    first, last = int(row["first"]), int(row["last"])
    assert first < last
    page.set_viewport_size({"width": 1400, "height": 900})
    open_timeline(page, live_server)
    start, end = window(page)
    day = dt.timedelta(days=1)
    # it covers every year that holds a fact ...
    assert start <= dt.datetime(first, 1, 1, tzinfo=dt.UTC) + day
    assert end >= dt.datetime(last, 12, 31, tzinfo=dt.UTC) - day
    # ... and no more than a small margin beyond (5 % of the span, at least a year and a day)
    margin = dt.timedelta(days=365 * max(1.0, (last - first) * 0.05)) + day
    assert start >= dt.datetime(first, 1, 1, tzinfo=dt.UTC) - margin
    assert end <= dt.datetime(last + 1, 1, 1, tzinfo=dt.UTC) + margin
    assert page.evaluate("tdkgTimeline.years") == [first, last]
    # every item is drawn whole inside the window, the first and the last ones included
    outside = page.evaluate("""(() => {
        const panel = document.querySelector('#timeline .vis-panel.vis-center').getBoundingClientRect();
        return [...document.querySelectorAll('#timeline .vis-item.vis-box, #timeline .vis-item.vis-range')]
          .filter((el) => { const r = el.getBoundingClientRect();
                            return r.left < panel.left - 1 || r.right > panel.right + 1; })
          .map((el) => el.textContent); })()""")
    assert page.locator("#timeline .vis-item.vis-box").count() > 0
    assert outside == []
    status = page.locator("#timeline-status").inner_text()
    assert f"from {first} to {last}" in status
    screenshot("timeline-1400x900")
    # "recent years" still narrows it, "show everything" goes back
    page.locator("#recent").click()
    assert window(page)[0] > start
    page.locator("#fit").click()
    assert window(page) == (start, end)
    assert offsite_requests == []


def rgb(colour: str) -> tuple[int, int, int]:
    colour = colour.strip()
    if colour.startswith("#") and len(colour) == 7:
        return tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))
    assert colour.startswith("rgb("), colour
    return tuple(int(float(c)) for c in colour[4:-1].split(",")[:3])


def test_the_network_legends_share_no_colour(live_server, page, offsite_requests):
    open_network(page, live_server)
    edge_colours = page.evaluate("""[...document.querySelectorAll('#edge-legend svg.sample line')]
        .map((l) => l.getAttribute('stroke'))""")
    node_colours = page.evaluate("""[...document.querySelectorAll('#node-legend .node-sample')]
        .map((s) => getComputedStyle(s).backgroundColor)""")
    inferred = page.evaluate("""[...document.querySelectorAll('#inferred-sample line')]
        .map((l) => l.getAttribute('stroke'))""")
    assert len(edge_colours) == page.locator("#edge-legend label").count() >= 7
    assert len(node_colours) == page.locator("#node-legend .legend-item").count() >= 3
    assert len(inferred) == 1
    colours = [rgb(c) for c in edge_colours + node_colours + inferred]
    assert len(set(colours)) == len(colours), (edge_colours, node_colours, inferred)
    # distinct to the eye as well, not only in their hex digits
    for a, b in itertools.combinations(colours, 2):
        assert sum((x - y) ** 2 for x, y in zip(a, b)) ** 0.5 >= 40, (a, b)
    # the drawing uses the legend's colours: every drawn colour of a node kind is in the node
    # legend, and every drawn link colour is in the edge legend or is the inferred links' colour
    drawn_nodes = set(page.evaluate("tdkgNetwork.nodes.get().map((n) => n.color.background)"))
    drawn_edges = set(page.evaluate("tdkgNetwork.edges.get().map((e) => e.color.color)"))
    assert {rgb(c) for c in drawn_nodes} <= {rgb(c) for c in node_colours}
    assert {rgb(c) for c in drawn_edges} <= {rgb(c) for c in edge_colours + inferred}
    assert offsite_requests == []


def listed(page) -> tuple[set[str], set[str]]:
    nodes = page.evaluate("[...document.querySelectorAll('#list-nodes tr')].map((r) => r.dataset.id)")
    edges = page.evaluate("[...document.querySelectorAll('#list-edges tr')].map((r) => r.dataset.id)")
    assert len(set(nodes)) == len(nodes) and len(set(edges)) == len(edges)
    return set(nodes), set(edges)


def test_the_network_as_a_list_follows_the_drawing(live_server, page, offsite_requests,
                                                   screenshot):
    page.set_viewport_size({"width": 1400, "height": 900})
    open_network(page, live_server)
    nodes, edges = listed(page)
    assert nodes == visible_nodes(page) and edges == visible_edges(page)
    assert len(edges) == page.evaluate("tdkgNetwork.edges.length")  # at first, every link
    # one row per link: source, relation, target, status, years, asserted or inferred
    inferred = set(page.evaluate("tdkgNetwork.edges.getIds({filter: (e) => e.inferred})"))
    assert inferred
    graph = dict(page.evaluate("""[...document.querySelectorAll('#list-edges tr')]
        .map((r) => [r.dataset.id, r.cells[5].textContent])"""))
    assert {e for e, g in graph.items() if g == "inferred"} == inferred
    assert {g for g in graph.values()} == {"inferred", "asserted"}
    turkiye = page.locator("#list-nodes tr[data-id='https://w3id.org/tdkg/id/turkiye'] td")
    assert turkiye.nth(0).text_content() == "Türkiye" and turkiye.nth(1).text_content() == "state"
    assert turkiye.nth(0).locator("a").get_attribute("href") == "/id/turkiye"
    cells = page.locator("#list-edges tr").first.locator("td")
    assert cells.count() == 6
    count = page.locator("#list-count").text_content()
    assert f"{len(nodes)} actors" in count and f"{len(edges)} links" in count

    # a filter changes the drawing and the list with it
    page.locator("#status-filter input[data-status='speculative']").uncheck()
    page.locator("#edge-legend input[value='membership']").uncheck()
    after_nodes, after_edges = listed(page)
    assert after_edges == visible_edges(page) < edges
    assert after_nodes == visible_nodes(page) <= nodes
    statuses = set(page.evaluate(
        "tdkgNetwork.edges.get({filter: (e) => !e.hidden}).map((e) => e.status)"))
    assert TDKG + "speculative" not in statuses
    page.locator("#network-list summary").click()
    assert page.locator("#list-edges").is_visible()
    screenshot("network-list-open-1400x900")
    page.locator("#status-filter input[data-status='speculative']").check()
    page.locator("#edge-legend input[value='membership']").check()
    assert listed(page) == (nodes, edges)
    assert offsite_requests == []
