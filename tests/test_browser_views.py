"""The visual views in a real headless Chromium (Debian's chromium driven by Playwright; see
conftest.py): /network draws exactly the rows of queries/network-nodes.rq and network-edges.rq,
marks inferred links, and its status and period filters hide exactly what they should; /timeline
draws exactly the rows of queries/timeline.rq. Nothing is fetched from beyond 127.0.0.1."""
from __future__ import annotations

import math

import pytest
from support import PROJECT

pytestmark = pytest.mark.slow

TDI = "https://w3id.org/tdkg/id/"
TDKG = "https://w3id.org/tdkg/ontology#"


def query(name: str) -> str:
    return (PROJECT / "queries" / f"{name}.rq").read_text(encoding="utf-8")


def open_network(page, live_server) -> None:
    page.goto(f"{live_server.url}/network")
    page.wait_for_function("window.tdkgNetwork && (window.tdkgNetwork.ready || window.tdkgNetwork.error)",
                           timeout=30_000)
    assert page.evaluate("window.tdkgNetwork.error") is None


def visible_edges(page) -> set[str]:
    return set(page.evaluate("tdkgNetwork.edges.getIds({filter: (e) => !e.hidden})"))


def visible_nodes(page) -> set[str]:
    return set(page.evaluate("tdkgNetwork.nodes.getIds({filter: (n) => !n.hidden})"))


def edge_id(row: dict) -> str:
    return f"{row['fact']} {row['from']} {row['to']}"


def interval(row: dict) -> tuple[float, float] | None:
    """The years a link covers, as the page reads them (independently written here)."""
    year, start, end = (int(row[k]) if k in row else None for k in ("year", "startYear", "endYear"))
    first = year if year is not None else start
    if first is None:
        return None
    return first, end if end is not None else (year if year is not None else math.inf)


def click_canvas_point(page, point: dict) -> None:
    """Click the page where the network draws the canvas point ``point``."""
    xy = page.evaluate("""(p) => { const d = tdkgNetwork.network.canvasToDOM(p);
        const r = document.querySelector('#network canvas').getBoundingClientRect();
        return {x: r.left + d.x, y: r.top + d.y}; }""", point)
    page.mouse.click(xy["x"], xy["y"])


def position(page, node: str) -> dict:
    return page.evaluate("(id) => tdkgNetwork.network.getPositions([id])[id]", node)


# ---- /network ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["embedded", "oxigraph"])
def test_the_network_draws_exactly_the_query_answers(kind, store_kinds, page, offsite_requests,
                                                      screenshot):
    """On the embedded store and over the Oxigraph server. (Over Virtuoso 7 the network has
    no dashed links: it answers the edges' boolean ``?inferred`` as 0 or 1; see the README.)"""
    live_server = store_kinds.server(kind)
    node_rows = live_server.select(query("network-nodes"))
    edge_rows = live_server.select(query("network-edges"))
    open_network(page, live_server)

    nodes = set(page.evaluate("tdkgNetwork.nodes.getIds()"))
    edges = set(page.evaluate("tdkgNetwork.edges.getIds()"))
    assert nodes == {r["node"] for r in node_rows} and len(nodes) == len(node_rows)
    assert edges == {edge_id(r) for r in edge_rows} and len(edges) == len(edge_rows)
    assert {TDI + "turkiye", TDI + "pakistan"} <= visible_nodes(page)
    for state in ("turkiye", "pakistan"):  # drawn somewhere real on the canvas
        p = position(page, TDI + state)
        assert math.isfinite(p["x"]) and math.isfinite(p["y"])
    labels = dict(page.evaluate("tdkgNetwork.nodes.get().map((n) => [n.id, n.label])"))
    assert labels[TDI + "turkiye"] == "Türkiye" and labels[TDI + "baykar"] == "Baykar"
    # at first everything linked is shown; actors without any link are hidden
    assert visible_edges(page) == edges
    linked = {r["from"] for r in edge_rows} | {r["to"] for r in edge_rows}
    assert visible_nodes(page) == linked

    # inferred links are dashed (and drawn in the inferred palette); asserted ones are not
    style = {e["id"]: e for e in page.evaluate(
        "tdkgNetwork.edges.get().map((e) => ({id: e.id, inferred: e.inferred, dashes: e.dashes,"
        " colour: e.color.color, kind: e.kind}))")}
    inferred = {edge_id(r) for r in edge_rows if r["inferred"] == "true"}
    assert inferred and inferred != edges
    for eid, e in style.items():
        assert e["inferred"] == (eid in inferred)
        assert bool(e["dashes"]) == (eid in inferred), eid
    assert not ({e["colour"] for e in style.values() if e["inferred"]}
                & {e["colour"] for e in style.values() if not e["inferred"]})
    # ... and vis-network itself was given the dashes
    drawn = page.evaluate("""(ids) => ids.map((id) => tdkgNetwork.network.body.edges[id].options.dashes)""",
                          sorted(inferred)[:5])
    assert all(drawn)
    assert page.locator("#edge-legend .inferred-kind").count() == 3
    assert page.locator("#edge-legend line[stroke-dasharray]").count() == 3

    summary = page.locator("#network-summary").inner_text()
    assert f"of {len(node_rows)} actors" in summary and f"{len(edge_rows)} of {len(edge_rows)} links" in summary
    screenshot("network")
    assert offsite_requests == []


def test_unticking_a_status_hides_exactly_its_links(live_server, page, offsite_requests):
    edge_rows = live_server.select(query("network-edges"))
    open_network(page, live_server)
    everything = visible_edges(page)
    for key in ("speculative", "officiallyDenied"):
        with_status = {edge_id(r) for r in edge_rows if r["status"] == TDKG + key}
        assert with_status, key
        before = visible_edges(page)
        page.locator(f"#status-filter input[data-status='{key}']").uncheck()
        assert visible_edges(page) == before - with_status
    # the denied partnership Türkiye–Pakistan (nuclear dimension) is gone, the reported ones stay
    remaining = visible_edges(page)
    assert not any(e.startswith(TDI + "f003-nuclear-dimension-denied ") for e in remaining)
    assert any(e.startswith(TDI + "f003-partnership-naval ") for e in remaining)
    # an actor whose only links were speculative or denied is hidden with them
    ends = {r["from"] for r in edge_rows if edge_id(r) in remaining} | \
        {r["to"] for r in edge_rows if edge_id(r) in remaining}
    assert visible_nodes(page) == ends
    page.locator("#status-filter input[data-status='speculative']").check()
    page.locator("#status-filter input[data-status='officiallyDenied']").check()
    assert visible_edges(page) == everything
    assert offsite_requests == []


def test_narrowing_the_period_hides_links_outside_it(live_server, page, offsite_requests,
                                                     screenshot):
    edge_rows = live_server.select(query("network-edges"))
    open_network(page, live_server)
    assert page.input_value("#year-from") == "1955" and page.input_value("#year-to") == "2025"

    page.fill("#year-from", "2022")
    page.fill("#year-to", "2023")
    expected = set()
    for row in edge_rows:
        span = interval(row)
        if span is None or (span[0] <= 2023 and span[1] >= 2022):
            expected.add(edge_id(row))
    assert visible_edges(page) == expected
    deal = f"{TDI}saudi-akinci-deal-2023 {TDI}turkiye {TDI}saudi-arabia"
    milgem = f"{TDI}pakistan-milgem-deal-2018 {TDI}turkiye {TDI}pakistan"
    assert deal in expected and milgem not in expected  # 2023 in, 2018 out
    # a relation with a start year and no end year runs on: Türkiye–Pakistan since 1955
    assert f"{TDI}f002-military-partnership-turkiye-pakistan {TDI}turkiye {TDI}pakistan" in expected

    page.locator("#include-undated").uncheck()
    dated = {e for e in expected
             if interval(next(r for r in edge_rows if edge_id(r) == e)) is not None}
    assert visible_edges(page) == dated and dated < expected
    assert all(interval(r) is not None for r in edge_rows if edge_id(r) in dated)
    screenshot("network-2022-2023-dated")
    page.locator("#include-undated").check()
    page.fill("#year-from", "1955")
    page.fill("#year-to", "2025")
    assert visible_edges(page) == {edge_id(r) for r in edge_rows}
    assert offsite_requests == []


def test_clicking_an_actor_or_a_link_leads_to_its_page(live_server, page, offsite_requests):
    open_network(page, live_server)
    click_canvas_point(page, position(page, TDI + "turkiye"))
    details = page.locator("#details")
    assert details.locator("h2").inner_text() == "Türkiye"
    link = details.locator("a.open-page")
    assert link.get_attribute("href") == "/id/turkiye"

    # a link alone between its two ends: click the middle of its line
    ends = [position(page, TDI + n) for n in ("otokar", "romania-mod")]
    click_canvas_point(page, {"x": (ends[0]["x"] + ends[1]["x"]) / 2,
                              "y": (ends[0]["y"] + ends[1]["y"]) / 2})
    assert "OTOKAR" in details.inner_text() and "reported" in details.inner_text()
    assert details.locator("a.open-page").get_attribute("href") == "/id/romania-otokar-cobra-2024"
    with page.expect_navigation():
        details.locator("a.open-page").click()
    assert page.url == f"{live_server.url}/page/id/romania-otokar-cobra-2024"

    # double-clicking an actor goes to its page
    page.go_back()
    page.wait_for_function("window.tdkgNetwork && window.tdkgNetwork.ready", timeout=30_000)
    p = position(page, TDI + "pakistan")
    xy = page.evaluate("""(p) => { const d = tdkgNetwork.network.canvasToDOM(p);
        const r = document.querySelector('#network canvas').getBoundingClientRect();
        return {x: r.left + d.x, y: r.top + d.y}; }""", p)
    with page.expect_navigation():
        page.mouse.dblclick(xy["x"], xy["y"])
    assert page.url == f"{live_server.url}/page/id/pakistan"
    assert offsite_requests == []


def test_an_inferred_link_explains_itself(live_server, page, offsite_requests):
    open_network(page, live_server)
    edge = page.evaluate("""tdkgNetwork.edges.get({filter: (e) => e.kind === 'state-level agreement'
        && e.from.endsWith('/kazakhstan') && e.to.endsWith('/turkiye')})[0].id""")
    # click a point of the (curved, dashed) line as vis-network draws it, where no other line
    # lies on top of it
    point = page.evaluate("""(id) => { const n = tdkgNetwork.network;
        for (const t of [0.5, 0.4, 0.6, 0.3, 0.7, 0.2, 0.8]) {
          const p = n.body.edges[id].edgeType.getPoint(t);
          if (n.getEdgeAt(n.canvasToDOM(p)) === id) return p;
        } return null; }""", edge)
    assert point is not None
    click_canvas_point(page, point)
    details = page.locator("#details")
    assert details.locator("h2").inner_text() == "state-level agreement"
    assert "Only in the inferred graph" in details.inner_text()
    why = details.locator("a.why").get_attribute("href")
    assert why.startswith("/why?") and "hasDefenceAgreementWith" in why
    with page.expect_navigation():
        details.locator("a.why").click()
    assert "/why?" in page.url and "asfat-yda-zenit-naval-2023" in page.content()
    assert offsite_requests == []


# ---- /timeline --------------------------------------------------------------------------------

def open_timeline(page, live_server) -> None:
    page.goto(f"{live_server.url}/timeline")
    page.wait_for_function(
        "window.tdkgTimeline && (window.tdkgTimeline.ready || window.tdkgTimeline.error)", timeout=30_000)
    assert page.evaluate("window.tdkgTimeline.error") is None


def test_the_timeline_draws_exactly_the_query_rows(live_server, page, offsite_requests, screenshot):
    rows = live_server.select(query("timeline"))
    open_timeline(page, live_server)
    items = {i["id"]: i for i in page.evaluate(
        "tdkgTimeline.items.get().map((i) => ({id: i.id, group: i.group, status: i.status,"
        " className: i.className, start: i.start.getFullYear(), end: i.end ? i.end.getFullYear() : null}))")}
    assert len(items) == len(rows) and set(items) == {r["fact"] for r in rows}
    for row in rows:
        item = items[row["fact"]]
        assert item["group"] == row["group"] and item["status"] == row["status"]
        assert item["className"] == "st-" + row["status"].rsplit("#", 1)[1]
        assert item["start"] == int(row["year"])
        if "endYear" in row and row["endYear"] != row["year"]:
            assert item["end"] == int(row["endYear"])
    groups = set(page.evaluate("tdkgTimeline.groups.getIds()"))
    assert groups == {r["group"] for r in rows}

    # the Saudi Akıncı deal of 2023 is drawn, in the agreements, and links to its page
    deal = TDI + "saudi-akinci-deal-2023"
    assert items[deal]["group"] == TDKG + "Agreement" and items[deal]["start"] == 2023
    link = page.locator('.vis-item a[href="/id/saudi-akinci-deal-2023"]')
    assert link.count() == 1 and "Akıncı" in link.text_content()
    assert link.is_visible()
    screenshot("timeline")
    with page.expect_navigation():
        link.click()
    assert page.url == f"{live_server.url}/page/id/saudi-akinci-deal-2023"
    assert offsite_requests == []


def test_the_timeline_status_filter(live_server, page, offsite_requests):
    rows = live_server.select(query("timeline"))
    open_timeline(page, live_server)
    shown = lambda: set(page.evaluate("tdkgTimeline.view.getIds()"))  # noqa: E731
    assert shown() == {r["fact"] for r in rows}
    claimed = {r["fact"] for r in rows if r["status"] == TDKG + "claimed"}
    assert claimed
    page.locator("#status-filter input[data-status='claimed']").uncheck()
    assert shown() == {r["fact"] for r in rows} - claimed
    assert page.locator('.vis-item a[href="/id/sami-technology-transfer-2025"]').count() == 0
    # a group left without items is hidden: training (only a claimed item)
    visible_groups = set(page.evaluate("tdkgTimeline.groups.getIds({filter: (g) => g.visible})"))
    assert TDKG + "Training" not in visible_groups and TDKG + "Agreement" in visible_groups
    page.locator("#status-filter input[data-status='claimed']").check()
    assert shown() == {r["fact"] for r in rows}
    # a click on the box beside its title selects the item and shows its details
    page.locator("#timeline .vis-item.vis-box", has_text="Akıncı").click(position={"x": 3, "y": 3})
    assert page.url == f"{live_server.url}/timeline"
    assert page.locator("#details a.open-page").get_attribute("href") == "/id/saudi-akinci-deal-2023"
    assert offsite_requests == []


def test_a_huge_label_is_drawn_shortened(page, hostile_server, screenshot, offsite_requests):
    """A 200 KB label in the data (the hostile build) does not stall the network view: the
    view draws it cut to its label limit, with an ellipsis."""
    open_network(page, hostile_server)
    label = page.evaluate(f"tdkgNetwork.nodes.get('{TDI}long-label-firm').label")
    limit = page.evaluate("tdkgViews.MAX_LABEL")
    assert label.startswith("Firm with a very long name") and label.endswith("…")
    assert len(label) <= limit
    screenshot("network-long-label")
    assert offsite_requests == []
